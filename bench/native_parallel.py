"""Parallel checking on the native engine: threads (the GIL is released while a batch is
checked) against worker processes, on the same generated file, in one run.

    python bench/native_parallel.py [--n 40000] [--batch 1000] [--workers 2]

Each contender checks every batch of the file once and merges the batch counts; reported as
wall seconds and messages per wall second. Processes pay for spawning, for each compiling its
own engine and for sending the batches and results across; threads share one compiled engine.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

from id_monitor.config import load_config
from id_monitor.traffic import generate_lines

NOW_MS = 1_757_930_000_000
_checker = None


def _check(batch: list[bytes]) -> Counter:
    global _checker
    if _checker is None:
        from id_monitor.native.engine import NativeChecker

        _checker = NativeChecker(load_config(None, env={}), track_owners=False)
    return Counter(_checker.check_batch(batch, NOW_MS).ids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=40_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    from id_monitor import native

    if not native.available():
        sys.exit(f"native_parallel: {native.unavailable_reason()}")
    cache = Path(__file__).resolve().parent.parent / ".cache"
    cache.mkdir(exist_ok=True)
    lines = [line.rstrip(b"\n") for line in generate_lines(args.n, seed=3, now_ms=NOW_MS)]
    batches = [lines[i:i + args.batch] for i in range(0, len(lines), args.batch)]
    _check(batches[0])  # compile the engine of this process before timing
    results = {}
    start = time.perf_counter()
    serial = sum(map(_check, batches), Counter())
    results["1 thread"] = time.perf_counter() - start
    with ThreadPoolExecutor(args.workers) as pool:
        start = time.perf_counter()
        threaded = sum(pool.map(_check, batches), Counter())
        results[f"{args.workers} threads"] = time.perf_counter() - start
    start = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        processed = sum(pool.map(_check, batches), Counter())
    results[f"{args.workers} processes (incl. start)"] = time.perf_counter() - start
    assert serial == threaded == processed, "every way must count the same IDs"
    print(f"{len(lines)} messages in {len(batches)} batches of {args.batch}")
    for name, wall in results.items():
        print(f"  {name:28s} {wall:7.2f} s wall  {len(lines) / wall:9.0f} msg/s  "
              f"{results['1 thread'] / wall:5.2f}x one thread")


if __name__ == "__main__":
    main()
