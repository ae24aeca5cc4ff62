"""`id-monitor check` as users run it: real files, real subprocesses for exit codes and memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from id_monitor.cli import app

DATA = Path(__file__).parent / "data" / "messages"
NOW = "1757930000000"
KEYS = ["line", "rule", "field", "severity", "format", "id_type", "id", "detail"]

runner = CliRunner()


def run(*args: str, input: bytes | None = None):
    return runner.invoke(app, ["check", "--now", NOW, *args], input=input)


def findings(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def brief(records: list[dict]) -> list[tuple]:
    return [(r["line"], r["rule"], r["field"]) for r in records]


# A child process that runs the CLI and reports its peak memory, so limits are measured for real.
# VmHWM (peak RSS of this process image) rather than ru_maxrss, which Linux carries over from the
# forking parent, here the test process itself.
_MEASURED = """
import sys
from id_monitor.cli import app
code = 0
try:
    app(args=sys.argv[1:], prog_name="id-monitor")
except SystemExit as exc:
    code = exc.code or 0
with open("/proc/self/status") as status:
    peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
print("MAXRSS_KB", peak, file=sys.stderr)
sys.exit(code)
"""


def run_process(*args: str, stdin: bytes | None = None, **env: str) -> tuple[int, str, str, int]:
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURED, "check", "--now", NOW, *args],
        input=stdin,
        capture_output=True,
        check=False,
        timeout=240,
        env={**os.environ, "COLUMNS": "200", **env},
    )
    err = proc.stderr.decode("utf-8", "replace")
    rss = int(err.rsplit("MAXRSS_KB", 1)[1].split()[0])
    return proc.returncode, proc.stdout.decode("utf-8", "replace"), err, rss


class TestJsonOutput:
    def test_envelope_examples(self):
        result = run("--json", str(DATA / "envelope.jsonl"))
        assert result.exit_code == 1, result.output
        records = findings(result.stdout)
        assert all(list(r) == KEYS for r in records)
        assert brief(records) == [
            (4, "isolation_breach", "connection_id"),
            (5, "legacy_id", "thread_id"),
            (5, "legacy_id", "run_id"),
            (7, "malformed", "message"),
            (8, "malformed", "message"),
        ]
        breach = records[0]
        assert (
            breach["severity"] == "violation"
            and breach["format"] == "ws_conn"
            and breach["id_type"] == "ws_conn"
        )
        assert breach["id"] == "ws_conn_********_1757367656601_1_********"
        assert [r["detail"] for r in records[3:]] == ["not_json", "not_object"]

    def test_json_array_input_keeps_line_numbers(self):
        result = run("--json", str(DATA / "envelope.json"))
        assert result.exit_code == 1
        assert brief(findings(result.stdout)) == [
            (8, "isolation_breach", "connection_id"),
            (15, "malformed", "message"),
        ]

    def test_clean_file_exits_zero_even_with_warnings(self):
        result = run("--json", str(DATA / "clean.jsonl"))
        assert result.exit_code == 0, result.output
        assert brief(findings(result.stdout)) == [(3, "legacy_id", "thread_id")]

    @pytest.mark.parametrize(
        "mode,check",
        [("hash", lambda s: s.startswith("h:")), ("none", lambda s: s.startswith("ws_conn_b7e6f2a1_"))],
    )
    def test_redact_option(self, mode, check):
        result = run("--json", "--redact", mode, str(DATA / "envelope.jsonl"))
        assert check(findings(result.stdout)[0]["id"])

    def test_stdin(self):
        data = (DATA / "envelope.jsonl").read_bytes()
        result = run("--json", "-", input=data)
        assert result.exit_code == 1
        assert len(findings(result.stdout)) == 5

    def test_config_file_changes_the_policy(self, tmp_path):
        config = tmp_path / "strict.yaml"
        config.write_text("policy: {legacy: violation}\n")
        result = run("--json", "--config", str(config), str(DATA / "clean.jsonl"))
        assert result.exit_code == 1
        assert [r["severity"] for r in findings(result.stdout)] == ["violation"]

    def test_config_from_environment(self, tmp_path, monkeypatch):
        config = tmp_path / "strict.yaml"
        config.write_text("policy: {legacy: violation}\n")
        monkeypatch.setenv("ID_MONITOR_CONFIG", str(config))
        assert run("--json", str(DATA / "clean.jsonl")).exit_code == 1
        monkeypatch.setenv("ID_MONITOR_POLICY__LEGACY", "allow")  # overrides win over the file
        result = run("--json", str(DATA / "clean.jsonl"))
        assert result.exit_code == 0 and findings(result.stdout) == []


def test_generated_traffic_counts_match_ground_truth(tmp_path):
    from id_monitor.traffic import Mix, generate

    path = tmp_path / "traffic.jsonl"
    breaches = legacy = unknown = 0
    with path.open("wb") as f:
        for message, truth in generate(3000, seed=11, now_ms=int(NOW), mix=Mix(breach=0.05)):
            f.write(orjson.dumps(message) + b"\n")
            breaches += truth.breach
            legacy += truth.count("legacy")
            unknown += truth.count("unknown")
    result = run("--json", str(path))
    assert result.exit_code == 1
    rules = [r["rule"] for r in findings(result.stdout)]
    assert rules.count("isolation_breach") == breaches > 0
    assert rules.count("legacy_id") == legacy
    assert rules.count("unknown_format") == unknown
    assert set(rules) <= {"isolation_breach", "legacy_id", "unknown_format", "owner_collision"}


class TestHumanOutput:
    def test_summary_tables(self):
        result = run("--show", "3", str(DATA / "envelope.jsonl"))
        assert result.exit_code == 1
        out = result.stdout
        assert "7 messages (2 malformed)" in out
        for title in (
            "Findings by rule and field",
            "IDs by status and format",
            "Migration by field",
            "First 3 of 5 findings",
        ):
            assert title in out
        assert "isolation_breach" in out and "connection_id" in out
        assert "1 breaches" in out
        assert "b7e6f2a1" not in out  # redacted by default

    def test_migration_share_per_field(self, tmp_path):
        lines = [{"thread_id": "thread_session_1757373103822_2_1c69903f"}] * 3 + [
            {"thread_id": "87654321-8765-4321-cdef-876543210987"}
        ]
        path = tmp_path / "m.jsonl"
        path.write_bytes(b"\n".join(orjson.dumps(m) for m in lines))
        out = run(str(path)).stdout
        row = next(line for line in out.splitlines() if "thread_id" in line and "%" in line)
        assert [cell.strip() for cell in row.split("│")[1:-1]] == ["thread_id", "4", "3", "1", "0", "75.0%"]

    def test_owner_collisions_are_summarised(self, tmp_path):
        users = [f"user_17573000000{i:02d}_{i}_abcdef{i:02d}" for i in range(4)]
        path = tmp_path / "c.jsonl"
        path.write_bytes(b"\n".join(orjson.dumps({"user_id": u}) for u in users))
        out = run(str(path)).stdout
        assert "Owner prefixes shared by several users" in out and "aaaa_999 (4 users)" in out

    def test_input_text_is_never_rich_markup(self, tmp_path):
        path = tmp_path / "markup.jsonl"
        path.write_bytes(orjson.dumps({"thread_id": "[bold red]boom[/]"}))
        out = run("--redact", "none", str(path)).stdout
        assert "[bold red]boom[/]" in out

    def test_no_findings(self, tmp_path):
        path = tmp_path / "ok.jsonl"
        path.write_bytes(orjson.dumps({"thread_id": "thread_session_1757373103822_2_1c69903f"}))
        result = run(str(path))
        assert result.exit_code == 0 and "No findings." in result.stdout


class TestUsageErrors:
    def test_missing_file(self, tmp_path):
        result = run(str(tmp_path / "nope.jsonl"))
        assert result.exit_code == 2 and "No such file" in result.stderr

    def test_bad_config_is_one_line(self, tmp_path):
        config = tmp_path / "bad.yaml"
        config.write_text("kafka: {bootstrap_server: x}\n")
        result = run("--config", str(config), str(DATA / "clean.jsonl"))
        assert result.exit_code == 2
        assert result.stderr.strip() == (
            f"error: {config}: kafka.bootstrap_server: unknown key (did you mean 'bootstrap_servers'?)"
        )

    def test_now_as_iso_time(self):
        old = run("--json", "--now", "2027-06-01T00:00:00Z", str(DATA / "clean.jsonl"))
        assert old.exit_code == 0  # timestamp_skew is a warning
        assert {r["detail"] for r in findings(old.stdout) if r["rule"] == "timestamp_skew"} == {"too_old"}

    def test_bad_redact_and_now(self):
        assert run("--redact", "plain", str(DATA / "clean.jsonl")).exit_code == 2
        assert run("--now", "yesterday", str(DATA / "clean.jsonl")).exit_code == 2

    def test_no_path_is_a_usage_error(self):
        assert runner.invoke(app, ["check"]).exit_code == 2

    def test_bad_schema_in_config(self, tmp_path):
        config = tmp_path / "s.yaml"
        config.write_text("schema: no-such-schema\n")
        result = run("--config", str(config), str(DATA / "clean.jsonl"))
        assert result.exit_code == 2 and result.stderr.startswith("error: ")


class TestHostileInput:
    def test_binary_garbage(self, tmp_path):
        path = tmp_path / "garbage.bin"
        path.write_bytes(bytes(range(256)) * 40 + b"\n\xff\xfe\xfd\n" + os.urandom(5000))
        result = run("--json", str(path))
        assert result.exit_code == 1
        records = findings(result.stdout)
        assert records and {r["rule"] for r in records} == {"malformed"}
        assert {r["detail"] for r in records} <= {"not_utf8", "not_json", "not_object"}

    def test_truncated_json_array(self, tmp_path):
        path = tmp_path / "cut.json"
        path.write_bytes(b'[{"thread_id": "thread_session_1757373103822_2_1c69903f"},\n {"thread_id": "thr')
        result = run("--json", str(path))
        assert result.exit_code == 1
        assert [(r["line"], r["detail"]) for r in findings(result.stdout)] == [(2, "truncated")]

    def test_deeply_nested_json(self, tmp_path):
        path = tmp_path / "deep.jsonl"
        path.write_bytes(
            b'{"a":' * 100_000 + b"1" + b"}" * 100_000 + b"\n" + b"[" * 3000 + b"]" * 3000 + b"\n"
        )
        result = run("--json", str(path))
        assert result.exit_code == 1
        assert [(r["line"], r["detail"]) for r in findings(result.stdout)] == [
            (1, "too_deep"),
            (2, "too_deep"),
        ]

    def test_50_mb_single_line_in_bounded_memory(self, tmp_path):
        small = tmp_path / "small.jsonl"
        small.write_bytes((DATA / "envelope.jsonl").read_bytes())
        code, _, _, baseline_kb = run_process("--json", str(small))
        assert code == 1

        big = tmp_path / "big.jsonl"
        with big.open("wb") as f:
            f.write(b'{"thread_id": "thread_session_1757373103822_2_1c69903f"}\n')
            f.write(b'{"blob": "')
            chunk = b"x" * (1 << 20)
            for _ in range(50):
                f.write(chunk)
            f.write(b'"}\n{"thread_id": "undefined"}\n')
        code, out, err, rss_kb = run_process("--json", str(big))
        assert code == 1, err
        assert brief(findings(out)) == [(2, "malformed", "message"), (3, "unknown_format", "thread_id")]
        assert findings(out)[0]["detail"] == "too_large"
        # the 50 MB line was never held: peak memory stays within a few MB of a tiny file's run
        assert rss_kb - baseline_kb < 20 * 1024, (rss_kb, baseline_kb)

    def test_large_file_streams_in_constant_memory(self, tmp_path):
        from id_monitor.traffic import generate_lines

        small = tmp_path / "small.jsonl"
        big = tmp_path / "many.jsonl"
        with small.open("wb") as f:
            f.writelines(generate_lines(500, seed=3))
        with big.open("wb") as f:
            f.writelines(generate_lines(40_000, seed=3))
        assert big.stat().st_size > 30 * 1024 * 1024
        _, _, _, small_kb = run_process("--json", str(small), ID_MONITOR_LIMITS__CACHE_SIZE="1000")
        code, out, _, big_kb = run_process("--json", str(big), ID_MONITOR_LIMITS__CACHE_SIZE="1000")
        assert code == 1 and out.count("\n") > 1000
        # the classifier cache is bounded too (here to 1000 entries), so the file size does not show
        assert big_kb - small_kb < 8 * 1024, (big_kb, small_kb)


@pytest.mark.parametrize("mode", ["mask", "hash"])
def test_an_id_type_taken_from_the_id_never_shows_the_raw_prefix(mode: str) -> None:
    """Defect: `id_type` carried the raw prefix of base and prefixed-hex IDs in every redaction
    mode, `hash` included. A prefix that comes from input is user data."""
    message = {"user_id": "u", "event_id": "secretmarkbase_1764590000000_1_abcd",
               "run_id": "secretmarkhex_0123456789abcdef"}
    result = run("--json", "--redact", mode, "-", input=orjson.dumps(message) + b"\n")
    assert "secretmark" not in result.stdout
    findings = [json.loads(line) for line in result.stdout.splitlines()]
    assert findings and all(f["id_type"] in (None, "other") or not f["id_type"].startswith("secret")
                            for f in findings)


def test_redact_none_shows_what_the_id_carries() -> None:
    message = {"user_id": "u", "event_id": "secretmarkbase_1764590000000_1_abcd"}
    result = run("--json", "--redact", "none", "-", input=orjson.dumps(message) + b"\n")
    assert "secretmarkbase" in result.stdout  # documented: none shows raw IDs
