"""Run one fuzz target: coverage-guided with atheris (libFuzzer) when it is installed, else
hypothesis feeding the target random bytes.

    python -m fuzz.run TARGET [--runs N] [--seconds S] [--engine atheris|hypothesis]

The corpus is `fuzz/seeds/<target>/` (read, never written: the regression seeds) plus a working
corpus under `.cache/fuzz/<target>/` that grows across runs. A crash stops the run with exit code 1
and leaves its input at `.cache/fuzz/crashes/<target>-crash-<sha1>`; `scripts/fuzz` copies it into
the seeds. Output ends with one line `fuzz: <target> <runs> runs in <s> s, slowest <ms> ms, <n> crashes`.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "fuzz" / "seeds"
WORK = ROOT / ".cache" / "fuzz"
# Per target, the modules whose branches guide atheris (instrumented at import). Only the entry
# point's own modules: instrumenting everything makes every run several times slower.
INSTRUMENTED = {
    "classify_text": ["id_monitor.classify"],
    "classify_bytes": ["id_monitor.classify"],
    "message": ["id_monitor.extract", "id_monitor.judge", "id_monitor.pipeline", "id_monitor.sinks.metrics"],
    "config_yaml": ["id_monitor.config"],
    "schema_yaml": ["id_monitor.schema"],
    "record_reader": ["id_monitor.sources.files"],
    "http_request": ["id_monitor.sources.http", "id_monitor.sources.http_routes"],
    "discover_shapes": ["id_monitor.discover.tokenise", "id_monitor.discover.shapes"],
}
MAX_LEN = {"message": 16384, "record_reader": 2048, "config_yaml": 8192, "schema_yaml": 8192,
           "discover_shapes": 512}


class Timed:
    """Wraps a target: counts executions and keeps the slowest one (seconds, input length)."""

    def __init__(self, target, name: str, limit: int = 0) -> None:
        self.target, self.name, self.limit = target, name, limit
        self.runs, self.slowest, self.slowest_len = 0, 0.0, 0
        self.started = self.printed = time.perf_counter()

    def __call__(self, data: bytes) -> None:
        begin = time.perf_counter()
        self.target(data)
        took = time.perf_counter() - begin
        self.runs += 1
        if took > self.slowest and self.runs > 1:  # the first run builds the engines
            self.slowest, self.slowest_len = took, len(data)
        # libFuzzer ends the process itself: the summary is printed on the way, not at exit
        if self.runs == self.limit or begin - self.printed > 2:
            self.printed = begin
            print(self.summary(0), file=sys.stderr, flush=True)

    def summary(self, crashes: int) -> str:
        return (f"fuzz: {self.name} {self.runs} runs in {time.perf_counter() - self.started:.1f} s, slowest "
                f"{self.slowest * 1000:.2f} ms ({self.slowest_len} bytes), {crashes} crashes")


def seed_files(name: str) -> list[Path]:
    folder = SEEDS / name
    return sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


def run_atheris(name: str, runs: int, seconds: int, instrument: bool) -> int:
    import atheris

    from fuzz.targets import TARGETS

    if instrument:
        with atheris.instrument_imports(include=INSTRUMENTED[name]):
            for module in INSTRUMENTED[name]:
                importlib.import_module(module)
            TARGETS[name](b"")  # builds the engines, importing the rest uninstrumented

    timed = Timed(TARGETS[name], name, runs)
    work = WORK / name
    crashes = WORK / "crashes"
    work.mkdir(parents=True, exist_ok=True)
    crashes.mkdir(parents=True, exist_ok=True)
    args = [sys.argv[0], f"-max_len={MAX_LEN.get(name, 4096)}", "-timeout=20", "-rss_limit_mb=2048",
            f"-artifact_prefix={crashes}/{name}-", "-print_final_stats=1"]
    if runs:
        args.append(f"-runs={runs}")
    if seconds:
        args.append(f"-max_total_time={seconds}")
    args += [str(work)] + ([str(SEEDS / name)] if (SEEDS / name).is_dir() else [])

    atheris.Setup(args, timed)
    atheris.Fuzz()
    return 0


def run_hypothesis(name: str, runs: int, seconds: int) -> int:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from fuzz.targets import TARGETS

    timed = Timed(TARGETS[name], name)
    for seed in seed_files(name):
        timed(seed.read_bytes())
    deadline = time.monotonic() + seconds if seconds else None

    @settings(max_examples=runs or 10**9, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(st.binary(max_size=MAX_LEN.get(name, 4096) // 8))
    def fuzz(data: bytes) -> None:
        if deadline is not None and time.monotonic() > deadline:
            return
        timed(data)

    try:
        fuzz()
    except Exception as exc:  # noqa: BLE001 - hypothesis re-raises the shrunk failure, any type
        print(f"fuzz: {name} crashed: {type(exc).__name__}: {exc}", file=sys.stderr)
        print(timed.summary(1), file=sys.stderr)
        return 1
    print(timed.summary(0), file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    from fuzz.targets import TARGETS

    parser = argparse.ArgumentParser(prog="python -m fuzz.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("target", choices=sorted(TARGETS))
    parser.add_argument("--runs", type=int, default=0, help="stop after N executions (0: no limit)")
    parser.add_argument("--seconds", type=int, default=0, help="stop after S seconds (0: no limit)")
    parser.add_argument("--no-coverage", action="store_true",
                        help="atheris without instrumenting: mutations of the seeds only, several times "
                             "faster (the short CI run)")
    parser.add_argument("--engine", choices=("atheris", "hypothesis"), default=None,
                        help="default: atheris when it is installed")
    options = parser.parse_args(argv)
    if not options.runs and not options.seconds:
        parser.error("give --runs or --seconds")
    engine = options.engine
    if engine is None:
        try:
            import atheris  # noqa: F401
            engine = "atheris"
        except ImportError:
            engine = "hypothesis"
    logging.getLogger().addHandler(logging.NullHandler())  # logs are formatted, not printed
    if engine == "atheris":
        return run_atheris(options.target, options.runs, options.seconds, not options.no_coverage)
    return run_hypothesis(options.target, options.runs, options.seconds)


if __name__ == "__main__":
    sys.exit(main())
