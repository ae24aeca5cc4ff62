"""A long, coverage-guided fuzz campaign over several targets (what `scripts/fuzz` runs).

    python -m fuzz.campaign --minutes N [--jobs J] [TARGET ...]

Each target runs N minutes under atheris with its own modules instrumented (fuzz/run.py), J at a
time. A crashing input is copied into `fuzz/seeds/<target>/crash-<sha1>`, so the CI test replays it
from then on (fix the defect first: the replay fails until then). The table at the end gives, per
target, the executions, the slowest single execution and the crashes; docs/reliability.md keeps
the figures of the last campaign.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from fuzz.run import ROOT, SEEDS, WORK
from fuzz.targets import TARGETS

SUMMARY = re.compile(r"^fuzz: (\S+) (\d+) runs in ([\d.]+) s, slowest ([\d.]+) ms \((\d+) bytes\)", re.MULTILINE)


def run_one(name: str, minutes: float) -> tuple[str, int, float, float, list[str]]:
    crashes = WORK / "crashes"
    before = set(crashes.glob(f"{name}-*")) if crashes.is_dir() else set()
    done = subprocess.run([sys.executable, "-m", "fuzz.run", name, "--seconds", str(int(minutes * 60))], check=False,
                          cwd=ROOT, capture_output=True, text=True)
    found = SUMMARY.findall(done.stderr)
    runs, seconds, slowest = (int(found[-1][1]), float(found[-1][2]), float(found[-1][3])) if found else (0, 0, 0)
    kept = []
    for crash in sorted(set(crashes.glob(f"{name}-*")) - before) if crashes.is_dir() else []:
        target = SEEDS / name / crash.name.removeprefix(f"{name}-")
        shutil.copyfile(crash, target)
        kept.append(str(target.relative_to(ROOT)))
    if done.returncode != 0 and not kept:
        kept.append(f"exit {done.returncode}: {done.stderr.strip().splitlines()[-1:]}")
    return name, runs, seconds, slowest, kept


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/fuzz", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, required=True, help="minutes per target")
    parser.add_argument("--jobs", type=int, default=2, help="targets run at the same time (default 2)")
    parser.add_argument("targets", nargs="*", choices=[[], *sorted(TARGETS)], metavar="TARGET",
                        help=f"default: all ({', '.join(sorted(TARGETS))})")
    options = parser.parse_args(argv)
    names = options.targets or sorted(TARGETS)
    with ThreadPoolExecutor(max(1, options.jobs)) as pool:
        results = list(pool.map(lambda n: run_one(n, options.minutes), names))
    print(f"{'target':<16} {'executions':>11} {'seconds':>8} {'slowest ms':>11}  crashes")
    for name, runs, seconds, slowest, kept in results:
        print(f"{name:<16} {runs:>11,} {seconds:>8.0f} {slowest:>11.2f}  {len(kept)} {' '.join(kept)}")
    return 1 if any(kept for *_, kept in results) else 0


if __name__ == "__main__":
    sys.exit(main())
