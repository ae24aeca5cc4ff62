"""The kafka-python source: a consumer in a consumer group, committing only what was counted.

Auto-commit is off. The agent polls a batch, records every message's results, flushes violation
records, and only then commits the batch's next offsets: at-least-once, never a skipped message.
A crash replays at most the batch that was in flight.

The broker may be missing at start or go away mid-run. Nothing here raises for that: creating the
consumer is retried with backoff, polls return nothing, commits report failure and are retried
with the next batch, and `reachable` says what the last broker round trip found, for /readyz.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from id_monitor.logs import Throttle, get_logger, log_event
from id_monitor.sources.batch import Batch, Chunk
from id_monitor.sources.broker_contact import BrokerContact
from id_monitor.sources.pending_commit import PendingCommit

__all__ = ["Backoff", "KafkaSource", "PendingCommit", "kafka_source_label"]

log = get_logger("kafka")

# kafka-python's errors for a commit the group refused because it moved on (a rebalance), not for
# want of a broker: they say nothing about reachability.
_GROUP_CHANGED = ("CommitFailedError", "RebalanceInProgressError", "IllegalGenerationError", "UnknownMemberIdError")


def kafka_source_label(topic: str) -> str:
    """The `source` label of a topic's messages."""
    return f"kafka:{topic}"


class Backoff:
    """Exponential backoff with a cap: 0.5 s, 1 s, 2 s, ... up to `cap`; `reset()` after success."""

    def __init__(self, base: float = 0.5, cap: float = 10.0) -> None:
        self.base, self.cap, self.failures = base, cap, 0

    def next_delay(self) -> float:
        delay = min(self.cap, self.base * (2 ** self.failures))
        self.failures += 1
        return delay

    def reset(self) -> None:
        self.failures = 0


