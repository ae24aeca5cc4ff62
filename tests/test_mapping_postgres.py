"""`id-monitor mapping check` against a real PostgreSQL server (and the same table in SQLite).

Every test plants its faults in a fresh database and compares the command's JSON output with the
ground truth of tests/support/mapping_data.py: each fault found exactly once, nothing else.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support import mapping_data
from tests.support.mapping_data import MAPPING, Planted, clean_table, findings_of, planted_table
from tests.support.wait import wait_until

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parent.parent


def write_config(directory: Path, *, max_pairs: int | None = None) -> Path:
    config = json.loads(json.dumps(mapping_data.CONFIG))
    config["mapping_state"] = {"path": str(directory / "state.sqlite")}
    if max_pairs is not None:
        config["mapping_state"]["max_pairs"] = max_pairs
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def load_postgres(dsn: str, planted: Planted) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE id_map (id bigint PRIMARY KEY, legacy_id text, target_id text, user_id text)")
        with conn.cursor().copy("COPY id_map (id, legacy_id, target_id, user_id) FROM STDIN") as copy:
            for row in planted.rows:
                copy.write_row(row)
        conn.execute("CREATE INDEX ON id_map (legacy_id, id)")
        conn.execute("CREATE INDEX ON id_map (target_id, id)")
        conn.execute("ANALYZE id_map")


def load_sqlite(path: Path, planted: Planted) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE id_map (id INTEGER PRIMARY KEY, legacy_id TEXT, target_id TEXT, user_id TEXT)")
        conn.executemany("INSERT INTO id_map VALUES (?, ?, ?, ?)", planted.rows)
        conn.execute("CREATE INDEX by_legacy ON id_map (legacy_id, id)")
        conn.execute("CREATE INDEX by_target ON id_map (target_id, id)")


def mapping_check(config: Path, dsn: str, *extra: str) -> tuple[int, dict | None, str]:
    args = [sys.executable, "-m", "id_monitor", "mapping", "check", "--config", str(config),
            "--mapping", MAPPING, "--dsn", dsn, "--json", "--redact", "none", *extra]
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, cwd=ROOT, check=False)
    out = json.loads(done.stdout) if done.stdout.strip() else None
    return done.returncode, out, done.stderr


def test_planted_faults_are_each_found_exactly(pg_dsn: str, tmp_path: Path) -> None:
    planted = planted_table(clean=500)
    load_postgres(pg_dsn, planted)
    code, out, err = mapping_check(write_config(tmp_path), pg_dsn, "--page-size", "64")
    assert code == 1, err
    assert out["source"] == "postgresql"
    assert out["rows"] == len(planted.rows)
    assert findings_of(out) == planted.expected
    assert out["counts"] == {"mapping_conflict": 2, "mapping_malformed": 4, "mapping_owner_mismatch": 1}
    assert not out["clean"]


def test_clean_rows_give_no_finding(pg_dsn: str, tmp_path: Path) -> None:
    planted = clean_table(2_000)
    load_postgres(pg_dsn, planted)
    code, out, err = mapping_check(write_config(tmp_path), pg_dsn, "--page-size", "333")
    assert code == 0, err
    assert out["clean"] and out["findings"] == [] and out["rows"] == 2_000
    assert out["state"] == {"remembered": 2_000, "unremembered": 0}


def test_conflicts_over_time_both_directions(pg_dsn: str, tmp_path: Path) -> None:
    import psycopg

    planted = clean_table(300)
    load_postgres(pg_dsn, planted)
    config = write_config(tmp_path)
    assert mapping_check(config, pg_dsn)[0] == 0
    (_, moved_legacy, _, owner), (_, _, kept_target, _) = planted.rows[10], planted.rows[20]
    new_target = mapping_data.target(mapping_data.random.Random(5), owner, 777_001)
    new_legacy = "9c0b5d2e-1f3a-4b6c-8d7e-0a1b2c3d4e5f"
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("UPDATE id_map SET target_id = %s WHERE legacy_id = %s", (new_target, moved_legacy))
        conn.execute("UPDATE id_map SET legacy_id = %s WHERE target_id = %s", (new_legacy, kept_target))
    code, out, err = mapping_check(config, pg_dsn)
    assert code == 1, err
    assert findings_of(out) == {("mapping_conflict", moved_legacy), ("mapping_conflict", kept_target)}
    details = sorted(f["detail"] for f in out["findings"])
    assert details == ["legacy ID's target changed since the last scan",
                       "target ID's legacy ID changed since the last scan"]
    # the change is reported by the scan that first sees it; the next scan compares with the new state
    assert mapping_check(config, pg_dsn)[0] == 0


def test_a_table_larger_than_the_state_bound_still_gives_the_exact_report(pg_dsn: str, tmp_path: Path) -> None:
    planted = planted_table(clean=1_000, seed=3)
    load_postgres(pg_dsn, planted)
    code, out, err = mapping_check(write_config(tmp_path, max_pairs=100), pg_dsn, "--page-size", "37")
    assert code == 1, err
    assert findings_of(out) == planted.expected
    assert out["state"]["remembered"] == 100
    legacy_ids = out["rows"] - 1 - 1  # one pair per legacy ID: the two-target legacy ID and the NULL row aside
    assert out["state"]["unremembered"] == legacy_ids - 100


def test_a_dropped_connection_is_an_error_without_a_verdict(postgres, pg_dsn: str, tmp_path: Path) -> None:
    planted = clean_table(40_000, seed=13)
    load_postgres(pg_dsn, planted)
    config = write_config(tmp_path)
    args = [sys.executable, "-m", "id_monitor", "mapping", "check", "--config", str(config), "--mapping", MAPPING,
            "--dsn", pg_dsn, "--json", "--page-size", "5"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    database = pg_dsn.rsplit("/", 1)[1]
    with postgres.connect(autocommit=True) as admin:
        def scanning_past_the_first_page() -> int | None:
            assert proc.poll() is None, proc.communicate()
            row = admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name = %s AND query LIKE %s",
                (database, "id-monitor mapping check", "%) > (%")).fetchone()
            return row[0] if row else None

        pid = wait_until(scanning_past_the_first_page, 60, message="the scan to pass its first page")
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert stdout == ""  # no report at all, so no partial "clean"
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr
    assert lines[0].startswith(f"error: mapping {MAPPING}: reading id_map failed after ")
    assert lines[0].endswith("; no verdict")
    rows_read = int(lines[0].split("failed after ")[1].split(" rows")[0])
    assert 0 < rows_read < len(planted.rows)
    # the interrupted scan left no state behind: a complete scan now reports the table clean
    code, out, err = mapping_check(config, pg_dsn)
    assert code == 0 and out["clean"] and out["rows"] == len(planted.rows), err


def test_the_same_table_in_sqlite_gives_the_same_report(tmp_path: Path) -> None:
    planted = planted_table(clean=500)
    path = tmp_path / "mappings.sqlite"
    load_sqlite(path, planted)
    code, out, err = mapping_check(write_config(tmp_path), f"sqlite://{path}", "--page-size", "64")
    assert code == 1, err
    assert out["source"] == "sqlite"
    assert findings_of(out) == planted.expected
    assert out["rows"] == len(planted.rows)


def test_usage_errors_are_one_line_with_exit_2(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    done = subprocess.run([sys.executable, "-m", "id_monitor", "mapping", "check", "--config", str(config),
                           "--mapping", "nope", "--dsn", str(tmp_path / "x.sqlite")],
                          capture_output=True, text=True, timeout=60, cwd=ROOT, check=False)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "no mapping 'nope'" in done.stderr and "sessions" in done.stderr
    code, out, err = mapping_check(config, str(tmp_path / "missing.sqlite"))
    assert code == 2 and out is None and "no such SQLite file" in err
    code, out, err = mapping_check(config, "postgresql://postgres@127.0.0.1:1/postgres")
    assert code == 2 and out is None and err.startswith("error: mapping sessions: cannot connect to PostgreSQL")
    assert err.count("\n") == 1
