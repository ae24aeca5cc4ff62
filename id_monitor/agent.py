"""The sidecar runtime behind `id-monitor run`: source loop, batching, commits, health server.

    source (Kafka batch | stdin line) -> Checker (decode -> judge -> metrics -> violation sink)
                                      -> commit the batch's offsets (Kafka only)

`Checker` is the per-message pipeline and knows nothing about where bytes come from. `Agent` owns
the loop: it polls a batch, checks every message, flushes violation records, and only then commits
the batch's next offsets, so a crash replays at most one batch and never skips a message.

Nothing a message contains can stop the loop: unreadable input is counted as `malformed`, null
values (tombstones) as `skipped`, and an unexpected error in checking one message is logged
(throttled) and counted as `malformed` too. Broker faults are handled by the source (retries with
backoff) and show on `/readyz`; SIGTERM finishes the batch, commits and exits.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, BinaryIO

from id_monitor.logs import Throttle, get_logger, log_event
from id_monitor.sources.stream import Oversized, read_lines
from id_monitor.workers import WorkerDied

log = get_logger("agent")

STDIN_SOURCE = "stdin"
LAG_INTERVAL_S = 2.0
POLL_TIMEOUT_MS = 500
SHUTDOWN_COMMIT_TIMEOUT_MS = 2000
COMMIT_TIMEOUT_MS = 2000


def kafka_source_label(topic: str) -> str:
    return f"kafka:{topic}"


def trace_id_from_headers(headers: Sequence[tuple[str, bytes]] | None) -> str | None:
    """The trace id of a W3C `traceparent` header (`00-<32 hex>-<16 hex>-<2 hex>`), if valid."""
    if not headers:
        return None
    for key, value in headers:
        if key == "traceparent" and value:
            try:
                text = value.decode("ascii") if isinstance(value, (bytes, bytearray)) else str(value)
            except UnicodeDecodeError:
                return None
            parts = text.strip().split("-")
            if len(parts) >= 4 and len(parts[1]) == 32 and parts[1] != "0" * 32:
                try:
                    int(parts[1], 16)
                except ValueError:
                    return None
                return parts[1].lower()
            return None
    return None


@dataclass
class Totals:
    """What this process has checked, for the closing log line and tests."""

    ok: int = 0
    malformed: int = 0
    skipped: int = 0
    violations: int = 0
    errors: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"ok": self.ok, "malformed": self.malformed, "skipped": self.skipped,
                "violations": self.violations, "errors": self.errors}


class Checker:
    """One message in, its results counted: decode -> judge -> metrics -> violation records."""

    def __init__(self, config: Any, judge: Any, metrics: Any, sink: Any = None,
                 clock: Callable[[], float] = time.time, throttle: Throttle | None = None) -> None:
        from id_monitor.extract import MalformedMessage, decode_message

        self.config = config
        self.judge = judge
        self.metrics = metrics
        self.sink = sink
        self.clock = clock
        self.totals = Totals()
        self.throttle = throttle or Throttle(log)
        self._decode = decode_message
        self._malformed_error = MalformedMessage
        self._max_bytes = config.limits.max_message_bytes
        self._max_depth = config.limits.max_depth

    def check(self, source: str, value: bytes | str | None, *, trace_id: str | None = None,
              topic: str | None = None, partition: int | None = None, offset: int | None = None,
              observed_ms: int | None = None) -> str:
        """Check one raw message; returns its result: ok | malformed | skipped."""
        if value is None:
            self.metrics.message(source, "skipped")
            self.totals.skipped += 1
            return "skipped"
        if observed_ms is None:
            observed_ms = int(self.clock() * 1000)
        exemplar = {"trace_id": trace_id} if trace_id is not None else None
        if not self._check_value(source, value, exemplar, topic, partition, offset, observed_ms):
            return "malformed"
        self.metrics.message(source, "ok")
        self.totals.ok += 1
        return "ok"

    def check_records(self, source: str, topic: str, partition: int, records: Sequence[Any],
                      observed_ms: int) -> None:
        """One partition's records from a poll: `check` for each. `ok` is counted once per call,
        after every record's results."""
        check_value = self._check_value
        ok = 0
        try:
            for item in records:
                value = item.value
                if value is None:
                    self.metrics.message(source, "skipped")
                    self.totals.skipped += 1
                    continue
                exemplar = None
                if item.headers:
                    trace_id = trace_id_from_headers(item.headers)
                    if trace_id is not None:
                        exemplar = {"trace_id": trace_id}
                if check_value(source, value, exemplar, topic, partition, item.offset, observed_ms):
                    ok += 1
        finally:
            if ok:
                self.metrics.message(source, "ok", ok)
                self.totals.ok += ok

    def _check_value(self, source: str, value: bytes | str, exemplar: dict[str, str] | None,
                     topic: str | None, partition: int | None, offset: int | None, observed_ms: int) -> bool:
        """decode -> judge -> metrics -> violation records for one message. False when it was
        malformed (already counted as such); the caller counts `ok`."""
        try:
            message = self._decode(value, self._max_bytes, self._max_depth)
        except self._malformed_error as exc:
            self.malformed(source, exc.reason, topic=topic, partition=partition, offset=offset,
                           observed_ms=observed_ms)
            return False
        try:
            report = self.judge.check(message, observed_ms)
            self.metrics.record(source, report, observed_ms, exemplar)
        except Exception as exc:  # a bug must cost one message, not the agent
            self.totals.errors += 1
            self.throttle.log(logging.ERROR, "check_failed", key="check_failed",
                              error=f"{type(exc).__name__}: {exc}", topic=topic, partition=partition,
                              offset=offset)
            self.malformed(source, "check_failed", topic=topic, partition=partition, offset=offset,
                           observed_ms=observed_ms)
            return False
        if report.findings and self.sink is not None:
            self._emit(report.findings, source, observed_ms, topic, partition, offset)
        return True

    def malformed(self, source: str, reason: str, *, topic: str | None = None, partition: int | None = None,
                  offset: int | None = None, observed_ms: int | None = None) -> None:
        """Count an unreadable message: messages_total{result=malformed} and a `malformed` finding."""
        if observed_ms is None:
            observed_ms = int(self.clock() * 1000)
        self.metrics.message(source, "malformed")
        self.totals.malformed += 1
        self.throttle.log(logging.WARNING, "malformed_message", key=f"malformed:{source}", source=source,
                          reason=reason, topic=topic, partition=partition, offset=offset)
        report = self.judge.malformed(reason)
        if report.findings:
            self.metrics.record(source, report, observed_ms)
            if self.sink is not None:
                self._emit(report.findings, source, observed_ms, topic, partition, offset)

    def _emit(self, findings: Iterable[Any], source: str, observed_ms: int, topic: str | None,
              partition: int | None, offset: int | None) -> None:
        for finding in findings:
            if finding.severity == "violation":
                self.sink.emit(finding, source=source, observed_ms=observed_ms, topic=topic,
                               partition=partition, offset=offset)
                self.totals.violations += 1


