"""The example service behind a real uvicorn server on a free loopback port, driven with httpx:
the same layer over a real socket (headers as bytes on the wire, chunked bodies, keep-alive)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from examples.chat_service import create_app

ALICE, BOB = "alice_0001", "bob_00002"


@pytest.fixture
def served() -> Iterator[tuple[str, Any, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = create_app(tracer_provider=provider, enforce=["isolation_breach"])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        assert thread.is_alive(), "uvicorn exited"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", app, exporter
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


def server_spans(exporter: InMemorySpanExporter, route: str) -> list[Any]:
    return [s for s in exporter.get_finished_spans()
            if s.kind is SpanKind.SERVER and s.attributes.get("http.route") == route]


def test_real_server_tags_spans_and_enforces(served: tuple[str, Any, InMemorySpanExporter]) -> None:
    base, _, exporter = served
    alice, bob = {"X-User-ID": ALICE}, {"X-User-ID": BOB}
    with httpx.Client(base_url=base, timeout=10) as client:
        thread = client.post("/threads", json={"title": "real"}, headers=alice).json()["thread_id"]
        mine = client.post("/connections", headers=alice).json()["connection_id"]
        theirs = client.post("/connections", headers=bob).json()["connection_id"]

        ok = client.post(f"/threads/{thread}/messages", json={"text": "hi", "connection_id": mine}, headers=alice)
        assert ok.status_code == 201

        # A chunked body (no Content-Length) is buffered, judged and replayed.
        def chunks() -> Iterator[bytes]:
            yield b'{"text": "leak", '
            yield b'"connection_id": "' + theirs.encode() + b'"}'

        leak = client.post(f"/threads/{thread}/messages", content=chunks(),
                           headers={**alice, "content-type": "application/json"})
        assert leak.status_code == 403
        assert leak.json()["rule"] == "isolation_breach" and theirs not in leak.text
        listed = client.get(f"/threads/{thread}/messages", headers=alice).json()["messages"]
        assert [m["connection_id"] for m in listed] == [mine]

        metrics = client.get("/metrics", headers={"Accept": "application/openmetrics-text"}).text

    posts = server_spans(exporter, "/threads/{thread_id}/messages")
    posted = [s for s in posts if s.attributes.get("http.method", s.attributes.get("http.request.method")) == "POST"]
    assert len(posted) == 2
    clean, rejected = sorted(posted, key=lambda s: s.start_time)
    assert clean.attributes["id_monitor.connection_id.status"] == "target"
    assert "id_monitor.findings" not in clean.attributes
    assert rejected.attributes["id_monitor.findings"] == ("isolation_breach",)
    assert rejected.attributes["id_monitor.rejected"] is True
    assert [e.name for e in rejected.events] == ["isolation_breach"]

    trace_id = f"{rejected.context.trace_id:032x}"
    breach = next(line for line in metrics.splitlines()
                  if line.startswith("id_monitor_findings_total{") and 'rule="isolation_breach"' in line
                  and 'source="http"' in line and 'field="connection_id"' in line)
    assert breach.split(" # ")[0].endswith(" 1.0")
    assert f'trace_id="{trace_id}"' in breach
