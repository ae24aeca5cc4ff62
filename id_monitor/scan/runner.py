"""Run a scan: walk, then read + prefilter + parse in worker processes, then group.

Parsing is CPU-bound and Python's GIL would serialise it in threads, so files are handed to a
process pool in chunks (one pickle round-trip per chunk, not per file). Small scans stay in this
process: starting workers costs more than it saves below a few hundred files.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from id_monitor.scan.config import ScanConfig
from id_monitor.scan.read import FileScan, scan_file
from id_monitor.scan.results import ScanResult, build_result
from id_monitor.scan.targets import Targets
from id_monitor.scan.walk import Candidate, discover

Progress = Callable[[int, int], None]  # (files done, files total)
IN_PROCESS_BELOW = 300

_worker_targets: Targets | None = None
_worker_max_bytes: int = 0


def _init_worker(targets: Targets, max_bytes: int) -> None:
    global _worker_targets, _worker_max_bytes
    _worker_targets = targets
    _worker_max_bytes = max_bytes


def _scan_chunk(chunk: list[tuple[str, str]]) -> list[FileScan]:
    assert _worker_targets is not None
    return [scan_file(path, rel, _worker_targets, _worker_max_bytes) for path, rel in chunk]


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def scan_files(candidates: list[Candidate], config: ScanConfig, jobs: int, progress: Progress | None = None) -> list[FileScan]:
    total = len(candidates)
    if jobs <= 1 or total < IN_PROCESS_BELOW:
        out = []
        for i, c in enumerate(candidates, 1):
            out.append(scan_file(c.path, c.rel, config.targets, config.max_file_bytes))
            if progress is not None and (i % 64 == 0 or i == total):
                progress(i, total)
        return out
    size = max(16, min(256, total // (jobs * 8) or 16))
    chunks = [[(c.path, c.rel) for c in candidates[i : i + size]] for i in range(0, total, size)]
    results: list[list[FileScan] | None] = [None] * len(chunks)
    # fork: workers inherit the imported modules, so they start in milliseconds.
    context = multiprocessing.get_context("fork") if "fork" in multiprocessing.get_all_start_methods() else None
    done = 0
    try:
        with ProcessPoolExecutor(jobs, mp_context=context, initializer=_init_worker,
                                 initargs=(config.targets, config.max_file_bytes)) as pool:
            futures = {pool.submit(_scan_chunk, chunk): index for index, chunk in enumerate(chunks)}
            for future in as_completed(futures):
                index = futures[future]
                results[index] = future.result()
                done += len(chunks[index])
                if progress is not None:
                    progress(done, total)
    except BrokenProcessPool:
        # A worker died (e.g. killed by the OOM killer): finish what is left here, file by file.
        for index, chunk in enumerate(chunks):
            if results[index] is None:
                results[index] = [scan_file(path, rel, config.targets, config.max_file_bytes) for path, rel in chunk]
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
    return [scan for chunk in results if chunk is not None for scan in chunk]


def run_scan(paths: list[Path], root: Path, config: ScanConfig, jobs: int | None = None,
             progress: Progress | None = None, on_discovered: Callable[[int], None] | None = None) -> ScanResult:
    """Scan `paths` (files or directories) and group the results relative to `root`."""
    started = time.perf_counter()
    candidates, skipped = discover(paths, root, config.exclude_globs, config.max_file_bytes)
    if on_discovered is not None:
        on_discovered(len(candidates))
    scans = scan_files(candidates, config, jobs or default_jobs(), progress)
    return build_result(str(root), config, scans, skipped, time.perf_counter() - started)
