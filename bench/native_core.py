"""CPU per message of the native core alone, against orjson.loads of the same lines.

    python bench/native_core.py [--n 20000] [--rounds 7] [--batch 1000]

Two corpora of the traffic generator (as in bench/check.py): realistic (long-lived IDs recur
across messages) and all-unique (every ID new). Each round feeds the corpus in batches of
`batch` to `NativeChecker.check_batch` on a fresh checker (the core's per-batch caches start
empty in every batch, as in the agent), and to the core's own `check_batch` without the Python
wrapper ("core"). Figures are process CPU time per message, best of `rounds` interleaved
rounds, so time spent waiting for a core on a shared machine is not counted. The ratio
core / orjson says how many orjson parses one message's whole check costs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from check import interleaved  # noqa: E402  (the interleaved best-of-rounds timer the benchmarks share)

from id_monitor import native
from id_monitor.config import load_config
from id_monitor.traffic import Mix, generate_lines

NOW_MS = 1_757_930_000_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not native.available():
        sys.exit(f"native_core: {native.unavailable_reason()}")
    from id_monitor.native.engine import NativeChecker

    config = load_config(env={})
    corpora = {
        "realistic": Mix(),
        "all-unique": Mix(thread_messages=1, run_messages=1, connection_messages=1),
    }
    print(f"n={args.n} batch={args.batch} rounds={args.rounds}; CPU µs per message, best of rounds")
    for name, mix in corpora.items():
        lines = list(generate_lines(args.n, seed=args.seed, now_ms=NOW_MS, mix=mix))
        batches = [lines[i:i + args.batch] for i in range(0, len(lines), args.batch)]
        core = NativeChecker(config)._engine

        def floor() -> None:
            for line in lines:
                orjson.loads(line)

        def core_only() -> None:
            for batch in batches:
                core.check_batch(batch, NOW_MS, False)

        def checker() -> None:
            check = NativeChecker(config).check_batch
            for batch in batches:
                check(batch, NOW_MS, plain=True)

        seconds = interleaved(args.rounds, {"orjson.loads": floor, "core": core_only, "NativeChecker": checker})
        figures = {name: s / args.n * 1e6 for name, s in seconds.items()}
        print(f"{name} ({sum(map(len, lines)) / len(lines):.0f} bytes/message):")
        for run, us in figures.items():
            print(f"  {run:16s} {us:7.2f} µs/message  ({us / figures['orjson.loads']:.2f}x orjson)")


if __name__ == "__main__":
    main()
