"""OpenTelemetry's own URL attributes (`http.target`, `http.url`) carry no raw ID once the scrub
hook is installed: a real FastAPI app, the real instrumentation, exported spans."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from id_monitor.config import load_config
from id_monitor.otel.scrub import URL_ATTRIBUTES, UrlScrubber, server_request_hook
from id_monitor.pipeline import build_engine

THREAD = "thread_chat_1757372478799_528_584ef8a5"
CONN = "ws_conn_test_use_1757367656601_1_a2f73ae7"
LEGACY = "1b4e28ba-2fa1-41d2-883f-0016d3cca427"
ENGINE = build_engine(load_config(env={}), track_owners=False)


def served_span(hook) -> dict:
    app = FastAPI()

    @app.get("/threads/{thread_id}")
    def thread(thread_id: str) -> dict[str, str]:
        return {"ok": "yes"}

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider, server_request_hook=hook)
    assert TestClient(app).get(f"/threads/{THREAD}?connection_id={CONN}&legacy={LEGACY}&page=2").status_code == 200
    (span,) = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]
    return dict(span.attributes)


def test_without_the_hook_the_instrumentation_exports_raw_ids() -> None:
    attributes = served_span(None)
    assert any(THREAD in str(attributes.get(key, "")) for key in URL_ATTRIBUTES)


def test_the_hook_leaves_no_raw_id_in_any_url_attribute() -> None:
    calls = []
    attributes = served_span(server_request_hook(ENGINE, then=lambda span, scope: calls.append(scope["path"])))
    urls = {key: attributes[key] for key in URL_ATTRIBUTES if key in attributes}
    assert urls, attributes
    for value in urls.values():
        for raw in (THREAD, CONN, LEGACY, "test_use", "a2f73ae7", "584ef8a5"):
            assert raw not in value, (value, raw)
        assert "page=2" in value or "?" not in value  # plain values stay
    assert any("thread_chat_1757372478799_528_********" in v for v in urls.values())
    assert calls == [f"/threads/{THREAD}"]  # a chained hook still runs


def test_scrubbing_a_url_keeps_its_structure() -> None:
    scrubber = UrlScrubber(ENGINE)
    assert scrubber.url("http://h:8000/a/b?x=1#top") == "http://h:8000/a/b?x=1#top"
    scrubbed = scrubber.url(f"https://h/threads/{THREAD}/runs?q=undefined&id=order-12345678")
    assert scrubbed.startswith("https://h/threads/thread_chat_1757372478799_528_") and "/runs?q=undefined&id=" in scrubbed
    assert "12345678" not in scrubbed
