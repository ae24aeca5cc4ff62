"""Privacy audit: distinctive marker values in every ID field and in the owner, then every output of
every mode is searched for them. Zero by default (mask) and with `hash`; where a mode is documented
to show raw IDs (`--redact none`, `classify`), the markers do appear there.

Markers sit where redaction must hide them: the owner (user id and its 8-character prefix inside
owner-bearing IDs), the random hex parts, a UUID, and whole unknown strings. Prefix words,
timestamps and counters are shown by design (docs/reliability.md, "Privacy audit").
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from tests.support.net import free_port
from tests.support.wait import wait_until

ROOT = Path(__file__).resolve().parent.parent
CLI = [str(Path(sys.executable).with_name("id-monitor"))]
OWNER = "mkzqown3r_user"  # its 8-character prefix mkzqown3 is embedded in the owner's IDs
OTHER = "mkzqoth3r_user"
MARKERS = ["mkzqown3", "mkzqoth3", "feedface", "c0dedbad", "0ddba11f00d5", "zqxjunkmarker", "b1e55ed0"]


def marker_messages(n: int = 40) -> list[dict[str, object]]:
    """Messages with a marker in every ID field and in the owner: legacy, unknown, wrong-owner
    (isolation breach), malformed values, all distinct so support thresholds are not reached."""
    out = []
    for i in range(n):
        out.append({
            "type": "agent_started",
            "user_id": OWNER,
            "thread_id": f"thread_websocket_factory_1757372478{i:03d}_{i + 1}_feedface",
            "run_id": f"c0dedbad-5eed-4bad-8bad-0ddba11f{i:04d}"[:36],
            "request_id": f"zqxjunkmarker{i}",
            "connection_id": f"ws_conn_mkzqoth3_1757367656{i:03d}_{i + 1}_c0dedbad",
            "event_id": f"evt_tool_executing_1757372478{i:03d}_{i + 1}_b1e55ed0",
            "message_id": {"nested": "zqxjunkmarker"},
        })
    return out


def leaks(text: str) -> list[str]:
    return [marker for marker in MARKERS if marker in text]


@pytest.fixture(scope="module")
def messages_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("privacy") / "messages.jsonl"
    path.write_text("".join(json.dumps(m) + "\n" for m in marker_messages()))
    return path


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, input=stdin, timeout=120,
                          check=False, cwd=ROOT, env={k: v for k, v in os.environ.items()
                                                      if not k.startswith("ID_MONITOR_")})


@pytest.mark.parametrize("mode", [[], ["--json"], ["--redact", "hash"], ["--redact", "hash", "--json"],
                                  ["--redact", "mask", "--json", "--show", "1000"]])
def test_check_outputs_show_no_marker(messages_file, mode):
    done = run_cli("check", *mode, str(messages_file))
    assert done.returncode == 1, done.stderr  # violations found: the audit input is not clean
    assert "isolation_breach" in done.stdout
    assert leaks(done.stdout + done.stderr) == []


def test_check_with_redact_none_shows_the_raw_ids(messages_file):
    done = run_cli("check", "--redact", "none", "--json", str(messages_file))
    assert set(leaks(done.stdout)) >= {"mkzqoth3", "c0dedbad", "zqxjunkmarker", "feedface"}


@pytest.mark.parametrize("mode", [[], ["--json"], ["--yaml"]])
def test_discover_outputs_show_no_marker(messages_file, mode):
    done = run_cli("discover", "--messages", *mode, str(messages_file))
    assert done.returncode == 0, done.stderr
    assert leaks(done.stdout + done.stderr) == []


def test_classify_is_documented_to_echo_and_does():
    ids = ["ws_conn_mkzqown3_1757367656601_1_c0dedbad", "zqxjunkmarker"]
    for mode in ([], ["--json"]):
        done = run_cli("classify", *mode, *ids)
        assert set(leaks(done.stdout)) == {"mkzqown3", "c0dedbad", "zqxjunkmarker"}
    assert "unredacted" in run_cli("classify", "--help").stdout


def test_scan_outputs_show_no_marker(tmp_path):
    service = tmp_path / "svc"
    service.mkdir()
    (service / "ids.py").write_text("import uuid\n\ndef new_thread(user):\n    return uuid.uuid4()\n")
    for mode in ([], ["--json"], ["--sarif"]):
        done = run_cli("scan", *mode, str(tmp_path))
        assert leaks(done.stdout + done.stderr) == []


def test_agent_logs_records_metrics_and_shapes_show_no_marker(tmp_path):
    """`id-monitor run` on stdin at debug level, with violation records on stdout, /metrics and
    /debug/shapes scraped while it runs: no marker anywhere."""
    port = free_port()
    config = tmp_path / "agent.yaml"
    config.write_text(f"metrics:\n  listen: 127.0.0.1:{port}\n  unknown_shapes:\n    min_support: 2\n"
                      "violations:\n  redact: mask\n")
    messages = marker_messages() + [{"user_id": OWNER, "thread_id": "zqxjunkmarker"}] * 3
    agent = subprocess.Popen([*CLI, "run", "--config", str(config), "--log-level", "debug"], cwd=ROOT,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        agent.stdin.write(b"".join(json.dumps(m).encode() + b"\n" for m in messages) + b"not json mkzqown3\n")
        agent.stdin.flush()

        def counted() -> bool:
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            except httpx.HTTPError:
                return False
            return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                       if line.startswith("id_monitor_messages_total{")) >= len(messages) + 1

        wait_until(counted, timeout=60, message="the agent did not count every message")
        scraped = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5,
                            headers={"Accept": "application/openmetrics-text"}).text
        shapes = httpx.get(f"http://127.0.0.1:{port}/debug/shapes", timeout=5).text
    finally:
        out, err = agent.communicate(timeout=60)  # closes stdin: the agent ends at end of input
    records = out.decode()
    logs = err.decode()
    assert '"isolation_breach"' in records and "malformed" in logs  # the outputs are not empty
    assert json.loads(shapes)
    for name, text in (("violation records", records), ("logs", logs), ("/metrics", scraped),
                       ("/debug/shapes", shapes)):
        assert leaks(text) == [], f"{name} leak {leaks(text)}"


@pytest.fixture
def chat_service():
    import uvicorn
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from examples.chat_service import create_app

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = create_app(tracer_provider=provider, enforce=["isolation_breach"])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=15, message="uvicorn did not start")
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", exporter
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


def test_403_bodies_spans_and_metrics_of_the_fastapi_layer_show_no_marker(chat_service, caplog):
    base, exporter = chat_service
    owner, other = {"X-User-ID": OWNER}, {"X-User-ID": OTHER}
    with httpx.Client(base_url=base, timeout=10) as client:
        thread = client.post("/threads", json={"title": "t"}, headers=owner).json()["thread_id"]
        theirs = client.post("/connections", headers=other).json()["connection_id"]
        rejected = [
            client.post(f"/threads/{thread}/messages", json={"text": "x", "connection_id": theirs}, headers=owner),
            client.get(f"/threads/{thread}/messages", headers=other),
            client.get(f"/threads/{thread}/messages?connection_id={theirs}", headers=owner),
        ]
        scraped = client.get("/metrics", headers={"Accept": "application/openmetrics-text"}).text
    raw = [thread, theirs, thread.rsplit("_", 1)[1], theirs.rsplit("_", 1)[1], OWNER[:8], OTHER[:8]]
    forbidden = [r for r in rejected if r.status_code == 403]
    assert forbidden, [r.status_code for r in rejected]
    for response in forbidden:
        assert [v for v in raw if v in response.text] == [], response.text
    spans = exporter.get_finished_spans()
    assert any(s.attributes.get("id_monitor.rejected") for s in spans)
    for span in spans:
        shown = json.dumps({k: str(v) for k, v in span.attributes.items()})
        shown += json.dumps([(e.name, {k: str(v) for k, v in e.attributes.items()}) for e in span.events])
        leaked = {k: v for k, v in span.attributes.items() if any(r in str(v) for r in raw)}
        assert [v for v in raw if v in shown] == [], (span.name, leaked, shown[-300:])
    assert [v for v in raw if v in scraped] == []
    assert [v for v in raw if v in caplog.text] == []


@pytest.mark.kafka
@pytest.mark.parametrize("redact", ["mask", "hash"])
def test_violation_records_and_headers_on_kafka_show_no_marker(kafka_broker, kafka_client, tmp_path, redact):
    """The agent on a real broker, violation records produced to a topic: every record's value and
    headers, the agent's debug logs and /metrics (with traceparent exemplars) carry no marker."""
    from kafka import KafkaConsumer

    from tests.kafka_broker import AgentProcess

    topic = kafka_broker.create_topic(partitions=2)
    violations = f"{topic}-violations"
    kafka_broker.create_topic(violations, partitions=1)
    messages = marker_messages()
    traceparent = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    kafka_broker.produce(topic, [json.dumps(m).encode() for m in messages], headers=[("traceparent", traceparent)])
    config = {"kafka": {"bootstrap_servers": kafka_broker.bootstrap, "group_id": f"privacy-{redact}",
                        "topics": [topic], "client": kafka_client},
              "violations": {"topic": violations, "redact": redact}}
    agent = AgentProcess(tmp_path, config, extra_args=["--log-level", "debug"])
    try:
        agent.wait_messages(len(messages), timeout=90)
        scraped = agent.get("/metrics", accept="application/openmetrics-text")[1]
        agent.terminate()
        logs = agent.logs()
    finally:
        agent.close()
    consumer = KafkaConsumer(violations, bootstrap_servers=kafka_broker.bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=5000)
    try:
        records = [(record.value.decode(), [(k, v.decode()) for k, v in record.headers]) for record in consumer]
    finally:
        consumer.close()
    rules = {json.loads(value)["rule"] for value, _ in records}
    assert {"isolation_breach", "unknown_format"} <= rules  # the records are there to search
    assert "# {" in scraped  # exemplars are exported (trace ids are not IDs of the platform)
    for value, headers in records:
        assert leaks(value) == [] and leaks(repr(headers)) == [], (value, headers)
    assert leaks(scraped) == [] and leaks(logs) == [] and '"event"' in logs
