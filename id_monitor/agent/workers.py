"""Checking over several processes (`id-monitor run --workers N`), for when one core is the limit.

Checking a message (decode, extract, classify, judge) is pure CPython work, so threads do not help;
processes do. The agent's main process keeps everything that talks to Kafka or serves HTTP: it
polls, hands each batch's records to the workers in contiguous slices, and while they check them it
polls the next batch. Each worker runs the same pipeline (`build_engine` + `Checker`) and returns
its slice's `BatchResult` (metrics counts, totals, violation findings with where they were seen).
The main process records them exactly as its own results (`Agent._record`) and only then commits
the batch's offsets.

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
from typing import TYPE_CHECKING, Any

from id_monitor.logs import get_logger, log_event

if TYPE_CHECKING:
    from id_monitor.pipeline import BatchResult

log = get_logger("workers")

_CLOSE = object()  # tells a feeder thread to end
START_METHOD = "spawn"  # no inherited sockets, threads or locks from the main process
READY_TIMEOUT_S = 60.0


class WorkerDied(RuntimeError):
    """A worker process ended (or failed) while the main process waited for its results."""


class _Record:
    """What the Checker reads of a Kafka record, cheap to pickle."""

    __slots__ = ("headers", "offset", "value")

    def __init__(self, value: bytes | None, headers: Any, offset: int) -> None:
        self.value, self.headers, self.offset = value, headers, offset


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


def _worker_main(conn: Connection, config_data: dict, log_level: str) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from id_monitor.config import Config
    from id_monitor.logs import configure
    from id_monitor.pipeline import Checker, build_engine
    from id_monitor.sources.batch import Chunk

    configure(log_level)
    checker = Checker(build_engine(Config.model_validate(config_data)))
    conn.send(("ready", os.getpid()))
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return  # the main process is gone
        if task is None:
            return
        slices, observed_ms = task
        try:
            chunks = [Chunk(label, topic, partition, [_Record(*row) for row in rows])
                      for label, topic, partition, rows in slices]
            result = checker.check_batch(chunks, observed_ms)
        except Exception as exc:  # check_batch contains per-message faults; this is a bug
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
            return
        conn.send(("done", result, peak_rss_mb()))


class WorkerPool:
    """`n` checking processes, each fed one slice of a batch at a time."""

    depth = 2  # batches in hand: the workers check batch N+1 while the agent records batch N

    def __init__(self, n: int, config: Any, sources: Sequence[str] = (), *, log_level: str = "warning") -> None:
        context = multiprocessing.get_context(START_METHOD)
        data = config.model_dump(mode="json")
        self.processes: list[Any] = []
        self.conns: list[Connection] = []
        self.peak_rss_mb: dict[int, float] = {}
        for index in range(n):
            parent, child = context.Pipe()
            process = context.Process(target=_worker_main, name=f"id-monitor-worker-{index}",
                                      args=(child, data, log_level), daemon=True)
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

    def submit(self, chunks: Sequence[Any], observed_ms: int) -> list[int]:
        """Send a polled batch to the workers in contiguous slices; the indexes of the workers
        that got one (each gets at most one, so each answers once)."""
        n = len(self.processes)
        total = sum(len(chunk.records) for chunk in chunks)
        per_worker = -(-total // n) if total else 0
        assignments: list[list[tuple]] = [[] for _ in range(n)]
        worker, room = 0, per_worker
        for chunk in chunks:
            records = chunk.records
            start = 0
            while start < len(records):
                take = min(room, len(records) - start)
                part = records[start:start + take]
                assignments[worker].append((chunk.source, chunk.topic, chunk.partition,
                                            [(r.value, r.headers, r.offset) for r in part]))
                start += take
                room -= take
                if room == 0 and worker < n - 1:
                    worker, room = worker + 1, per_worker
        used = []
        for index, slices in enumerate(assignments):
            if not slices:
                continue
            # One message per worker: several partitions' slices travel together.
            self._send(index, (slices, observed_ms))
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

    def collect(self, used: list[int]) -> BatchResult:
        """The used workers' results for one batch, added up in worker order."""
        from id_monitor.pipeline import BatchResult

        results: dict[int, BatchResult] = {}
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
        combined = BatchResult()
        for index in used:
            combined.add(results[index])
        return combined

    def _receive(self, index: int, timeout: float) -> Any:
        conn, process = self.conns[index], self.processes[index]
        ready = wait([conn, process.sentinel], timeout=timeout)
        if conn in ready:
            try:
                return conn.recv()
            except (EOFError, OSError):
                pass
        raise WorkerDied(f"worker {index} (pid {process.pid}) did not answer; exit code {process.exitcode}")

    def _take(self, index: int) -> Any:
        try:
            reply = self.conns[index].recv()
        except (EOFError, OSError):
            raise WorkerDied(f"worker {index} (pid {self.processes[index].pid}) died while checking a batch") from None
        if reply[0] != "done":
            raise WorkerDied(f"worker {index} failed: {reply[1]}")
        _, result, rss = reply
        self.peak_rss_mb[index] = rss
        return result

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
