"""The agent on a file (`id-monitor run --input`) against `id-monitor check` on the same file.

    python bench/stdin.py [--n 100000] [--repeat 3]

Both commands run as child processes over the same generated JSON Lines file; measured per run:
CPU seconds of the child (user + sys) and wall seconds, best of `repeat` interleaved runs, and for
the agent the time from its `agent_stopped` log line to the process's exit (how long it lingers).
The agent also serves /metrics (on a free loopback port) and counts metrics; `check` writes its
findings as JSON to /dev/null. The ratio printed is agent CPU / check CPU (target <= 1.0).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from id_monitor.traffic import generate_lines  # noqa: E402


def child_cpu(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(cpu seconds, wall seconds, stderr) of one child run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    done = subprocess.run(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall, done.stderr


def linger_s(stderr: str, exited_at: float) -> float:
    """Seconds from the agent's agent_stopped log line to its exit (wall clock)."""
    for line in stderr.splitlines():
        if '"agent_stopped"' in line:
            stamp = datetime.fromisoformat(json.loads(line)["ts"]).timestamp()
            return max(0.0, exited_at - stamp)
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    env = {**os.environ, "ID_MONITOR_METRICS__LISTEN": "127.0.0.1:0"}
    cli = [sys.executable, "-m", "id_monitor"]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "messages.jsonl"
        with path.open("wb") as out:
            for line in generate_lines(args.n, seed=3):
                out.write(line)
        best = {"check": (float("inf"), float("inf")), "run": (float("inf"), float("inf"))}
        lingers = []
        for _ in range(args.repeat):
            cpu, wall, _ = child_cpu([*cli, "check", "--json", str(path)], env)
            best["check"] = (min(best["check"][0], cpu), min(best["check"][1], wall))
            cpu, wall, stderr = child_cpu([*cli, "run", "--input", str(path), "--log-level", "info"], env)
            lingers.append(linger_s(stderr, time.time()))
            best["run"] = (min(best["run"][0], cpu), min(best["run"][1], wall))
    print(f"{args.n} messages, best of {args.repeat}:")
    for name, (cpu, wall) in best.items():
        print(f"  {name:6s} cpu {cpu:7.2f} s  wall {wall:7.2f} s  ({args.n / cpu:,.0f} messages per cpu second)")
    print(f"  agent lingers after agent_stopped: {min(lingers):.2f} s (best), {max(lingers):.2f} s (worst)")
    print(f"  run / check cpu = {best['run'][0] / best['check'][0]:.2f}x  (target <= 1.0x)")


if __name__ == "__main__":
    main()
