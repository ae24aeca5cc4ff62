"""Checking over several processes (`id-monitor run --workers N`), for when one core is the limit.

Checking a message (decode, extract, classify, judge) is pure CPython work, so threads do not help;
processes do. The agent's main process keeps everything that talks to Kafka or serves HTTP: it
polls, hands each batch's records to the workers in contiguous slices, and while they check them it
polls the next batch. Each worker owns its own Judge and Classifier and counts into a private
IdMetrics; with its results it returns the counts it added since the last slice (a
`MetricsDelta`), its totals, and the violation findings with their offsets. The main process
merges the counts into the served metrics, produces the violation records and only then commits
the batch's offsets, exactly as with one process.

Owner-collision tracking (which owner an ID was first seen with) lives in each worker's Judge, so
with several workers a collision is found only when both messages reach the same worker.

Workers ignore SIGINT/SIGTERM (the main process decides when to stop) and exit when their pipe
closes, so a main process killed outright does not leave them behind. A worker that dies is
noticed by its process sentinel, never waited on forever: the main process raises `WorkerDied`,
and the batch it was checking is never committed.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import signal
import threading
from collections.abc import Sequence
from multiprocessing.connection import Connection, wait
from typing import Any

from id_monitor.logs import get_logger, log_event

log = get_logger("workers")

_CLOSE = object()  # tells a feeder thread to end
START_METHOD = "spawn"  # no inherited sockets, threads or locks from the main process
READY_TIMEOUT_S = 60.0


class WorkerDied(RuntimeError):
    """A worker process ended (or failed) while the main process waited for its results."""


class _Record:
    """What `Checker.check_records` reads of a Kafka record, cheap to pickle."""

    __slots__ = ("headers", "offset", "value")

    def __init__(self, value: bytes | None, headers: Any, offset: int) -> None:
        self.value, self.headers, self.offset = value, headers, offset


class _CollectingSink:
    """A violation sink that keeps what a worker found, for the main process to produce."""

    def __init__(self) -> None:
        self.found: list[tuple] = []

    def emit(self, finding: Any, *, source: str, observed_ms: int, topic: str | None,
             partition: int | None, offset: int | None) -> None:
        self.found.append((finding, source, observed_ms, topic, partition, offset))

    def flush(self, timeout: float | None = None) -> None:
        pass

    def close(self) -> None:
        pass


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM), in MB; NaN where /proc is missing."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _worker_main(conn: Connection, config_data: dict, sources: list[str], log_level: str,
                 with_sink: bool) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from prometheus_client import CollectorRegistry

    from id_monitor.agent import Checker
    from id_monitor.classify import Classifier
    from id_monitor.config import Config
    from id_monitor.logs import configure
    from id_monitor.metrics import IdMetrics
    from id_monitor.policy import Judge
    from id_monitor.schema import load_schema

    configure(log_level)
    config = Config.model_validate(config_data)
    schema = load_schema(config.schema)
    classifier = Classifier(schema, cache_size=config.limits.cache_size, max_length=config.limits.max_id_length)
    metrics = IdMetrics(config, schema, sources, registry=CollectorRegistry())
    sink = _CollectingSink() if with_sink else None
    checker = Checker(config, Judge(config, classifier), metrics, sink)
    conn.send(("ready", os.getpid()))
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return  # the main process is gone
        if task is None:
            return
        _, tasks = task
        before = checker.totals.as_dict()
        try:
            for label, topic, partition, rows, observed_ms in tasks:
                checker.check_records(label, topic, partition, [_Record(*row) for row in rows], observed_ms)
        except Exception as exc:  # check_records contains per-message faults; this is a bug
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
            return
        after = checker.totals.as_dict()
        found: list[tuple] = []
        if sink is not None:
            found, sink.found = sink.found, []
        conn.send(("done", [(metrics.take_delta(), {k: after[k] - before[k] for k in after}, found)],
                   peak_rss_mb()))


class WorkerPool:
    """`n` checking processes, each fed one slice of a batch at a time."""

    def __init__(self, n: int, config: Any, sources: Sequence[str], *, log_level: str = "warning",
                 with_sink: bool = False) -> None:
        context = multiprocessing.get_context(START_METHOD)
        data = config.model_dump(mode="json")
        self.processes: list[Any] = []
        self.conns: list[Connection] = []
        self.peak_rss_mb: dict[int, float] = {}
        for index in range(n):
            parent, child = context.Pipe()
            process = context.Process(target=_worker_main, name=f"id-monitor-worker-{index}",
                                      args=(child, data, list(sources), log_level, with_sink), daemon=True)
            process.start()
            child.close()
            self.processes.append(process)
            self.conns.append(parent)
        self._outboxes: list[queue.SimpleQueue] = [queue.SimpleQueue() for _ in range(n)]
        self._send_errors: list[str | None] = [None] * n
        self._feeders = [threading.Thread(target=self._feed, args=(index,), daemon=True,
                                          name=f"id-monitor-feed-{index}") for index in range(n)]
        for feeder in self._feeders:
            feeder.start()
        for index in range(n):
            kind, _pid = self._receive(index, timeout=READY_TIMEOUT_S)
            if kind != "ready":
                raise WorkerDied(f"worker {index} did not start")
        log_event(log, logging.INFO, "workers_started", workers=n,
                  pids=[p.pid for p in self.processes])

    def __len__(self) -> int:
        return len(self.processes)

    def submit(self, batch: dict[Any, list[Any]], label_of: Any, observed_ms: int) -> list[int]:
        """Send a polled batch to the workers in contiguous slices; the indexes of the workers
        that got one (each gets at most one, so each answers once)."""
        slices: list[tuple] = []
        for tp, records in batch.items():
            if records:
                slices.append((tp, records))
        n = len(self.processes)
        total = sum(len(r) for _, r in slices)
        per_worker = -(-total // n) if total else 0
        assignments: list[list[tuple]] = [[] for _ in range(n)]
        worker, room = 0, per_worker
        for tp, records in slices:
            start = 0
            while start < len(records):
                take = min(room, len(records) - start)
                part = records[start:start + take]
                assignments[worker].append((label_of(tp.topic), tp.topic, tp.partition,
                                            [(r.value, r.headers, r.offset) for r in part], observed_ms))
                start += take
                room -= take
                if room == 0 and worker < n - 1:
                    worker, room = worker + 1, per_worker
        used = []
        for index, tasks in enumerate(assignments):
            if not tasks:
                continue
            # One message per worker: several partitions' slices travel together.
            self._send(index, ("many", tasks))
            used.append(index)
        return used

    def _send(self, index: int, message: Any) -> None:
        # A slice is far larger than a pipe's buffer, and a busy worker reads it only when its
        # current slice is done: sending from a feeder thread lets this process go on polling.
        if self._send_errors[index] is not None:
            raise WorkerDied(f"worker {index} cannot be reached: {self._send_errors[index]}")
        self._outboxes[index].put(message)

    def _feed(self, index: int) -> None:
        outbox, conn = self._outboxes[index], self.conns[index]
        while True:
            message = outbox.get()
            if message is _CLOSE:
                return
            try:
                conn.send(message)
            except (OSError, ValueError) as exc:
                self._send_errors[index] = f"{type(exc).__name__}: {exc}"
                return  # the worker is gone; `collect` sees its sentinel

    def collect(self, used: list[int], stop_waiting: Any = None) -> list[tuple]:
        """Each used worker's results, in worker order: (delta, totals, found) per slice."""
        results: dict[int, list[tuple]] = {}
        waiting = set(used)
        while waiting:
            ready = wait([self.conns[i] for i in waiting] + [self.processes[i].sentinel for i in waiting],
                         timeout=1.0)
            for index in list(waiting):
                if self.conns[index] in ready:
                    results[index] = self._take(index)
                    waiting.discard(index)
                elif self.processes[index].sentinel in ready:
                    raise WorkerDied(f"worker {index} (pid {self.processes[index].pid}) exited with code "
                                     f"{self.processes[index].exitcode} while checking a batch")
        return [item for index in used for item in results[index]]

    def _receive(self, index: int, timeout: float) -> Any:
        conn, process = self.conns[index], self.processes[index]
        ready = wait([conn, process.sentinel], timeout=timeout)
        if conn in ready:
            try:
                return conn.recv()
            except (EOFError, OSError):
                pass
        raise WorkerDied(f"worker {index} (pid {process.pid}) did not answer; exit code {process.exitcode}")

    def _take(self, index: int) -> list[tuple]:
        try:
            reply = self.conns[index].recv()
        except (EOFError, OSError):
            raise WorkerDied(f"worker {index} (pid {self.processes[index].pid}) died while checking a batch") from None
        if reply[0] != "done":
            raise WorkerDied(f"worker {index} failed: {reply[1]}")
        _, parts, rss = reply
        self.peak_rss_mb[index] = rss
        return parts

    def close(self, timeout: float = 3.0) -> None:
        """Ask every worker to exit, then make sure they have (terminate, then kill)."""
        for outbox in self._outboxes:
            outbox.put(None)
            outbox.put(_CLOSE)
        for feeder in self._feeders:
            feeder.join(timeout / 2)
        for process in self.processes:
            process.join(timeout / 2)
            if process.is_alive():
                process.terminate()
                process.join(timeout / 2)
            if process.is_alive():
                process.kill()
                process.join(1.0)
        for conn in self.conns:
            conn.close()
