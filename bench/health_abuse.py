"""The agent's health/metrics server under abuse, against its own unloaded latency.

    python bench/health_abuse.py [--connections 500] [--series 20000]

The server runs in a child process with a registry of `series` labelled counters (a /metrics
body of a few MB that takes tens of ms to render, like a large agent's). Measured in one run:
  idle scrape   GET /metrics on a fresh connection, nothing else going on (the floor)
  open idle     time to open `connections` connections that send half a request head and
                then nothing (slowloris)
  scrape idle   GET /metrics from a normal client while those connections are open
  aborted       `connections` clients that send GET /metrics and leave at once; then the time
                of a normal scrape and the child's RSS (VmRSS, VmHWM)
  trickle       `connections` slowloris clients that send one more header line every 0.5 s and
                reconnect when shed: 10 normal scrapes meanwhile (median and worst)
  huge body     GET /metrics announcing a 1 GiB body, sent until the answer: time to the 413
  stop          HealthServer.stop() latency, in this process
Printed as seconds and as ratios to the idle scrape.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.slowloris import Slowloris  # noqa: E402

_CHILD = """
import sys, time
from prometheus_client import CollectorRegistry, Counter
from id_monitor.agent.health import HealthServer
registry = CollectorRegistry()
counter = Counter("id_monitor_bench_total", "bench series", ["a", "b"], registry=registry)
for i in range(int(sys.argv[1])):
    counter.labels(str(i % 100), str(i)).inc()
server = HealthServer("127.0.0.1:0", registry, lambda: (True, "ok")).start()
print(server.port, flush=True)
sys.stdin.read()
"""


def scrape(port: int, timeout: float = 60.0) -> float:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
        while sock.recv(1 << 16):
            pass
    return time.monotonic() - started


def rss_mb(pid: int) -> tuple[float, float]:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=500)
    parser.add_argument("--series", type=int, default=20_000)
    args = parser.parse_args()
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(args.series)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        port = int(child.stdout.readline())
        floor = min(scrape(port) for _ in range(3))
        print(f"idle scrape        {floor:8.3f} s   RSS {rss_mb(child.pid)[0]:.0f} MB")

        started = time.monotonic()
        idle = []
        for _ in range(args.connections):
            sock = socket.create_connection(("127.0.0.1", port), timeout=120)
            sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            idle.append(sock)
        opened = time.monotonic() - started
        print(f"open {args.connections} idle     {opened:8.3f} s")
        under = scrape(port)
        print(f"scrape with idle   {under:8.3f} s   x{under / floor:.1f} of idle scrape")
        for sock in idle:
            sock.close()

        started = time.monotonic()
        for _ in range(args.connections):
            sock = socket.create_connection(("127.0.0.1", port), timeout=120)
            sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            sock.close()
        sent = time.monotonic() - started
        after = scrape(port)
        rss, hwm = rss_mb(child.pid)
        print(f"{args.connections} aborted sent   {sent:8.3f} s")
        print(f"scrape after abort {after:8.3f} s   x{after / floor:.1f} of idle scrape; "
              f"RSS {rss:.0f} MB, peak {hwm:.0f} MB")

        attack = Slowloris(port, args.connections).start()
        try:
            under = sorted(scrape(port) for _ in range(10))
        finally:
            attack.stop()
        print(f"scrape w/ trickle  {under[5]:8.3f} s   x{under[5] / floor:.1f} of idle scrape (median), "
              f"worst {under[-1]:.3f} s; {attack.opened} opened, {attack.closed_by_server} shed")

        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
            sock.sendall(f"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: {1 << 30}\r\n\r\n".encode())
            status = sock.recv(64).split(b" ", 2)[1].decode()
        refused = time.monotonic() - started
        print(f"1 GiB body refused {refused:8.3f} s   x{refused / floor:.2f} of idle scrape (status {status})")
    finally:
        child.stdin.close()
        child.wait(timeout=30)

    from prometheus_client import CollectorRegistry

    from id_monitor.agent.health import HealthServer

    server = HealthServer("127.0.0.1:0", CollectorRegistry(), lambda: (True, "ok")).start()
    scrape(server.port)
    started = time.monotonic()
    server.stop()
    print(f"stop()             {time.monotonic() - started:8.3f} s")


if __name__ == "__main__":
    main()
