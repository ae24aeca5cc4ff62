"""The confluent-kafka source: a librdkafka consumer in a consumer group, committing only what was
counted, with the same guarantees as the kafka-python source (`sources.kafka`).

Auto-commit is off and offsets are never stored automatically: the agent polls a batch, records
every message's results, flushes violation records, and only then commits the batch's next offsets.
A crash replays at most the batch that was in flight.

librdkafka answers an asynchronous commit only inside a later `consume()` call, and the loop must
know the answer before it records the next batch (the one-batch replay bound). So commits are
made synchronously on a committer thread of their own: sent before the next poll, answered while
it runs, collected by `settle` (the same `PendingCommit` the kafka-python source hands back).

librdkafka connects, reconnects and rejoins the group by itself; nothing here raises for a
missing broker. Its errors arrive through `error_cb` (inside `consume()`): they mark the broker
unreachable for /readyz until a round trip succeeds again (an assignment, a lag query, a commit).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, NamedTuple

from id_monitor.config import ConfigError
from id_monitor.logs import Throttle, get_logger, log_event
from id_monitor.sources.batch import Batch, Chunk
from id_monitor.sources.broker_contact import BrokerContact
from id_monitor.sources.kafka import kafka_source_label
from id_monitor.sources.pending_commit import PendingCommit

log = get_logger("kafka")

# librdkafka's error codes that mean "no broker to talk to" (confluent_kafka.KafkaError).
_BROKER_DOWN = ("_TRANSPORT", "_ALL_BROKERS_DOWN", "_RESOLVE")
# Those of a commit the group refused because it moved on (a rebalance): nothing about reachability.
_GROUP_CHANGED = ("REBALANCE_IN_PROGRESS", "ILLEGAL_GENERATION", "UNKNOWN_MEMBER_ID", "_ASSIGNMENT_LOST",
                  "FENCED_INSTANCE_ID", "STALE_MEMBER_EPOCH")
# librdkafka's syslog levels, as logging levels (its logs are forwarded, throttled).
_SYSLOG_LEVELS = {0: logging.CRITICAL, 1: logging.CRITICAL, 2: logging.CRITICAL, 3: logging.ERROR,
                  4: logging.WARNING, 5: logging.INFO, 6: logging.INFO, 7: logging.DEBUG}


def _error_name(error: BaseException) -> str:
    """librdkafka's error code name inside a KafkaException, else the exception's type name."""
    code = error.args[0] if error.args else None
    name = getattr(code, "name", None)
    return name() if callable(name) else type(error).__name__


class Partition(NamedTuple):
    """A topic partition as the loop sees it: equal to kafka-python's TopicPartition of the same
    topic and partition (both are plain tuples), hashable, cheap."""

    topic: str
    partition: int


class Record(NamedTuple):
    """What the Checker reads of a message (librdkafka's Message has methods, not attributes)."""

    value: bytes | None
    headers: Any
    offset: int


class _LibrdkafkaLog:
    """librdkafka's log lines as throttled `librdkafka` events (one per facility per interval):
    its reconnect messages would otherwise repeat every backoff while a broker is down."""

    def __init__(self, throttle: Throttle) -> None:
        self.throttle = throttle

    def log(self, level: int, fmt: str, *args: Any) -> None:
        syslog = _SYSLOG_LEVELS.get(level, level) if level < 10 else level
        facility = str(args[0]) if args else "log"
        message = (fmt % args) if args else fmt
        self.throttle.log(syslog, "librdkafka", key=f"librdkafka:{facility}", facility=facility,
                          message=message[:300])


class ConfluentSource:
    """One consumer group member over `topics` (a `sources.source.CommittingSource`). One loop
    drives it; `assigned()` and `reachable` are plain reads the health server may do from another
    thread."""

    def __init__(
        self,
        bootstrap_servers: str,
        group_id: str,
        topics: list[str],
        settings: dict[str, Any] | None = None,
        *,
        max_records: int = 2000,
        throttle: Throttle | None = None,
        on_revoked: Callable[[set[Any]], None] | None = None,
    ) -> None:
        from confluent_kafka import Consumer, KafkaException

        self.bootstrap_servers = bootstrap_servers
        self.group_id = group_id
        self.topics = list(topics)
        self.max_records = max_records
        self.throttle = throttle or Throttle(log)
        self.on_revoked = on_revoked
        self.contact = BrokerContact(log, self.throttle)
        self.eof = False  # a consumer group never ends
        self._assigned: frozenset[Partition] = frozenset()
        self._lock = threading.Lock()
        self._labels: dict[str, str] = {}
        self._commits: queue.SimpleQueue[tuple[PendingCommit, list[Any]] | None] = queue.SimpleQueue()
        self._committing: PendingCommit | None = None
        self._committer: threading.Thread | None = None
        self._stalled = False  # the loop stopped waiting for the commit in `_committing`
        self._paused = False  # the loop holds its records (`pause`)
        config = {
            "bootstrap.servers": bootstrap_servers,
            "group.id": group_id,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "enable.partition.eof": False,
            "log.connection.close": False,
            "error_cb": self._on_error,
            "logger": _LibrdkafkaLog(self.throttle),
            # `settings` (config.kafka_consumer.consumer_settings) are librdkafka's own names.
            **(settings or {}),
        }
        try:
            self.consumer: Any = Consumer(config)
        except (KafkaException, ValueError, TypeError) as exc:
            raise ConfigError(f"kafka.consumer: confluent-kafka rejected the consumer settings: {exc}") from None
        self.consumer.subscribe(self.topics, on_assign=self._on_assign, on_revoke=self._on_revoke,
                                on_lost=self._on_revoke)
        log_event(log, logging.INFO, "consumer_started", client="confluent-kafka",
                  bootstrap_servers=bootstrap_servers, group_id=group_id, topics=self.topics)

    # -- librdkafka's callbacks (run inside consume()) -------------------------------------

    def _on_assign(self, consumer: Any, partitions: list[Any]) -> None:
        assigned = frozenset(Partition(tp.topic, tp.partition) for tp in partitions)
        self._set_assigned(assigned)
        self.contact.reached()
        log_event(log, logging.INFO, "partitions_assigned",
                  partitions=sorted(f"{tp.topic}:{tp.partition}" for tp in assigned))

    def _on_revoke(self, consumer: Any, partitions: list[Any]) -> None:
        self._set_assigned(frozenset())
        if self._paused and partitions:
            # librdkafka keeps a partition paused across a reassignment and would resume it from
            # the position it was paused at; its next owner (this process too) must start from
            # the last commit instead.
            self._pause_call(consumer.resume, partitions)
        if self.on_revoked is not None:
            self.on_revoked({Partition(tp.topic, tp.partition) for tp in partitions})

    def _on_error(self, error: Any) -> None:
        name = error.name()
        if name in _BROKER_DOWN:
            self.contact.lost(f"{name}: {error.str()}", bootstrap_servers=self.bootstrap_servers)
            return
        self.throttle.log(logging.ERROR if error.fatal() else logging.WARNING, "kafka_error", key=f"error:{name}",
                          error=f"{name}: {error.str()}"[:300])

    @property
    def reachable(self) -> bool:
        """What the last broker round trip found (`sources.broker_contact`)."""
        return self.contact.reachable

    def _set_assigned(self, assigned: frozenset[Partition]) -> None:
        with self._lock:
            self._assigned = assigned

    def assigned(self) -> frozenset[Any]:
        with self._lock:
            return self._assigned

    # -- the loop's calls -----------------------------------------------------------------

    def pause(self) -> None:
        """No records until `resume()`; polls still serve the group and its callbacks. librdkafka
        drops what it prefetched for a paused partition and fetches again, once resumed, from the
        last message handed out. A partition assigned while paused is paused after its first batch
        (`poll_batch`)."""
        self._paused = True
        self._pause_call(self.consumer.pause, self.consumer.assignment())

    def resume(self) -> None:
        self._paused = False
        self._pause_call(self.consumer.resume, self.consumer.assignment())

    def _pause_call(self, call: Callable[[list[Any]], None], partitions: list[Any]) -> None:
        if not partitions:
            return
        try:
            call(partitions)
        except Exception as exc:  # KafkaException: a partition no longer assigned
            self.throttle.log(logging.WARNING, "pause_failed", key="pause", error=f"{type(exc).__name__}: {exc}"[:300])

    def label(self, topic: str) -> str:
        label = self._labels.get(topic)
        if label is None:
            label = self._labels[topic] = kafka_source_label(topic)
        return label

    def poll_batch(self, timeout_ms: int) -> Batch | None:
        """What is there within `timeout_ms` (at most `max_records`), as a Batch with a chunk per
        partition; None when nothing arrived, or while a commit the loop stopped waiting for is
        unanswered (so at most one recorded batch is ever uncommitted). It returns as soon as one message is there, with
        whatever else librdkafka has already fetched, rather than waiting to fill the batch."""
        busy = self._committing
        if self._stalled and busy is not None and not busy.answered:
            # The loop stopped waiting for the last commit (its call blocks on a coordinator that
            # is gone or moving): librdkafka's prefetched messages must wait too, or the loop
            # would record batch after batch that a rebalance then replays. A commit merely in
            # flight does not hold the poll: the loop settles it before it records the batch.
            busy.wait(timeout_ms)
            return None
        self._stalled = False
        consumer = self.consumer
        try:
            first = consumer.poll(timeout_ms / 1000)
            if first is None:
                return None
            messages = [first]
            if self.max_records > 1:
                messages += consumer.consume(self.max_records - 1, 0)
        except Exception as exc:  # KafkaException (fatal errors), RuntimeError (closed)
            self.throttle.log(logging.WARNING, "poll_failed", key="poll", error=f"{type(exc).__name__}: {exc}")
            return None
        if any([message.error() is not None for message in messages]):  # noqa: C419  (a list comprehension is faster here)
            for message in messages:
                if message.error() is not None:
                    self._message_error(message.error())
            messages = [message for message in messages if message.error() is None]
        records = self._by_partition(messages)
        if not records:
            return None
        self.contact.reached()
        chunks, offsets = [], {}
        for (topic, partition), bucket in records.items():
            chunks.append(Chunk(self.label(topic), topic, partition, bucket))
            offsets[Partition(topic, partition)] = bucket[-1].offset + 1
        if self._paused:  # partitions assigned since `pause()`: this batch, then no more
            from confluent_kafka import TopicPartition

            self._pause_call(consumer.pause, [TopicPartition(tp.topic, tp.partition) for tp in offsets])
        return Batch(chunks, offsets)

    @staticmethod
    def _by_partition(messages: list[Any]) -> dict[tuple[str, int], list[Record]]:
        """Records per (topic, partition), in message order. This runs for every message of every
        batch: one comprehension when the whole batch is of one partition, a loop otherwise."""
        new = tuple.__new__  # a named tuple built without its Python-level __new__
        keys = {(message.topic(), message.partition()) for message in messages}
        if len(keys) == 1:
            return {keys.pop(): [new(Record, (message.value(), message.headers(), message.offset()))
                                 for message in messages]}
        records: dict[tuple[str, int], list[Record]] = {}
        for message in messages:
            key = (message.topic(), message.partition())
            bucket = records.get(key)
            if bucket is None:
                bucket = records[key] = []
            bucket.append(new(Record, (message.value(), message.headers(), message.offset())))
        return records

    def _message_error(self, error: Any) -> None:
        if error.name() in _BROKER_DOWN:
            self._on_error(error)
        else:
            self.throttle.log(logging.WARNING, "consume_error", key=f"consume:{error.name()}",
                              error=f"{error.name()}: {error.str()}"[:300])

    def commit_async(self, offsets: dict[Any, int], timeout_ms: int = 5000) -> PendingCommit | None:
        """Hand a commit to the committer thread; None when there is nothing to commit or the
        previous commit is still unanswered (the caller keeps the offsets and tries again)."""
        if not offsets:
            return None
        if self._committing is not None and not self._committing.answered:
            return None
        from confluent_kafka import TopicPartition

        if self._committer is None:
            self._committer = threading.Thread(target=self._commit_forever, name="kafka-committer", daemon=True)
            self._committer.start()
        pending = PendingCommit(dict(offsets))
        self._committing = pending
        self._commits.put((pending, [TopicPartition(tp.topic, tp.partition, off) for tp, off in offsets.items()]))
        return pending

    def _commit_forever(self) -> None:
        from confluent_kafka import KafkaException

        while (item := self._commits.get()) is not None:
            pending, partitions = item
            try:
                answered = self.consumer.commit(offsets=partitions, asynchronous=False)
                failed = [tp for tp in answered or () if tp.error is not None]
                pending.resolve(KafkaException(failed[0].error) if failed else None)
            except Exception as exc:
                pending.resolve(exc)

    def settle(self, pending: PendingCommit, timeout_ms: int) -> bool:
        """Wait for a commit's answer; True when the broker took the offsets."""
        error = pending.wait(timeout_ms)
        if error is not None:
            self._stalled = not pending.answered
            if _error_name(error) not in _GROUP_CHANGED:
                self.contact.lost(f"{type(error).__name__}: {error}")
            self.throttle.log(logging.WARNING, "commit_failed", key="commit",
                              error=f"{type(error).__name__}: {error}"[:300], partitions=len(pending.offsets))
            return False
        self.contact.reached()
        self.throttle.reset("commit")
        return True

    def commit(self, offsets: dict[Any, int], timeout_ms: int = 5000) -> bool:
        """Commit and wait up to `timeout_ms` (shutdown). False (the caller keeps them) on failure."""
        if not offsets:
            return True
        busy = self._committing
        if busy is not None:
            busy.wait(timeout_ms)
        pending = self.commit_async(offsets, timeout_ms)
        return pending is not None and self.settle(pending, timeout_ms)

    def lag(self, timeout_ms: int = 1000) -> dict[Any, int] | None:
        """End offset minus position for each assigned partition; None if the broker did not
        answer (which also marks it unreachable). A partition not fetched from yet counts from
        its committed offset, else from where `auto.offset.reset` would start it."""
        from confluent_kafka import TopicPartition

        assigned = sorted(self.assigned())
        if not assigned:
            return {}
        timeout = timeout_ms / 1000
        try:
            positions = {Partition(tp.topic, tp.partition): tp.offset
                         for tp in self.consumer.position([TopicPartition(*p) for p in assigned])}
            unknown = [p for p in assigned if positions.get(p, -1) < 0]
            if unknown:
                for tp in self.consumer.committed([TopicPartition(*p) for p in unknown], timeout=timeout):
                    positions[Partition(tp.topic, tp.partition)] = tp.offset
            lags = {}
            for p in assigned:
                low, high = self.consumer.get_watermark_offsets(TopicPartition(*p), timeout=timeout, cached=False)
                position = positions.get(p, -1)
                lags[p] = max(0, high - (position if position >= 0 else low))
        except Exception as exc:  # KafkaException: timed out, broker gone
            self.contact.lost(f"{type(exc).__name__}: {exc}")
            return None
        self.contact.reached()
        return lags

    def close(self, timeout_ms: int = 3000) -> None:
        """Stop the committer (an unanswered commit is abandoned: its batch is replayed), then
        leave the group."""
        if self._committer is not None:
            self._commits.put(None)
            self._committer.join(timeout_ms / 1000)
            self._committer = None
        consumer, self.consumer = self.consumer, None
        if consumer is not None:
            try:
                consumer.close()
            except Exception as exc:
                log_event(log, logging.WARNING, "consumer_close_failed", error=f"{type(exc).__name__}: {exc}")
        self._set_assigned(frozenset())
