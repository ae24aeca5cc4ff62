"""instrument_app / uninstrument_app on small FastAPI apps: where IDs are read from, who the user
is, body buffering, hooks, failure handling, websockets, and co-operation with
opentelemetry-instrumentation-fastapi."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import APIRouter, FastAPI, Request, WebSocket
from fastapi.testclient import TestClient
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client import CollectorRegistry
from starlette.websockets import WebSocketDisconnect

from examples.chat_service.ids import IdIssuer
from id_monitor.config import load_config
from id_monitor.otel import RequestCheck, instrument_app, uninstrument_app
from id_monitor.config.http import HttpSpec

ALICE, BOB = "alice_0001", "bob_00002"
LEGACY = "1b4e28ba-2fa1-41d2-883f-0016d3cca427"
ISSUE = IdIssuer()


def config_with(**http: Any) -> Any:
    return load_config().model_copy(update={"http": HttpSpec(**http)})


def build(http: dict[str, Any] | None = None, *, otel: bool = True, **kwargs: Any) -> tuple[FastAPI, InMemorySpanExporter]:
    app = FastAPI()
    exporter = InMemorySpanExporter()

    @app.get("/threads/{thread_id}")
    def thread(thread_id: str) -> dict[str, str]:
        return {"thread_id": thread_id}

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, Any]:
        raw = await request.body()
        return {"size": len(raw), "text": raw.decode("utf-8", "replace")}

    @app.post("/typed")
    def typed(body: dict[str, Any]) -> dict[str, Any]:
        return body

    @app.websocket("/ws/{connection_id}")
    async def ws(websocket: WebSocket, connection_id: str) -> None:
        await websocket.accept()
        await websocket.send_text(connection_id)
        await websocket.close()

    if otel:
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        FastAPIInstrumentor.instrument_app(app, tracer_provider=provider)
    instrument_app(app, config_with(**(http or {})), registry=CollectorRegistry(), **kwargs)
    return app, exporter


def server_span(exporter: InMemorySpanExporter) -> Any:
    spans = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert len(spans) == 1, spans
    exporter.clear()
    return spans[0]


def tagged(span: Any) -> dict[str, Any]:
    return {k: v for k, v in span.attributes.items() if k.startswith("id_monitor.")}


def sample(app: FastAPI, name: str, **labels: str) -> float:
    value = app._id_monitor_layer.metrics.registry.get_sample_value(name, labels)
    return value or 0.0


def test_included_router_path_parameters_are_read() -> None:
    app, exporter = build()
    router = APIRouter(prefix="/v1")

    @router.get("/connections/{connection_id}")
    def conn(connection_id: str) -> dict[str, str]:
        return {"id": connection_id}

    app.include_router(router)  # after instrument_app: routes are matched per request
    conn_id = ISSUE.connection(BOB)
    assert TestClient(app).get(f"/v1/connections/{conn_id}", headers={"X-User-ID": ALICE}).status_code == 200
    span = server_span(exporter)
    assert span.attributes["id_monitor.connection_id.status"] == "target"
    assert span.attributes["id_monitor.findings"] == ("isolation_breach",)
    assert [e.name for e in span.events] == ["isolation_breach"]


def test_path_parameters_that_are_no_configured_field_are_ignored() -> None:
    app, exporter = build(http={"path_params": {"other": "thread_id"}})
    TestClient(app).get(f"/threads/{LEGACY}")
    assert tagged(server_span(exporter)) == {}


def test_user_from_request_state_set_by_an_outer_middleware() -> None:
    app, exporter = build(http={"user": {"header": None, "state": "uid"}, "headers": {"X-Conn": "connection_id"}})

    class Auth:
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            scope.setdefault("state", {})["uid"] = ALICE
            await self.app(scope, receive, send)

    app.add_middleware(Auth)  # added after instrument_app, still runs before the check
    client = TestClient(app)
    client.get("/threads/x", headers={"X-Conn": ISSUE.connection(ALICE), "X-User-ID": BOB})
    assert "isolation_breach" not in server_span(exporter).attributes.get("id_monitor.findings", ())
    client.get("/threads/x", headers={"X-Conn": ISSUE.connection(BOB)})
    assert "isolation_breach" in server_span(exporter).attributes["id_monitor.findings"]


@pytest.mark.parametrize("asynchronous", [False, True])
def test_user_from_a_callable(asynchronous: bool) -> None:
    seen = []

    def sync_user(request: Request) -> str:
        seen.append(request.url.path)
        return request.headers["authorization"].removeprefix("Bearer ")

    async def async_user(request: Request) -> str:
        return sync_user(request)

    app, exporter = build(http={"headers": {"X-Conn": "connection_id"}},
                          user_source=async_user if asynchronous else sync_user)
    TestClient(app).get("/threads/x", headers={"X-Conn": ISSUE.connection(BOB), "Authorization": f"Bearer {ALICE}"})
    assert server_span(exporter).attributes["id_monitor.findings"][-1] == "isolation_breach"
    assert seen == ["/threads/x"]


def test_without_a_user_isolation_is_not_judged() -> None:
    app, exporter = build(http={"headers": {"X-Conn": "connection_id"}})
    TestClient(app).get(f"/threads/{ISSUE.thread()}", headers={"X-Conn": ISSUE.connection(BOB)})
    span = server_span(exporter)
    assert "id_monitor.findings" not in span.attributes
    assert span.attributes["id_monitor.connection_id.status"] == "target"


def test_body_is_buffered_and_replayed_untouched() -> None:
    app, exporter = build(http={"body_fields": ["thread_id"]})
    body = b'{"thread_id": "%s", "pad": "%s"}' % (LEGACY.encode(), b"z" * 200_000)
    response = TestClient(app).post("/echo", content=body, headers={"content-type": "application/json"})
    assert response.json()["size"] == len(body)
    assert response.json()["text"].encode() == body
    span = server_span(exporter)
    assert span.attributes["id_monitor.thread_id.status"] == "legacy"
    assert [(e.name, e.attributes["id_monitor.location"]) for e in span.events] == [("legacy_id", "body")]


def test_streamed_body_in_chunks_is_replayed() -> None:
    app, exporter = build(http={"body_fields": ["thread_id"]})
    chunks = [b'{"thread_id": ', b'"' + LEGACY.encode() + b'"', b", ", b'"x": 1}']
    response = TestClient(app).post("/echo", content=iter(chunks), headers={"content-type": "application/json"})
    assert response.json()["text"].encode() == b"".join(chunks)
    assert server_span(exporter).attributes["id_monitor.thread_id.status"] == "legacy"


def test_body_over_the_limit_is_skipped_counted_and_still_served() -> None:
    app, exporter = build(http={"body_fields": ["thread_id"], "max_body_bytes": 100})
    body = b'{"thread_id": "%s", "pad": "%s"}' % (LEGACY.encode(), b"z" * 1000)
    client = TestClient(app)
    assert client.post("/echo", content=body, headers={"content-type": "application/json"}).json()["size"] == len(body)
    chunked = client.post("/echo", content=iter([body[:50], body[50:]]), headers={"content-type": "application/json"})
    assert chunked.json()["size"] == len(body)
    assert sample(app, "id_monitor_messages_total", source="http", result="skipped") == 2.0
    exporter.clear()


def test_malformed_json_body_is_counted_and_left_to_the_app() -> None:
    app, _ = build(http={"body_fields": ["thread_id"]})
    response = TestClient(app).post("/typed", content=b'{"thread_id": ', headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert sample(app, "id_monitor_messages_total", source="http", result="malformed") == 1.0


def test_non_json_and_non_object_bodies_are_not_read_for_ids() -> None:
    app, exporter = build(http={"body_fields": ["thread_id"]})
    client = TestClient(app)
    client.post("/echo", content=b"thread_id=" + LEGACY.encode(), headers={"content-type": "application/x-www-form-urlencoded"})
    assert tagged(server_span(exporter)) == {}
    client.post("/echo", json=[{"thread_id": LEGACY}])
    assert tagged(server_span(exporter)) == {}
    client.post("/echo", json={"thread_id": 7}, headers={"content-type": "application/merge-patch+json"})
    span = server_span(exporter)
    assert span.attributes["id_monitor.thread_id.reason"] == "not_a_string"
    assert span.attributes["id_monitor.findings"] == ("not_a_string",)


def test_same_field_in_two_places_is_judged_in_both() -> None:
    app, exporter = build(http={"query_params": ["thread_id"]})
    TestClient(app).get(f"/threads/{ISSUE.thread()}?thread_id={LEGACY}")
    span = server_span(exporter)
    assert span.attributes["id_monitor.thread_id.status"] == "legacy"  # the worst of the two shows
    assert [(e.name, e.attributes["id_monitor.location"]) for e in span.events] == [("legacy_id", "query")]
    assert sample(app, "id_monitor_ids_total", source="http", field="thread_id", status="legacy", format="uuid4") == 1.0


def test_the_same_id_in_two_places_is_counted_once() -> None:
    """Defect: a field found in two places of one request was judged and counted twice."""
    app, exporter = build(http={"headers": {"x-thread-id": "thread_id"}})
    thread = ISSUE.thread()
    TestClient(app).get(f"/threads/{thread}", headers={"X-Thread-ID": thread})
    assert sample(app, "id_monitor_ids_total", source="http", field="thread_id", status="target", format="thread") == 1.0
    assert server_span(exporter).attributes["id_monitor.thread_id.status"] == "target"


def test_two_different_ids_of_one_field_are_both_counted_once() -> None:
    app, _ = build(http={"headers": {"x-thread-id": "thread_id"}})
    TestClient(app).get(f"/threads/{ISSUE.thread()}", headers={"X-Thread-ID": LEGACY})
    assert sample(app, "id_monitor_ids_total", source="http", field="thread_id", status="target", format="thread") == 1.0
    assert sample(app, "id_monitor_ids_total", source="http", field="thread_id", status="legacy", format="uuid4") == 1.0


def test_request_hook_sees_the_check_and_its_failures_are_contained() -> None:
    checks: list[RequestCheck] = []

    def hook(span: Any, scope: Any, check: RequestCheck) -> None:
        checks.append(check)
        span.set_attribute("app.checked", True)
        if len(checks) > 1:
            raise ValueError("hook bug")

    app, exporter = build(request_hook=hook)
    client = TestClient(app)
    assert client.get(f"/threads/{LEGACY}", headers={"X-User-ID": ALICE}).status_code == 200
    assert server_span(exporter).attributes["app.checked"] is True
    (check,) = checks
    assert check.user == ALICE
    assert [(loc, field, info.status) for loc, field, info in check.ids] == [("path", "thread_id", "legacy")]
    assert [(loc, f.rule) for loc, f in check.findings] == [("path", "legacy_id")]
    assert check.rejected_by is None
    assert client.get(f"/threads/{LEGACY}").status_code == 200
    assert app._id_monitor_layer.internal_errors == 1


class _Broken:
    def check_fields(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")


def _broken_engine() -> Any:
    import dataclasses

    from id_monitor.pipeline import build_engine

    config = load_config().model_copy(update={"http": HttpSpec(enforce=["isolation_breach"])})
    return dataclasses.replace(build_engine(config), judge=_Broken())


def test_internal_failure_fails_open_even_when_enforcing() -> None:
    app, _ = build(engine=_broken_engine())
    client = TestClient(app)
    for _ in range(2):
        assert client.get(f"/threads/{ISSUE.thread()}").status_code == 200
    assert app._id_monitor_layer.internal_errors == 2
    body = client.post("/typed", json={"a": 1})
    assert body.json() == {"a": 1}


def test_uninstrument_restores_the_app_and_instrument_is_idempotent() -> None:
    app, exporter = build()
    layer = app._id_monitor_layer
    assert instrument_app(app) is layer
    client = TestClient(app)
    client.get(f"/threads/{LEGACY}")
    assert tagged(server_span(exporter))
    uninstrument_app(app)
    assert not hasattr(app, "_id_monitor_layer")
    client.get(f"/threads/{LEGACY}")
    assert tagged(server_span(exporter)) == {}
    assert sample(app_with(layer), "id_monitor_ids_total", source="http", field="thread_id",
                  status="legacy", format="uuid4") == 1.0
    uninstrument_app(app)  # a second call is harmless


def app_with(layer: Any) -> Any:
    class Holder:
        _id_monitor_layer = layer

    return Holder()


def test_works_without_opentelemetry_instrumentation() -> None:
    app, exporter = build(otel=False)
    assert TestClient(app).get(f"/threads/{LEGACY}").status_code == 200
    assert exporter.get_finished_spans() == ()
    assert sample(app, "id_monitor_findings_total", source="http", field="thread_id",
                  rule="legacy_id", severity="warning") == 1.0


def test_enforcing_other_rules() -> None:
    app, _ = build(http={"enforce": ["unknown_format"]})
    client = TestClient(app)
    rejected = client.get("/threads/garbage")
    assert rejected.status_code == 403
    assert rejected.json()["rule"] == "unknown_format"
    assert "garbage" not in rejected.text
    assert client.get(f"/threads/{LEGACY}").status_code == 200


def test_websocket_breach_is_refused_at_handshake_when_enforcing() -> None:
    app, _ = build(http={"enforce": ["isolation_breach"]})
    client = TestClient(app)
    own = ISSUE.connection(ALICE)
    with client.websocket_connect(f"/ws/{own}", headers={"X-User-ID": ALICE}) as ws:
        assert ws.receive_text() == own
    with pytest.raises(WebSocketDisconnect) as refused, \
            client.websocket_connect(f"/ws/{ISSUE.connection(BOB)}", headers={"X-User-ID": ALICE}):
        pass
    assert refused.value.code == 1008
