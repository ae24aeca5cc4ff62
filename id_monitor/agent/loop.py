"""The sidecar runtime behind `id-monitor run`: one loop over a source, checking, recording, committing.

    source.poll_batch ──▶ executor (this process, or the worker pool) ──▶ BatchResult
        ──▶ metrics.merge + violation records + flush ──▶ commit the batch's offsets (Kafka)

The loop knows neither which source it drives (a Kafka consumer of either client, or a stream of
JSON Lines: `sources.source.Source` and `CommittingSource`) nor where checking
happens: `InProcess` checks a batch at once; `WorkerPool` hands it to worker processes and the loop
polls the next batch meanwhile. Either way a batch's results are recorded (metrics merged, violation
records flushed) before its offsets are committed, so a crash replays at most one batch and never
skips a message. While a commit has failed (or went unanswered) and its offsets are still pending,
no further batch is recorded: the source is paused, the commit retried with backoff, and the batch
in hand waits (a rebalance meanwhile drops what it took away, `agent.dispatched`).

Nothing a message contains can stop the loop (the Checker counts it). Broker faults are handled by
the source (retries with backoff) and by the violation sink's flush (retried); both show on
`/readyz` and in `broker_lost` / `broker_reachable_again` log lines. SIGTERM finishes the batch, commits
and exits.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO, Any, BinaryIO

from id_monitor.agent.dispatched import Dispatched
from id_monitor.agent.workers import WorkerDied
from id_monitor.logs import Throttle, get_logger, log_event
from id_monitor.pipeline import BatchResult, Checker, Engine, Totals, build_engine
from id_monitor.sources.kafka import Backoff, kafka_source_label
from id_monitor.sources.source import Source
from id_monitor.sources.stream import STDIN_SOURCE, StreamSource

log = get_logger("agent")

__all__ = ["STDIN_SOURCE", "Agent", "AgentState", "InProcess", "kafka_source_label"]

LAG_INTERVAL_S = 2.0
POLL_TIMEOUT_MS = 500
SHUTDOWN_COMMIT_TIMEOUT_MS = 2000
COMMIT_TIMEOUT_MS = 2000
FLUSH_RETRY_S = 1.0
COMMIT_RETRY_BASE_S = 0.5  # a failed commit is retried after 0.5 s, 1 s, 2 s, ... up to the cap
COMMIT_RETRY_CAP_S = 5.0


class InProcess:
    """Checks each batch in this process, at once (`depth` 1: one batch in hand at a time)."""

    depth = 1

    def __init__(self, checker: Checker) -> None:
        self.checker = checker

    def submit(self, chunks: Sequence[Any], observed_ms: int) -> BatchResult:
        return self.checker.check_batch(chunks, observed_ms)

    def collect(self, handle: BatchResult) -> BatchResult:
        return handle

    def close(self) -> None:
        pass


@dataclass
class AgentState:
    """What /readyz and the closing log line report."""

    mode: str = "kafka"
    started: bool = False
    stopping: bool = False
    eof: bool = False
    last_commit_ok: bool = True
    sink_error: str | None = None  # the violation sink's flush is failing (why)
    batches: int = 0
    commits: int = 0
    records_emitted: int = 0
    pending_offsets: dict[Any, int] = field(default_factory=dict)


class StopAgent(Exception):
    """Raised from the signal handler to interrupt a blocking stdin read."""


class Agent:
    """The running agent. `run()` blocks until SIGTERM/SIGINT (or end of input in stream mode) and
    returns the exit code. Build with `Agent.from_config(config)`."""

    def __init__(self, engine: Engine, metrics: Any, source: Source, *, sink: Any = None, http: Any = None,
                 workers: int = 1, shapes: Any = None) -> None:
        self.engine = engine
        self.config = engine.config
        self.metrics = metrics
        self.source = source
        self.sink = sink
        self.http = http
        self.checker = Checker(engine)
        self.shapes = shapes  # a discover.ShapeTracker of unknown IDs, or None
        self.totals = Totals()
        self.state = AgentState(mode="stream" if isinstance(source, StreamSource) else "kafka")
        self.throttle = Throttle(log)
        self._stop = threading.Event()
        self._in_blocking_read = False
        self._lag_due = 0.0
        self._lag_partitions: set[Any] = set()
        self._lag_assigned: frozenset[Any] = frozenset()
        self._in_flight: Any = None  # the offset commit sent and not yet answered (Kafka)
        self._dispatched: deque[Dispatched] = deque()  # handed to the executor, not recorded yet
        self._holding = False  # the source is paused until the pending offsets are committed
        self._commit_backoff = Backoff(COMMIT_RETRY_BASE_S, COMMIT_RETRY_CAP_S)
        self._commit_retry_at = 0.0  # time.monotonic() when a failed commit may be sent again
        self._commit_failed = False  # the pending offsets include some whose commit failed
        self.workers = max(1, workers)  # Kafka mode: checking processes (1: check in this one)
        self.executor: Any = None
        self.exit_code = 0

    # -- construction -------------------------------------------------------------------

    @classmethod
    def from_config(cls, config: Any, *, input_stream: BinaryIO | None = None, output: IO[str] | None = None,
                    batch_size: int | None = None, registry: Any = None, serve_http: bool = True,
                    workers: int | None = None) -> Agent:
        from id_monitor.sinks.metrics import IdMetrics

        engine = build_engine(config)
        if config.kafka is not None:
            from id_monitor.sinks.violations import KafkaViolationSink
            from id_monitor.sources.kafka_client import open_kafka_source

            labels = [kafka_source_label(t) for t in config.kafka.topics]
            source: Source = open_kafka_source(config.kafka, batch_size=batch_size)
            sink = (KafkaViolationSink(config.kafka.bootstrap_servers, config.violations.topic, engine.redactor)
                    if config.violations is not None else None)
        else:
            from id_monitor.sinks.violations import StreamViolationSink

            labels = [STDIN_SOURCE]
            stream = input_stream if input_stream is not None else sys.stdin.buffer
            source = StreamSource(stream, config.limits.max_message_bytes)
            sink = StreamViolationSink(output or sys.stdout, engine.redactor) if config.violations is not None else None
        metrics = IdMetrics(config, engine.schema, labels, registry=registry, engine=engine.name)
        shapes = None
        spec = config.metrics.unknown_shapes
        if spec.enabled:
            from id_monitor.discover.metrics import UnknownShapesCollector
            from id_monitor.discover.tracker import ShapeTracker

            shapes = ShapeTracker(config.fields, min_support=spec.min_support, capacity=spec.capacity,
                                  top_n=spec.top)
            metrics.registry.register(UnknownShapesCollector(shapes, spec.top))
        agent = cls(engine, metrics, source, sink=sink, shapes=shapes,
                    workers=workers if workers is not None else (config.kafka.workers if config.kafka else 1))
        if config.kafka is not None:
            source.on_revoked = agent._on_revoked
        if serve_http:
            from id_monitor.agent.health import HealthServer

            documents = {"/debug/shapes": agent.shapes_document} if shapes is not None else {}
            agent.http = HealthServer(config.metrics.listen, metrics.registry, agent.readiness, agent.liveness,
                                      documents=documents)
        return agent

    # -- health ---------------------------------------------------------------------------

    def readiness(self) -> tuple[bool, str]:
        if self.state.stopping:
            return False, "stopping"
        if self.state.sink_error is not None:
            return False, f"violation records not delivered: {self.state.sink_error}"
        if self.state.mode == "stream":
            return (True, "ready: reading input") if self.state.started else (False, "starting")
        if not self.source.reachable:
            return False, "broker unreachable"
        assigned = self.source.assigned()
        if not assigned:
            return False, "no partitions assigned"
        return True, f"ready: {len(assigned)} partitions assigned"

    def liveness(self) -> tuple[bool, str]:
        return True, "alive"

    def shapes_document(self, query: str) -> tuple[bytes, str]:
        """`/debug/shapes[?top=N]`: the top unknown shapes per field, as `discover --json` objects
        (redacted examples, literals only above the support threshold)."""
        import orjson
        from urllib.parse import parse_qs

        top = self.shapes.top_n
        wanted = parse_qs(query).get("top", [""])[0]
        if wanted.isdigit():
            top = min(100, max(1, int(wanted)))
        return orjson.dumps(self.shapes.snapshot(top)), "application/json"

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
                      port=self.http.port, paths=["/metrics", "/healthz", "/readyz", *self.http.documents])
        self.state.started = True
        log_event(log, logging.INFO, "agent_started", mode=self.state.mode, pid=os.getpid(),
                  engine=self.engine.name, workers=self.workers if self.state.mode == "kafka" else 1)
        try:
            self.executor = self._executor()
            self._loop()
        except WorkerDied as exc:
            # The batch that worker held is not committed: the next run (or the new owner of its
            # partitions) checks it again. Exiting lets the supervisor restart a whole agent.
            log_event(log, logging.ERROR, "worker_died", error=str(exc))
            self.exit_code = 1
        except StopAgent:
            pass
        finally:
            self.state.stopping = True
            self._shutdown()
        return self.exit_code

    def _executor(self) -> Any:
        if self.workers > 1 and self.state.mode == "kafka":
            from id_monitor.agent.workers import WorkerPool

            level = logging.getLevelName(log.getEffectiveLevel()).lower()
            return WorkerPool(self.workers, self.config, self.metrics.sources, log_level=level)
        return InProcess(self.checker)

    def _poll(self) -> Any:
        if self.state.mode != "stream":
            return self.source.poll_batch(POLL_TIMEOUT_MS)
        self._in_blocking_read = True
        try:
            if self._stop.is_set():
                return None
            return self.source.poll_batch()
        finally:
            self._in_blocking_read = False

    def _loop(self) -> None:
        """Poll, check, record, commit. Batches handed to the executor and not recorded yet wait in
        `_dispatched`, oldest first: at most `depth` of them (1 in process; 2 with workers, so they
        check batch N+1 while this process records batch N). A batch is recorded only once the
        previous commit has succeeded, and committed only once recorded, so at most one recorded
        batch is ever uncommitted: the one-batch replay bound.

        A commit answered with an error, or not answered in time, leaves its offsets pending (commits
        are cumulative: the next one carries them). Until they are committed the loop records
        nothing more: the source is paused (its polls still serve the group, so a rebalance can
        happen), the commit is retried with backoff, and the batch in hand waits. Were it recorded,
        two recorded batches would be uncommitted, and a rebalance would replay both."""
        source, executor = self.source, self.executor
        depth = executor.depth
        dispatched = self._dispatched
        while True:
            stopping = self._stop.is_set()
            owed = self._hold_while_commit_owed()
            batch = None
            # While a commit is owed the paused source is still polled: that is where the clients
            # run rebalances (and librdkafka its callbacks).
            if not stopping and not self.state.eof and (len(dispatched) < depth or owed):
                batch = self._poll()
                if batch is not None:
                    observed_ms = int(time.time() * 1000)
                    dispatched.append(Dispatched(executor.submit(batch.chunks, observed_ms), batch.offsets,
                                                 batch.chunks, observed_ms))
                elif source.eof:
                    self.state.eof = True
            self._settle_commit(COMMIT_TIMEOUT_MS)
            owed = self._commit_owed()
            if dispatched and not owed and (len(dispatched) >= depth or batch is None or stopping):
                entry = dispatched.popleft()
                result = self._result_of(entry)
                if result is not None:
                    if not self._record(result):
                        break  # stopping with records unsent: leave the batch uncommitted
                    self.state.batches += 1
                    if entry.offsets:
                        # A rebalance since the batch was polled may have taken partitions away: their
                        # new owner checks them from the last commit; committing here could only fail
                        # or move that owner's offsets back.
                        assigned = source.assigned()
                        self.state.pending_offsets.update(
                            {tp: o for tp, o in entry.offsets.items() if tp in assigned})
            self._send_commit(owed)
            if stopping and owed:
                break  # the batches in hand stay unrecorded: they are checked again from the last commit
            if (stopping or self.state.eof) and not dispatched:
                break
            if owed and self._in_flight is None:
                # Until the retry is due; the paused source is polled again meanwhile.
                self._stop.wait(max(0.0, min(self._commit_retry_at - time.monotonic(), POLL_TIMEOUT_MS / 1000)))
            if self.state.mode == "kafka":
                self._maybe_update_lag()

    def _commit_owed(self) -> bool:
        """The last commit failed (or went unanswered) and offsets are still pending: nothing more
        may be recorded until they are committed."""
        return self._commit_failed and bool(self.state.pending_offsets)

    def _hold_while_commit_owed(self) -> bool:
        """Pause the source while a commit is owed, resume it once it is not; whether one is."""
        owed = self._commit_owed()
        if owed != self._holding:
            self._holding = owed
            if owed:
                self.source.pause()
                log_event(log, logging.WARNING, "records_held", reason="offsets not committed",
                          uncommitted_partitions=len(self.state.pending_offsets),
                          batches_in_hand=len(self._dispatched))
            else:
                self.source.resume()
                log_event(log, logging.INFO, "records_released", batches_in_hand=len(self._dispatched))
        return owed

    def _send_commit(self, owed: bool) -> None:
        """Send the pending offsets unless a commit is in flight, or a failed one is not due again."""
        if not self.state.pending_offsets or self._in_flight is not None:
            return
        if owed and time.monotonic() < self._commit_retry_at:
            return
        self._in_flight = self.source.commit_async(dict(self.state.pending_offsets), timeout_ms=COMMIT_TIMEOUT_MS)
        if self._in_flight is None and owed:  # not sent (the previous one is still unanswered)
            self._commit_retry_at = time.monotonic() + self._commit_backoff.next_delay()

    def _result_of(self, entry: Dispatched) -> BatchResult | None:
        """The batch's results, or None when a rebalance took all its partitions away: those the
        rebalance took are left to their new owner (`agent.dispatched`)."""
        result = self.executor.collect(entry.handle)
        if not entry.revoked:
            return result
        if not entry.chunks:
            log_event(log, logging.INFO, "batch_dropped", reason="partitions revoked", messages=entry.dropped)
            return None
        log_event(log, logging.INFO, "batch_trimmed", reason="partitions revoked", messages_dropped=entry.dropped,
                  messages_kept=sum(len(chunk.records) for chunk in entry.chunks))
        return self.checker.check_batch(entry.chunks, entry.observed_ms)

    def _record(self, result: BatchResult) -> bool:
        """A batch's results made visible: metrics merged, totals added, violation records sent and
        flushed. False when asked to stop before the records were out."""
        self.metrics.merge(result.metrics)
        self.totals.add(result.totals)
        if self.shapes is not None:
            observe = self.shapes.observe
            for finding in result.unknown:
                observe(finding.field, finding.value, finding.info)
        sink = self.sink
        if sink is None:
            return True
        for finding, where in result.violations:
            sink.emit(finding, where)
        self.state.records_emitted += len(result.violations)
        return self._flush_sink()

    def _kafka_state_changed(self, assigned: frozenset[Any] | None = None) -> None:
        """Refresh the assignment and broker gauges (Kafka mode)."""
        if self.state.mode == "kafka":
            topics = self.config.kafka.topics if self.config.kafka is not None else ()
            self.metrics.set_kafka_state(topics, self.source.assigned() if assigned is None else assigned,
                                         self.source.reachable and self.state.sink_error is None)

    def _flush_sink(self) -> bool:
        """Wait until the batch's violation records are out (offsets are committed only then),
        retrying; while it fails the agent is not ready and says why. False when asked to stop."""
        while True:
            try:
                self.sink.flush(timeout=10)
            except Exception as exc:
                if self.state.sink_error is None:
                    log_event(log, logging.WARNING, "broker_lost", component="violations",
                              error=type(exc).__name__)
                self.state.sink_error = type(exc).__name__
                self._kafka_state_changed()
                self.throttle.log(logging.WARNING, "violations_flush_failed", key="sink",
                                  error=f"{type(exc).__name__}: {exc}"[:200])
                if self._stop.wait(FLUSH_RETRY_S):
                    return False
                continue
            if self.state.sink_error is not None:
                self.state.sink_error = None
                self._kafka_state_changed()
                log_event(log, logging.INFO, "broker_reachable_again", component="violations")
            return True

    def _settle_commit(self, timeout_ms: int) -> None:
        """Collect the answer to the commit in flight, if any (see `_loop`)."""
        pending, self._in_flight = self._in_flight, None
        if pending is None:
            return
        ok = self.source.settle(pending, timeout_ms)
        self._committed(pending.offsets, ok)

    def _commit(self, timeout_ms: int) -> bool:
        offsets = dict(self.state.pending_offsets)
        ok = self.source.commit(offsets, timeout_ms=timeout_ms)
        self._committed(offsets, ok)
        return ok

    def _committed(self, offsets: dict[Any, int], ok: bool) -> None:
        """A commit's outcome: committed offsets leave `pending_offsets` unless a later batch of
        the same partition moved them on; failed ones stay and are sent again (`_loop`)."""
        self.state.last_commit_ok = ok
        self._commit_failed = not ok
        if not ok:
            self._commit_retry_at = time.monotonic() + self._commit_backoff.next_delay()
            return
        self._commit_backoff.reset()
        self.state.commits += 1
        for tp, off in offsets.items():
            if self.state.pending_offsets.get(tp) == off:
                del self.state.pending_offsets[tp]

    def _on_revoked(self, revoked: set[Any]) -> None:
        # Uncommitted offsets of partitions we lose are dropped: their new owner starts from the
        # last commit and re-checks them (at-least-once), it never skips them. So are the records of
        # those partitions in batches not recorded yet: they will be fetched and checked again.
        for tp in revoked:
            self.state.pending_offsets.pop(tp, None)
        for entry in self._dispatched:
            entry.revoke(revoked)
        if not self.state.pending_offsets:
            self._commit_failed = False  # nothing of the failed commit is ours to commit any more

    def _maybe_update_lag(self) -> None:
        """Every LAG_INTERVAL_S, and at once after a rebalance changed the assignment, so the lag
        series name exactly the partitions this replica owns."""
        now = time.monotonic()
        assigned = self.source.assigned()
        if now >= self._lag_due or assigned != self._lag_assigned:
            self._lag_due = now + LAG_INTERVAL_S
            self._lag_assigned = assigned
            self._update_lag()
            self._kafka_state_changed(assigned)

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
        if self.state.mode == "kafka":
            self._settle_commit(SHUTDOWN_COMMIT_TIMEOUT_MS)
            if self.state.pending_offsets:
                self._commit(timeout_ms=SHUTDOWN_COMMIT_TIMEOUT_MS)
        self.source.close(timeout_ms=1500)
        if self.executor is not None:
            self.executor.close()
        if self.sink is not None:
            try:
                self.sink.close()
            except Exception as exc:
                log_event(log, logging.WARNING, "violations_close_failed", error=f"{type(exc).__name__}: {exc}")
        if self.http is not None:
            self.http.stop()
        log_event(log, logging.INFO, "agent_stopped", mode=self.state.mode, eof=self.state.eof,
                  uncommitted_partitions=len(self.state.pending_offsets), batches=self.state.batches,
                  records_emitted=self.state.records_emitted, **self.totals.as_dict())
