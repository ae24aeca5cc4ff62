"""The agent (`id-monitor run` on stdin) under all-hostile-unique traffic: does RSS plateau, do the
exported series stay put?

    .venv/bin/python bench/hostile_stdin.py --minutes 10      # RSS every 10 s, slope of the last half
    .venv/bin/python bench/hostile_stdin.py --messages 1000000

Every message has random field names, random owners, random ID values of random shapes in the
configured fields and in random ones, random types (numbers, lists, objects, strings), random
topic-like strings: nothing repeats. Messages are written to the agent's stdin as fast as it reads
them. Every 10 s the agent's RSS (/proc/<pid>/status VmRSS) and the number of series its /metrics
exports are sampled. Printed: the samples, the least-squares RSS slope over the last half of the
run (MB per minute; a plateau is about 0), and the series count after warm-up and at the end.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.hostile import hostile_lines


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def series(port: int) -> int:
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    return sum(1 for line in body.splitlines() if line and not line.startswith("#"))


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB) points, in MB per minute."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    var = sum((t - mx) ** 2 for t, _ in points)
    return 60 * sum((t - mx) * (v - my) for t, v in points) / var if var else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=0)
    parser.add_argument("--messages", type=int, default=0)
    parser.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    options = parser.parse_args()
    if not options.minutes and not options.messages:
        parser.error("give --minutes or --messages")
    port = free_port()
    env = dict(os.environ, ID_MONITOR_METRICS__LISTEN=f"127.0.0.1:{port}")
    agent = subprocess.Popen([str(ROOT / ".venv" / "bin" / "id-monitor"), "run", "--log-level", "warning"],
                             stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    sent = [0]
    stop = threading.Event()

    def feed() -> None:
        try:
            for line in hostile_lines(1, options.messages or None):
                if stop.is_set():
                    break
                agent.stdin.write(line)
                sent[0] += 1
        except BrokenPipeError:
            pass
        finally:
            try:
                agent.stdin.close()
            except BrokenPipeError:
                pass

    deadline = time.monotonic() + options.minutes * 60 if options.minutes else None
    started = time.monotonic()
    threading.Thread(target=feed, daemon=True).start()
    samples: list[tuple[float, float, int, int]] = []  # seconds, RSS MB, series, messages sent
    print(f"{'s':>6} {'RSS MB':>8} {'series':>7} {'messages':>10}")
    try:
        while agent.poll() is None:
            time.sleep(options.every)
            if agent.poll() is not None:
                break
            elapsed = time.monotonic() - started
            try:
                point = (elapsed, rss_mb(agent.pid), series(port), sent[0])
            except OSError:
                continue
            samples.append(point)
            print(f"{point[0]:6.0f} {point[1]:8.1f} {point[2]:7d} {point[3]:10,}", flush=True)
            if deadline is not None and time.monotonic() > deadline:
                break
    finally:
        stop.set()
        agent.terminate()
        agent.wait(timeout=30)
    last_half = [(t, rss) for t, rss, _, _ in samples[len(samples) // 2 :]]
    warm = samples[min(2, len(samples) - 1)] if samples else (0, 0, 0, 0)
    elapsed = samples[-1][0] if samples else 0
    print(f"messages {sent[0]:,} in {elapsed:.0f} s ({sent[0] / max(elapsed, 1):,.0f}/s); "
          f"RSS {samples[0][1]:.1f} -> {samples[-1][1]:.1f} MB; slope of the last half "
          f"{slope(last_half):+.3f} MB/min over {len(last_half)} samples; "
          f"series after warm-up {warm[2]}, at the end {samples[-1][2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
