"""Whether a Kafka source's broker answered its last round trip, and the log lines that owes.

Any round trip can be the first to notice a broker gone (a poll, a commit, a lag query, a client
error callback) and any can be the first to see it back. Whichever it is, on-call reads one story:
`broker_unreachable` (throttled) until the first contact, then `broker_lost` once per outage and
`broker_reachable_again` once it ends. Both Kafka sources report through this one object so no
path can turn the broker unreachable without saying so.
"""

from __future__ import annotations

import logging
from typing import Any

from id_monitor.logs import Throttle, log_event


class BrokerContact:
    """`reachable` is a plain read from any thread (/readyz); the changes come from the loop's thread
    and, for librdkafka, its callbacks, which run inside the loop's poll."""

    def __init__(self, log: logging.Logger, throttle: Throttle) -> None:
        self.log = log
        self.throttle = throttle
        self.reachable = False
        self.contacted = False  # some round trip has succeeded since start

    def reached(self) -> None:
        """A round trip succeeded."""
        if self.reachable:
            return
        if self.contacted:
            log_event(self.log, logging.INFO, "broker_reachable_again")
        self.throttle.reset("broker")
        self.contacted = True
        self.reachable = True

    def lost(self, error: str, **fields: Any) -> None:
        """A round trip failed for want of a broker: `broker_lost` once per outage after the first
        contact, throttled `broker_unreachable` before it."""
        if self.contacted:
            if self.reachable:
                log_event(self.log, logging.WARNING, "broker_lost", error=error[:300])
        else:
            self.throttle.log(logging.WARNING, "broker_unreachable", key="broker", error=error[:300], **fields)
        self.reachable = False
