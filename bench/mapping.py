"""`id-monitor mapping check` throughput on a PostgreSQL table against a plain psycopg fetch loop.

    python bench/mapping.py [--rows 1000000] [--repeat 2] [--state-pairs 10000000]

Starts its own PostgreSQL server (scripts/postgres, a free loopback port, a temporary directory),
fills a table of `rows` clean mappings (uuid4 legacy IDs, `session` targets with the row's owner)
with indexes on (legacy, id) and (target, id), then measures in the same run, best of `repeat`
interleaved rounds, as wall time (the server's work counts on both sides):

  floor   a plain psycopg loop fetching every row once (legacy, target, owner) with a server-side
          cursor, nothing else
  check   TableCheck over PostgresRows, as `mapping check` runs it: the two keyset-paginated
          passes (by legacy, by target) and the NULL pass, every ID classified, the pairs written
          to a fresh state file

and prints rows/s of each and check / floor (target >= 0.5), plus the check's peak Python memory
(tracemalloc) and the process peak RSS. Then fills a PairStore with `state-pairs` pairs in pages
as the table scan does and prints the fill rate, bytes per pair on disk and the look-up time.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import socket
import subprocess
import tempfile
import time
import tracemalloc
from pathlib import Path

import psycopg

from id_monitor.agent.workers import peak_rss_mb
from id_monitor.classify import Classifier
from id_monitor.config import MappingTableSpec, load_config
from id_monitor.mapping import PairRules, PairStore, TableCheck
from id_monitor.pipeline import build_engine
from id_monitor.sources.tables import PostgresRows

ROOT = Path(__file__).resolve().parent.parent
TARGET = 0.5
SPEC = MappingTableSpec(name="id_map", owner_column="user_id")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fill(dsn: str, rows: int) -> None:
    now = int(time.time() * 1000)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE id_map (id bigint PRIMARY KEY, legacy_id text, target_id text, user_id text)")
        conn.execute(
            "INSERT INTO id_map SELECT i, gen_random_uuid()::text, "
            "'session_auth_' || substr(md5('u' || i), 1, 8) || '_' || %s || '_' || i || '_' || substr(md5(i::text), 1, 8), "
            "substr(md5('u' || i), 1, 12) FROM generate_series(1, %s) AS i", (now, rows))
        conn.execute("CREATE INDEX ON id_map (legacy_id, id)")
        conn.execute("CREATE INDEX ON id_map (target_id, id)")
        conn.execute("VACUUM ANALYZE id_map")


def floor(dsn: str) -> int:
    count = 0
    with psycopg.connect(dsn) as conn, conn.cursor(name="floor") as cur:
        cur.itersize = 10_000
        cur.execute("SELECT legacy_id, target_id, user_id FROM id_map")
        for _row in cur:
            count += 1
    return count


def check(dsn: str, workdir: Path, trace: bool = False) -> tuple[int, float]:
    config = load_config()
    engine = build_engine(config, track_owners=False)
    classifier = Classifier(engine.schema, cache_size=0)  # as `mapping check` builds it
    rules = PairRules("bench", classifier.classify, engine.judge.severity, ["session"])
    state = workdir / "state.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{state}{suffix}").unlink(missing_ok=True)
    store = PairStore(state, 10_000_000)
    if trace:
        tracemalloc.start()
    with PostgresRows(dsn, SPEC) as rows:
        report = TableCheck(rules, store, engine.judge.severity).run(rows)
    peak = tracemalloc.get_traced_memory()[1] / 2**20 if trace else 0.0
    if trace:
        tracemalloc.stop()
    store.close()
    assert report.clean, report.counts
    return report.rows, peak


def state_capacity(workdir: Path, pairs: int) -> None:
    path = workdir / "capacity.sqlite"
    store = PairStore(path, pairs)
    page = 10_000
    start = time.perf_counter()
    for base in range(0, pairs, page):
        store.put_many("table:bench", [(k * 2654435761 % (1 << 62), k) for k in range(base, min(pairs, base + page))], 0)
    store.flush()
    took = time.perf_counter() - start
    refused = store.put_many("table:bench", [(-1, -1)], 0)
    size = sum(os.path.getsize(f"{path}{s}") for s in ("", "-wal") if os.path.exists(f"{path}{s}"))
    probes = 20_000
    start = time.perf_counter()
    for k in range(0, pairs, max(1, pairs // probes)):
        assert store.target_of("table:bench", k * 2654435761 % (1 << 62), 0) == k
    lookup_us = (time.perf_counter() - start) / probes * 1e6
    store.close()
    print(f"state: {pairs:,} pairs in {took:.1f} s ({pairs / took:,.0f} pairs/s), "
          f"{size / pairs:.1f} bytes/pair on disk ({size / 2**20:,.0f} MiB), look-up {lookup_us:.1f} us, "
          f"pair {pairs + 1:,} refused: {refused == 1}, peak RSS {peak_rss_mb():.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--state-pairs", type=int, default=10_000_000)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="id-monitor-bench-"))
    pgdir = Path(tempfile.mkdtemp(prefix="id-monitor-bench-pg-"))
    port = free_port()
    script = [str(ROOT / "scripts" / "postgres")]
    dsn = subprocess.run([*script, "up", "--port", str(port), "--dir", str(pgdir)], check=True,
                         capture_output=True, text=True).stdout.strip()
    try:
        start = time.perf_counter()
        fill(dsn, args.rows)
        print(f"table: {args.rows:,} rows filled in {time.perf_counter() - start:.1f} s")
        best = {"floor": float("inf"), "check": float("inf")}
        for _ in range(args.repeat):
            for name, run in (("floor", lambda: floor(dsn)), ("check", lambda: check(dsn, workdir))):
                gc.collect()
                start = time.perf_counter()
                count = run()
                best[name] = min(best[name], time.perf_counter() - start)
                rows = count if isinstance(count, int) else count[0]
                assert rows == args.rows, (name, rows)
        _rows, peak = check(dsn, workdir, trace=True)
        floor_rate, check_rate = args.rows / best["floor"], args.rows / best["check"]
        ratio = check_rate / floor_rate
        print(f"floor: {floor_rate:,.0f} rows/s ({best['floor']:.2f} s)")
        print(f"check: {check_rate:,.0f} rows/s ({best['check']:.2f} s)")
        print(f"check / floor = {ratio:.3f} (target >= {TARGET}: {'met' if ratio >= TARGET else 'NOT met'})")
        print(f"check peak Python memory {peak:.1f} MiB (tracemalloc), process peak RSS {peak_rss_mb():.0f} MB")
        if args.state_pairs:
            state_capacity(workdir, args.state_pairs)
    finally:
        subprocess.run([*script, "down", "--port", str(port), "--dir", str(pgdir)], check=False)
        shutil.rmtree(pgdir, ignore_errors=True)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