@dataclass
class AgentState:
    """What /readyz and the closing log line report."""

    mode: str = "kafka"
    started: bool = False
    stopping: bool = False
    eof: bool = False
    last_commit_ok: bool = True
    batches: int = 0
    commits: int = 0
    pending_offsets: dict[Any, int] = field(default_factory=dict)


class StopAgent(Exception):
    """Raised from the signal handler to interrupt a blocking stdin read."""


class Agent:
    """The running agent. `run()` blocks until SIGTERM/SIGINT (or end of input in stdin mode) and
    returns the exit code. Build with `Agent.from_config(config)`."""

    def __init__(self, config: Any, checker: Checker, metrics: Any, *, source: Any = None,
                 input_stream: BinaryIO | None = None, sink: Any = None, http: Any = None,
                 workers: int = 1) -> None:
        self.config = config
        self.checker = checker
        self.metrics = metrics
        self.source = source
        self.input_stream = input_stream
        self.sink = sink
        self.http = http
        self.state = AgentState(mode="kafka" if source is not None else "stream")
        self.throttle = Throttle(log)
        self._stop = threading.Event()
        self._in_blocking_read = False
        self._lag_due = 0.0
        self._lag_partitions: set[Any] = set()
        self._lag_assigned: frozenset[Any] = frozenset()
        self._in_flight: Any = None  # the offset commit sent and not yet answered (Kafka)
        self.workers = max(1, workers)  # Kafka mode: checking processes (1: check in this one)
        self.pool: Any = None
        self.exit_code = 0

    # -- construction -------------------------------------------------------------------

    @classmethod
    def from_config(cls, config: Any, *, input_stream: BinaryIO | None = None, output: IO[str] | None = None,
                    tuning: Any = None, registry: Any = None, serve_http: bool = True,
                    workers: int | None = None) -> Agent:
        from id_monitor.classify import Classifier
        from id_monitor.metrics import IdMetrics
        from id_monitor.policy import Judge
        from id_monitor.schema import load_schema

        schema = load_schema(config.schema)
        classifier = Classifier(schema, cache_size=config.limits.cache_size,
                                max_length=config.limits.max_id_length)
        judge = Judge(config, classifier)
        if config.kafka is not None:
            sources = [kafka_source_label(t) for t in config.kafka.topics]
        else:
            sources = [STDIN_SOURCE]
        metrics = IdMetrics(config, schema, sources, registry=registry)

        sink = None
        if config.violations is not None:
            if config.kafka is not None:
                from id_monitor.sinks.violations import KafkaViolationSink

                sink = KafkaViolationSink(config.kafka.bootstrap_servers, config.violations.topic)
            else:
                from id_monitor.sinks.violations import StreamViolationSink

                sink = StreamViolationSink(output or sys.stdout)
        checker = Checker(config, judge, metrics, sink)

        source = None
        if config.kafka is not None:
            from id_monitor.sources.kafka import KafkaSource

            source = KafkaSource(config.kafka.bootstrap_servers, config.kafka.group_id,
                                 list(config.kafka.topics), tuning)
        agent = cls(config, checker, metrics, source=source,
                    input_stream=input_stream if config.kafka is None else None, sink=sink,
                    workers=workers if workers is not None else (config.kafka.workers if config.kafka else 1))
        if source is not None:
            source.on_revoked = agent._on_revoked
        if serve_http:
            from id_monitor.health import HealthServer

            agent.http = HealthServer(config.metrics.listen, metrics.registry, agent.readiness,
                                      agent.liveness)
        return agent

    # -- health ---------------------------------------------------------------------------

    def readiness(self) -> tuple[bool, str]:
        if self.state.stopping:
            return False, "stopping"
        if self.source is None:
            return (True, "ready: reading input") if self.state.started else (False, "starting")
        if not self.source.reachable:
            return False, "broker unreachable"
        assigned = self.source.assigned()
        if not assigned:
            return False, "no partitions assigned"
        return True, f"ready: {len(assigned)} partitions assigned"

    def liveness(self) -> tuple[bool, str]:
        return True, "alive"

    # -- control --------------------------------------------------------------------------

    def stop(self) -> None:
        self._stop.set()

    def install_signal_handlers(self) -> None:
        def handle(signum: int, frame: Any) -> None:
            log_event(log, logging.INFO, "signal_received", signal=signal.Signals(signum).name)
            self._stop.set()
            self.state.stopping = True
            if self._in_blocking_read:
                raise StopAgent()

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)

    # -- the loop -------------------------------------------------------------------------

    def run(self) -> int:
        if self.http is not None:
            self.http.start()
            log_event(log, logging.INFO, "http_listening", listen=self.config.metrics.listen,
                      port=self.http.port, paths=["/metrics", "/healthz", "/readyz"])
        self.state.started = True
        log_event(log, logging.INFO, "agent_started", mode=self.state.mode, pid=os.getpid())
        try:
            if self.source is not None and self.workers > 1:
                self._run_kafka_workers()
            elif self.source is not None:
                self._run_kafka()
            else:
                self._run_stream()
        except WorkerDied as exc:
            # The batch that worker held is not committed: the next run (or the new owner of its
            # partitions) checks it again. Exiting lets the supervisor restart a whole agent.
            log_event(log, logging.ERROR, "worker_died", error=str(exc))
            self.exit_code = 1
        finally:
            self.state.stopping = True
            self._shutdown()
        return self.exit_code

    def _run_stream(self) -> None:
        stream = self.input_stream if self.input_stream is not None else sys.stdin.buffer
        checker = self.checker
        max_bytes = self.config.limits.max_message_bytes
        lines = read_lines(stream, max_bytes)
        line_number = 0
        try:
            while not self._stop.is_set():
                self._in_blocking_read = True
                try:
                    line = next(lines, None)
                finally:
                    self._in_blocking_read = False
                if line is None:
                    self.state.eof = True
                    break
                line_number += 1
                if isinstance(line, Oversized):
                    checker.malformed(STDIN_SOURCE, "too_large", offset=line_number)
                elif not line.strip():
                    checker.check(STDIN_SOURCE, None, offset=line_number)
                else:
                    checker.check(STDIN_SOURCE, line, offset=line_number)
        except StopAgent:
            pass
        if self.sink is not None:
            self.sink.flush()

    def _run_kafka(self) -> None:
        # One commit is in flight at a time: a batch's offsets are sent right after its results
        # are recorded, the next poll runs while the broker answers, and the next batch is checked
        # only once that answer is in. So a crash still replays at most one batch, and the
        # commit's round trip (~8 ms on a Kafka 4 coordinator) hides behind the poll.
        source = self.source
        check_records = self.checker.check_records
        labels: dict[str, str] = {}
        while not self._stop.is_set():
            batch = source.poll(POLL_TIMEOUT_MS)
            self._settle_commit(COMMIT_TIMEOUT_MS)
            if batch:
                offsets: dict[Any, int] = {}
                observed_ms = int(time.time() * 1000)
                for tp, records in batch.items():
                    topic = tp.topic
                    label = labels.get(topic) or labels.setdefault(topic, kafka_source_label(topic))
                    check_records(label, topic, tp.partition, records, observed_ms)
                    if records:
                        offsets[tp] = records[-1].offset + 1
                if self.sink is not None and not self._flush_sink():
                    break  # stopping with records unsent: leave the batch uncommitted
                self.state.batches += 1
                self.state.pending_offsets.update(offsets)
            if self.state.pending_offsets and self._in_flight is None:
                self._in_flight = source.commit_async(dict(self.state.pending_offsets),
                                                       timeout_ms=COMMIT_TIMEOUT_MS)
            self._maybe_update_lag()

    def _run_kafka_workers(self) -> None:
        """`_run_kafka` with checking in worker processes: while the workers check batch N, this
        process polls batch N+1 and hands it to them too, and the commit of batch N-1 is answered.
        Batch N's results are merged (metrics, violation records) only after that answer, and its
        offsets committed only after the merge, so at most one merged batch is ever uncommitted:
        the one-batch replay bound and at-least-once hold as with one process. (Results a worker
        computed but this process never merged die with it: they were never recorded.)"""
        from id_monitor.workers import WorkerPool

        level = logging.getLevelName(log.getEffectiveLevel()).lower()
        sources = [kafka_source_label(t) for t in self.config.kafka.topics]
        self.pool = pool = WorkerPool(self.workers, self.config, sources, log_level=level,
                                      with_sink=self.sink is not None)
        source, metrics, totals, sink = self.source, self.metrics, self.checker.totals, self.sink
        labels: dict[str, str] = {}

        def label_of(topic: str) -> str:
            return labels.get(topic) or labels.setdefault(topic, kafka_source_label(topic))

        # Batches handed to the workers and not merged yet, oldest first: at most two, so the
        # workers start on batch N+1 while this process merges batch N.
        dispatched: deque[tuple[list[int], dict[Any, int]]] = deque()
        while True:
            stopping = self._stop.is_set()
            batch = {} if stopping or len(dispatched) >= 2 else source.poll(POLL_TIMEOUT_MS)
            if batch:
                offsets = {tp: records[-1].offset + 1 for tp, records in batch.items() if records}
                dispatched.append((pool.submit(batch, label_of, int(time.time() * 1000)), offsets))
            self._settle_commit(COMMIT_TIMEOUT_MS)
            if dispatched and (len(dispatched) >= 2 or not batch or stopping):
                used, offsets = dispatched.popleft()
                for delta, counts, found in pool.collect(used):
                    metrics.merge(delta)
                    for name, value in counts.items():
                        setattr(totals, name, getattr(totals, name) + value)
                    for finding, label, observed_ms, topic, partition, offset in found:
                        sink.emit(finding, source=label, observed_ms=observed_ms, topic=topic,
                                  partition=partition, offset=offset)
                if sink is not None and not self._flush_sink():
                    break  # stopping with records unsent: leave the batch uncommitted
                self.state.batches += 1
                # A rebalance since the batch was handed out may have taken partitions away:
                # their new owner checks them from the last commit; committing here could only
                # fail or move that owner's offsets back.
                assigned = source.assigned()
                self.state.pending_offsets.update(
                    {tp: offset for tp, offset in offsets.items() if tp in assigned})
            if self.state.pending_offsets and self._in_flight is None:
                self._in_flight = source.commit_async(dict(self.state.pending_offsets),
                                                       timeout_ms=COMMIT_TIMEOUT_MS)
            if stopping and not dispatched:
                break
            self._maybe_update_lag()

    def _settle_commit(self, timeout_ms: int) -> None:
        """Collect the answer to the commit in flight, if any (see `_run_kafka`)."""
        pending, self._in_flight = self._in_flight, None
        if pending is None:
            return
        ok = self.source.settle(pending, timeout_ms)
        self._committed(pending.offsets, ok)

    def _flush_sink(self) -> bool:
        """Wait until the batch's violation records are out (offsets are committed only then).
        False when asked to stop before that."""
        while True:
            try:
                self.sink.flush(timeout=10)
                return True
            except Exception as exc:
                self.throttle.log(logging.WARNING, "violations_flush_failed", key="sink",
                                  error=f"{type(exc).__name__}: {exc}")
                if self._stop.wait(1.0):
                    return False

    def _commit(self, timeout_ms: int) -> bool:
        offsets = dict(self.state.pending_offsets)
        ok = self.source.commit(offsets, timeout_ms=timeout_ms)
        self._committed(offsets, ok)
        return ok

    def _committed(self, offsets: dict[Any, int], ok: bool) -> None:
        """A commit's outcome: committed offsets leave `pending_offsets` unless a later batch of
        the same partition moved them on; failed ones stay and go with the next commit."""
        self.state.last_commit_ok = ok
        if ok:
            self.state.commits += 1
            for tp, off in offsets.items():
                if self.state.pending_offsets.get(tp) == off:
                    del self.state.pending_offsets[tp]

    def _on_revoked(self, revoked: set[Any]) -> None:
        # Uncommitted offsets of partitions we lose are dropped: their new owner starts from the
        # last commit and re-checks them (at-least-once), it never skips them.
        for tp in revoked:
            self.state.pending_offsets.pop(tp, None)

    def _maybe_update_lag(self) -> None:
        """Every LAG_INTERVAL_S, and at once after a rebalance changed the assignment, so the lag
        series name exactly the partitions this replica owns."""
        now = time.monotonic()
        assigned = self.source.assigned()
        if now >= self._lag_due or assigned != self._lag_assigned:
            self._lag_due = now + LAG_INTERVAL_S
            self._lag_assigned = assigned
            self._update_lag()

    def _update_lag(self) -> None:
        lags = self.source.lag()
        if lags is None:
            return
        for tp, lag in lags.items():
            self.metrics.set_lag(tp.topic, tp.partition, lag)
        current = set(lags)
        for tp in self._lag_partitions - current:
            self.metrics.forget_partition(tp.topic, tp.partition)
        self._lag_partitions = current

    def _shutdown(self) -> None:
        if self.source is not None:
            self._settle_commit(SHUTDOWN_COMMIT_TIMEOUT_MS)
            if self.state.pending_offsets:
                self._commit(timeout_ms=SHUTDOWN_COMMIT_TIMEOUT_MS)
            self.source.close(timeout_ms=1500)
        if self.pool is not None:
            self.pool.close()
        if self.sink is not None:
            try:
                self.sink.close()
            except Exception as exc:
                log_event(log, logging.WARNING, "violations_close_failed", error=f"{type(exc).__name__}: {exc}")
        if self.http is not None:
            self.http.stop()
        log_event(log, logging.INFO, "agent_stopped", mode=self.state.mode, eof=self.state.eof,
                  uncommitted_partitions=len(self.state.pending_offsets), batches=self.state.batches,
                  **self.checker.totals.as_dict())
