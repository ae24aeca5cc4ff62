"""`id-monitor run` with no Kafka configured: JSON Lines on stdin (or --input), no broker at all."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import orjson
import pytest

from id_monitor.traffic import generate
from tests.engines import ENGINE_ENV, expected_engine
from tests.kafka_broker import (
    PYTHON,
    ROOT,
    AgentProcess,
    assert_counts_match_truth,
    free_port,
    total,
)

pytestmark = pytest.mark.engine  # run on both engines (tests/engines.py)

CONFIG = {"limits": {"max_message_bytes": 2048}, "violations": {"redact": "mask"}}


def lines_with_bad_input(n: int) -> tuple[list[bytes], list]:
    """JSON Lines input with bad lines mixed in, and the good messages' ground truth."""
    generated = list(generate(n, seed=41))
    good = [orjson.dumps(m) for m, _ in generated]
    lines: list[bytes] = []
    for i, value in enumerate(good):
        lines.append(value)
        if i % 100 == 0:
            lines += [b"not json", b"\xff\xfe{}", b"42", b'{"pad": "' + b"x" * 3000 + b'"}', b""]
    return lines, generated


def test_stdin_stream_is_checked_and_served_while_open(tmp_path: Path) -> None:
    lines, generated = lines_with_bad_input(400)
    agent = AgentProcess(tmp_path, CONFIG, stdin=True)
    try:
        agent.proc.stdin.write(b"\n".join(lines) + b"\n")
        agent.proc.stdin.flush()
        # Still open: the agent serves what it has counted so far, and is ready.
        samples = agent.wait_messages(sum(1 for line in lines if line.strip()), timeout=60)
        assert agent.get("/readyz")[0] == 200
        assert total(samples, "id_monitor_build_info", engine=expected_engine()) == 1
        assert total(samples, "id_monitor_messages_total", source="stdin", result="ok") == 400
        assert total(samples, "id_monitor_messages_total", source="stdin", result="malformed") == 4 * 4
        assert total(samples, "id_monitor_messages_total", source="stdin", result="skipped") == 0  # blank lines
        assert_counts_match_truth(samples, "stdin", generated)
        violations = total(samples, "id_monitor_findings_total", severity="violation")

        agent.proc.stdin.close()  # end of input: the agent finishes and exits 0
        assert agent.proc.wait(timeout=15) == 0
        records = [json.loads(line) for line in agent.stdout_path.read_text().splitlines()]
        assert len(records) == violations > 0
        assert {r["rule"] for r in records} >= {"malformed", "unknown_format"}
        assert all(r["source"] == "stdin" and r["offset"] >= 1 for r in records)
        stopped = [e for e in agent.log_events() if e["event"] == "agent_stopped"]
        assert stopped[0]["eof"] is True and stopped[0]["ok"] == 400
    finally:
        agent.close()


def test_sigterm_while_waiting_on_stdin_exits_promptly(tmp_path: Path) -> None:
    agent = AgentProcess(tmp_path, {}, stdin=True)
    try:
        agent.proc.stdin.write(orjson.dumps(next(generate(1))[0]) + b"\n")
        agent.proc.stdin.flush()
        agent.wait_messages(1, timeout=30)
        code, took = agent.terminate()
        assert code == 0 and took < 10
    finally:
        agent.close()


def test_input_file_and_exit_status(tmp_path: Path) -> None:
    data = tmp_path / "events.jsonl"
    data.write_bytes(b"".join(orjson.dumps(m) + b"\n" for m, _ in generate(50, seed=3)))
    port = free_port()
    env = {"ID_MONITOR_METRICS__LISTEN": f"127.0.0.1:{port}", "PATH": "/usr/bin:/bin", **ENGINE_ENV}
    done = subprocess.run([str(PYTHON), "-m", "id_monitor", "run", "--input", str(data)], cwd=ROOT, env=env,
                          capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stderr.decode().splitlines() if line.startswith("{")]
    assert events[-1]["event"] == "agent_stopped" and events[-1]["ok"] == 50
    assert [e["engine"] for e in events if e["event"] == "agent_started"] == [expected_engine()]

    missing = subprocess.run([str(PYTHON), "-m", "id_monitor", "run", "--input", str(tmp_path / "nope")],
                             cwd=ROOT, env=env, capture_output=True, timeout=60, check=False)
    assert missing.returncode == 2 and b"nope" in missing.stderr


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {"ID_MONITOR_METRICS__LISTEN": f"127.0.0.1:{port}", "PATH": "/usr/bin:/bin"}
        done = subprocess.run([str(PYTHON), "-m", "id_monitor", "run"], cwd=ROOT, env=env, input=b"",
                              capture_output=True, timeout=60, check=False)
    assert done.returncode == 2
    assert f"127.0.0.1:{port}".encode() in done.stderr


def test_bad_config_and_options_exit_2_with_the_reason(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kafka: {topicz: [a]}\n")
    env = {"PATH": "/usr/bin:/bin"}
    done = subprocess.run([str(PYTHON), "-m", "id_monitor", "run", "-c", str(bad)], cwd=ROOT, env=env,
                          capture_output=True, timeout=60, check=False)
    assert done.returncode == 2 and b"kafka.topicz" in done.stderr
    done = subprocess.run([str(PYTHON), "-m", "id_monitor", "run", "--log-level", "loud"], cwd=ROOT, env=env,
                          capture_output=True, timeout=60, check=False)
    assert done.returncode == 2 and b"--log-level" in done.stderr


def test_workers_without_kafka_is_a_clear_error() -> None:
    env = {"PATH": "/usr/bin:/bin"}
    done = subprocess.run([str(PYTHON), "-m", "id_monitor", "run", "--workers", "2"], cwd=ROOT, env=env,
                          input=b"", capture_output=True, timeout=60, check=False)
    assert done.returncode == 2 and b"--workers needs kafka" in done.stderr
