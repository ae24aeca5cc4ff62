"""Reachability and its log lines: whichever round trip notices the broker gone first (a poll, a
commit, a lag query, librdkafka's error callback), on-call reads `broker_lost` once per outage and
`broker_reachable_again` once it ends, on both Kafka sources.

The regression behind it: a failed commit used to turn the broker unreachable without a word, and
the lag query that followed saw it unreachable already, so a whole outage went unlogged."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from id_monitor.logs import Throttle
from id_monitor.sources.broker_contact import BrokerContact
from id_monitor.sources.pending_commit import PendingCommit

log = logging.getLogger("id_monitor.test_contact")


def _events(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("id_monitor")]


@given(st.lists(st.booleans(), max_size=40))
def test_one_lost_per_outage_and_one_back_per_recovery(round_trips: list[bool]) -> None:
    """For any sequence of round trips (True: answered), the log tells exactly the outages after
    the first contact, and `reachable` is what the last round trip found."""
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    handler = Collect()
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        contact = BrokerContact(log, Throttle(log, interval=3600))
        for answered in round_trips:
            contact.reached() if answered else contact.lost("KafkaTimeoutError: no answer")
    finally:
        log.removeHandler(handler)
    first = round_trips.index(True) if True in round_trips else len(round_trips)
    expected: list[str] = ["broker_unreachable"] if first > 0 else []
    previous = True
    for answered in round_trips[first + 1:]:
        if previous and not answered:
            expected.append("broker_lost")
        elif answered and not previous:
            expected.append("broker_reachable_again")
        previous = answered
    assert records == expected
    assert contact.reachable == (bool(round_trips) and round_trips[-1])


def test_kafka_python_commit_failure_after_contact_is_a_lost_broker(caplog: pytest.LogCaptureFixture) -> None:
    from kafka.errors import CommitFailedError, KafkaTimeoutError

    from id_monitor.sources.kafka import KafkaSource

    caplog.set_level(logging.INFO, logger="id_monitor")
    source = KafkaSource("127.0.0.1:9", "g", ["t"])
    source.contact.reached()  # the consumer was created and joined
    source._commit_failed(KafkaTimeoutError("commit"), 3)
    assert not source.reachable
    assert _events(caplog).count("broker_lost") == 1
    source.consumer = object()  # a lag query that fails: the outage is logged already
    source._set_assigned(frozenset({("t", 0)}))
    assert source.lag() is None
    assert _events(caplog).count("broker_lost") == 1
    source.contact.reached()
    assert _events(caplog)[-1] == "broker_reachable_again"
    # A commit refused because the group moved on says nothing about the broker.
    source._commit_failed(CommitFailedError("rebalanced"), 3)
    assert source.reachable and _events(caplog).count("broker_lost") == 1


def test_confluent_commit_failure_after_contact_is_a_lost_broker(caplog: pytest.LogCaptureFixture) -> None:
    from confluent_kafka import KafkaError, KafkaException

    from id_monitor.sources.kafka_confluent import ConfluentSource

    caplog.set_level(logging.INFO, logger="id_monitor")
    source = ConfluentSource("127.0.0.1:9", "g", ["t"], {"log_level": 0})
    try:
        source._on_assign(None, [])
        rebalanced = PendingCommit({("t", 0): 5})
        rebalanced.resolve(KafkaException(KafkaError(KafkaError.REBALANCE_IN_PROGRESS)))
        assert source.settle(rebalanced, 100) is False
        assert source.reachable and "broker_lost" not in _events(caplog)
        unanswered = PendingCommit({("t", 0): 5})
        assert source.settle(unanswered, 10) is False
        assert not source.reachable and _events(caplog).count("broker_lost") == 1
        source._on_error(KafkaError(KafkaError._ALL_BROKERS_DOWN))
        assert _events(caplog).count("broker_lost") == 1
    finally:
        source._stalled = False
        source.close()
