"""An offset commit sent and not yet answered, whichever client sent it.

The run loop sends a batch's commit before it polls the next batch and collects the answer after
(`CommittingSource.settle`): a Kafka 4 group coordinator holds each offset write for
`group.coordinator.append.linger.ms` (5 ms by default), so waiting for it inline would cost ~8 ms
per batch. The answer arrives on another thread (kafka-python's IO thread, or the confluent
source's committer thread), hence the event.
"""

from __future__ import annotations

import threading
from typing import Any


class PendingCommit:
    """The offsets of one commit and, once answered, whether the broker took them."""

    def __init__(self, offsets: dict[Any, int]) -> None:
        self.offsets = offsets
        self._done = threading.Event()
        self._error: BaseException | None = None
        self.reported = False  # a synchronous commit's failure is logged already

    @classmethod
    def settled(cls, offsets: dict[Any, int], ok: bool) -> PendingCommit:
        pending = cls(dict(offsets))
        pending.reported = True
        pending.resolve(None if ok else RuntimeError("synchronous commit failed"))
        return pending

    def resolve(self, value: Any) -> None:
        """The answer: an exception when the commit failed, anything else when it succeeded."""
        if isinstance(value, BaseException):
            self._error = value
        self._done.set()

    @property
    def answered(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout_ms: int) -> BaseException | None:
        """None once the broker took the offsets, else why not (a timeout included)."""
        if not self._done.wait(timeout_ms / 1000):
            return TimeoutError(f"no commit answer within {timeout_ms} ms")
        return self._error