class KafkaSource:
    """One consumer group member over `topics` (a `sources.source.CommittingSource`). Not
    thread-safe: one loop drives it; `assigned()` and `reachable` are plain reads that the health
    server may do from another thread."""

    def __init__(
        self,
        bootstrap_servers: str,
        group_id: str,
        topics: list[str],
        settings: dict[str, Any] | None = None,
        *,
        throttle: Throttle | None = None,
        on_revoked: Callable[[set[Any]], None] | None = None,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.group_id = group_id
        self.topics = list(topics)
        # kafka-python's own keyword arguments (config.kafka_consumer.consumer_settings).
        self.settings = dict(settings or {})
        self.throttle = throttle or Throttle(log)
        self.on_revoked = on_revoked
        self.consumer: Any = None
        self.contact = BrokerContact(log, self.throttle)
        self._assigned: frozenset[Any] = frozenset()
        self._backoff = Backoff()
        self._next_connect = 0.0
        self._lock = threading.Lock()
        self._labels: dict[str, str] = {}
        self._stalled: PendingCommit | None = None  # a commit the loop stopped waiting for
        self._paused = False  # the loop holds its records (`pause`)
        self.eof = False  # a consumer group never ends

    # -- connection ---------------------------------------------------------------------

    def connect(self) -> bool:
        """Create the consumer if there is none and the backoff allows; True when one exists."""
        if self.consumer is not None:
            return True
        now = time.monotonic()
        if now < self._next_connect:
            return False
        from kafka import KafkaConsumer
        from kafka.consumer.subscription_state import ConsumerRebalanceListener

        source = self

        class _Listener(ConsumerRebalanceListener):
            def on_partitions_revoked(self, revoked):
                source._set_assigned(frozenset())
                if source.on_revoked is not None:
                    source.on_revoked(set(revoked))

            def on_partitions_assigned(self, assigned):
                source._set_assigned(frozenset(assigned))
                if source._paused and assigned:
                    source.consumer.pause(*assigned)
                source.contact.reached()
                log_event(log, logging.INFO, "partitions_assigned",
                          partitions=sorted(f"{tp.topic}:{tp.partition}" for tp in assigned))

        try:
            consumer = KafkaConsumer(
                bootstrap_servers=self.bootstrap_servers,
                group_id=self.group_id,
                enable_auto_commit=False,
                bootstrap_timeout_ms=3000,
                # Its client-side metrics cost time per record and nothing here reads them.
                metrics_enabled=False,
                **self.settings,
            )
            consumer.subscribe(self.topics, listener=_Listener())
        except Exception as exc:  # NoBrokersAvailable, KafkaTimeoutError, DNS errors...
            delay = self._backoff.next_delay()
            self._next_connect = now + delay
            self.contact.lost(f"{type(exc).__name__}: {exc}", bootstrap_servers=self.bootstrap_servers,
                              retry_in_s=delay)
            return False
        self.consumer = consumer
        self.contact.reached()
        self._backoff.reset()
        log_event(log, logging.INFO, "consumer_started", client="kafka-python",
                  bootstrap_servers=self.bootstrap_servers, group_id=self.group_id, topics=self.topics)
        return True

    def _set_assigned(self, assigned: frozenset[Any]) -> None:
        with self._lock:
            self._assigned = assigned

    @property
    def reachable(self) -> bool:
        """What the last broker round trip found (`sources.broker_contact`)."""
        return self.contact.reachable

    def assigned(self) -> frozenset[Any]:
        with self._lock:
            return self._assigned

    # -- the loop's calls -----------------------------------------------------------------

    def poll_batch(self, timeout_ms: int) -> Batch | None:
        """One poll as a Batch (a chunk per partition, labelled `kafka:<topic>`), or None; None
        also while a commit the loop stopped waiting for is unanswered (so at most one recorded
        batch is ever uncommitted)."""
        if self._held_by_stalled_commit(timeout_ms):
            return None
        polled = self.poll(timeout_ms)
        if not polled:
            return None
        chunks, offsets = [], {}
        for tp, records in polled.items():
            if records:
                chunks.append(Chunk(self.label(tp.topic), tp.topic, tp.partition, records))
                offsets[tp] = records[-1].offset + 1
        return Batch(chunks, offsets) if chunks else None

    def _held_by_stalled_commit(self, timeout_ms: int) -> bool:
        """True (after waiting up to `timeout_ms`) while a commit the loop stopped waiting for is
        unanswered: a coordinator gone or moving may not answer for seconds, and the records
        kafka-python prefetched must wait too, or the loop would record batch after batch that a
        rebalance then replays. A commit merely in flight does not hold the poll: the loop
        settles it before it records the batch."""
        stalled = self._stalled
        if stalled is None:
            return False
        if not stalled.answered:
            stalled.wait(timeout_ms)
            if not stalled.answered:
                return True
        self._stalled = None
        return False

    def pause(self) -> None:
        """No records until `resume()`; polls still run the group (kafka-python drops what it
        fetched for a paused partition and fetches it again from the position once resumed)."""
        self._paused = True
        if self.consumer is not None:
            assigned = self.consumer.assignment()
            if assigned:
                self.consumer.pause(*assigned)

    def resume(self) -> None:
        self._paused = False
        if self.consumer is not None:
            paused = self.consumer.paused()
            if paused:
                self.consumer.resume(*paused)

    def label(self, topic: str) -> str:
        label = self._labels.get(topic)
        if label is None:
            label = self._labels[topic] = kafka_source_label(topic)
        return label

    def poll(self, timeout_ms: int) -> dict[Any, list[Any]]:
        """Records by TopicPartition; {} when there is nothing, no consumer yet, or a fault."""
        if not self.connect():
            time.sleep(min(timeout_ms / 1000, 0.2))
            return {}
        try:
            return self.consumer.poll(timeout_ms=timeout_ms)
        except Exception as exc:
            self.contact.lost(f"{type(exc).__name__}: {exc}")
            self.throttle.log(logging.WARNING, "poll_failed", key="poll", error=f"{type(exc).__name__}: {exc}")
            time.sleep(min(timeout_ms / 1000, 0.5))
            return {}

    def commit(self, offsets: dict[Any, int], timeout_ms: int = 5000) -> bool:
        """Commit next offsets per TopicPartition. False (and the caller keeps them) on failure."""
        if not offsets or self.consumer is None:
            return not offsets
        from kafka.structs import OffsetAndMetadata

        try:
            self.consumer.commit(
                {tp: OffsetAndMetadata(off, "", -1) for tp, off in offsets.items()}, timeout_ms=timeout_ms
            )
        except Exception as exc:
            self._commit_failed(exc, len(offsets))
            return False
        self.contact.reached()
        self.throttle.reset("commit")
        return True

    def commit_async(self, offsets: dict[Any, int], timeout_ms: int = 5000) -> PendingCommit | None:
        """Send a commit of next offsets per TopicPartition without waiting for the broker's
        answer; `PendingCommit.wait()` collects it. None when it could not be sent (the caller
        keeps the offsets and tries again).

        Why: a Kafka 4 group coordinator holds each offset write for
        `group.coordinator.append.linger.ms` (5 ms by default) before it answers, so a synchronous
        commit costs ~8 ms however small. Sent before the next poll, its answer arrives on the
        consumer's IO thread while the poll runs."""
        if not offsets or self.consumer is None:
            return None
        from kafka.structs import OffsetAndMetadata

        coordinator = getattr(self.consumer, "_coordinator", None)
        if coordinator is None or coordinator.coordinator_unknown():
            # kafka-python would hand back the coordinator lookup's future instead of the
            # commit's; commit synchronously (it finds the coordinator itself).
            ok = self.commit(offsets, timeout_ms=timeout_ms)
            return PendingCommit.settled(offsets, ok)
        try:
            future = self.consumer.commit_async(
                {tp: OffsetAndMetadata(off, "", -1) for tp, off in offsets.items()})
        except Exception as exc:
            self._commit_failed(exc, len(offsets))
            return None
        pending = PendingCommit(dict(offsets))
        future.add_both(pending.resolve)
        return pending

    def settle(self, pending: PendingCommit, timeout_ms: int) -> bool:
        """Wait for an asynchronous commit's answer; True when the broker took the offsets."""
        error = pending.wait(timeout_ms)
        if error is not None:
            if not pending.answered:
                self._stalled = pending
            if not pending.reported:
                self._commit_failed(error, len(pending.offsets))
            return False
        self.contact.reached()
        self.throttle.reset("commit")
        return True

    def _commit_failed(self, exc: BaseException, partitions: int) -> None:
        if type(exc).__name__ not in _GROUP_CHANGED:
            self.contact.lost(f"{type(exc).__name__}: {exc}")
        self.throttle.log(logging.WARNING, "commit_failed", key="commit",
                          error=f"{type(exc).__name__}: {exc}", partitions=partitions)

    def lag(self, timeout_ms: int = 1000) -> dict[Any, int] | None:
        """End offset minus position for each assigned partition; None if the broker did not
        answer (which also marks the broker unreachable)."""
        if self.consumer is None:
            return None
        assigned = list(self.assigned())
        if not assigned:
            return {}
        try:
            ends = self.consumer.end_offsets(assigned, timeout_ms=timeout_ms)
            lags = {}
            for tp in assigned:
                # Known locally after the first fetch; a short bound keeps many partitions cheap.
                position = self.consumer.position(tp, timeout_ms=100)
                end = ends.get(tp)
                if position is not None and end is not None:
                    lags[tp] = max(0, end - position)
        except Exception as exc:
            self.contact.lost(f"{type(exc).__name__}: {exc}")
            return None
        self.contact.reached()
        return lags

    def close(self, timeout_ms: int = 3000) -> None:
        if self.consumer is not None:
            try:
                self.consumer.close(autocommit=False, timeout_ms=timeout_ms)
            except Exception as exc:
                log_event(log, logging.WARNING, "consumer_close_failed", error=f"{type(exc).__name__}: {exc}")
            self.consumer = None
        self._set_assigned(frozenset())
