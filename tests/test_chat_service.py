"""The example chat service over HTTP, with OpenTelemetry's FastAPI instrumentation and the
id-monitor layer: exact span attributes and events for target, legacy, unknown and breaching IDs
in path, header, query and body; enforcement on and off; the service's /metrics."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client.parser import text_string_to_metric_families

from examples.chat_service import create_app
from examples.chat_service.ids import IdIssuer
from id_monitor.classify import Classifier

ALICE, BOB = "alice_0001", "bob_00002"
LEGACY = "1b4e28ba-2fa1-41d2-883f-0016d3cca427"  # a canonical uuid4: the platform's old IDs
UNKNOWN = "not-an-id"
CLASSIFIER = Classifier("netra")


@dataclass
class Service:
    client: TestClient
    exporter: InMemorySpanExporter
    app: Any
    ids: dict[str, str]

    def request(self, method: str, url: str, *, user: str = ALICE, headers: dict | None = None,
                json: Any = None) -> Any:
        self.exporter.clear()
        return self.client.request(method, url, headers={"X-User-ID": user, **(headers or {})}, json=json)

    def server_span(self) -> Any:
        spans = [s for s in self.exporter.get_finished_spans() if s.kind is SpanKind.SERVER]
        assert len(spans) == 1, spans
        return spans[0]


def build_service(enforce: list[str] | None = None) -> Service:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = create_app(tracer_provider=provider, enforce=enforce)
    client = TestClient(app)
    ids: dict[str, str] = {}
    for who, user in (("a", ALICE), ("b", BOB)):
        head = {"X-User-ID": user}
        ids[f"thread_{who}"] = client.post("/threads", json={"title": who}, headers=head).json()["thread_id"]
        ids[f"conn_{who}"] = client.post("/connections", headers=head).json()["connection_id"]
        ids[f"session_{who}"] = client.post("/sessions", headers=head).json()["session_id"]
        posted = client.post(f"/threads/{ids[f'thread_{who}']}/messages", json={"text": "hi"}, headers=head)
        ids[f"msg_{who}"] = posted.json()["message_id"]
    ids["request"] = IdIssuer().request()
    return Service(client, exporter, app, ids)


@pytest.fixture
def service() -> Service:
    return build_service()


@pytest.fixture
def enforcing() -> Service:
    return build_service(["isolation_breach"])


def id_attributes(span: Any) -> dict[str, Any]:
    return {k: v for k, v in span.attributes.items() if k.startswith("id_monitor.")}


def described(field: str, value: str, status: str) -> dict[str, Any]:
    """The attributes a field must get: status as the case says, format/type/reason as classified."""
    info = CLASSIFIER.classify(value)
    assert info.status == status, (value, info)
    out: dict[str, Any] = {f"id_monitor.{field}.status": status}
    if info.format:
        out[f"id_monitor.{field}.format"] = info.format
    if info.id_type:
        out[f"id_monitor.{field}.type"] = info.id_type
    if info.reason:
        out[f"id_monitor.{field}.reason"] = info.reason
    return out


def event(rule: str, field: str, severity: str, location: str, value: str) -> tuple[str, dict[str, str]]:
    info = CLASSIFIER.classify(value)
    attributes = {"id_monitor.field": field, "id_monitor.severity": severity, "id_monitor.location": location}
    if info.format:
        attributes["id_monitor.format"] = info.format
    if info.id_type:
        attributes["id_monitor.type"] = info.id_type
    return rule, attributes


@dataclass
class Case:
    name: str
    method: str
    url: Callable[[dict], str]
    ids: Callable[[dict], list[tuple[str, str, str]]]  # (field, value, status)
    events: Callable[[dict], list[tuple[str, str, str, str, str]]]  # (rule, field, severity, location, value)
    status_code: int
    headers: Callable[[dict], dict] = lambda s: {}
    body: Callable[[dict], Any] = lambda s: None


def _msg_body(value: str) -> Callable[[dict], Any]:
    return lambda s: {"text": "hello", "connection_id": value if value != "@b" else s["conn_b"]}


CASES = [
    # path parameters
    Case("path-target", "GET", lambda s: f"/threads/{s['thread_a']}",
         lambda s: [("thread_id", s["thread_a"], "target")], lambda s: [], 200),
    Case("path-legacy", "GET", lambda s: f"/threads/{LEGACY}",
         lambda s: [("thread_id", LEGACY, "legacy")],
         lambda s: [("legacy_id", "thread_id", "warning", "path", LEGACY)], 404),
    Case("path-unknown", "GET", lambda s: f"/threads/{UNKNOWN}",
         lambda s: [("thread_id", UNKNOWN, "unknown")],
         lambda s: [("unknown_format", "thread_id", "violation", "path", UNKNOWN)], 404),
    Case("path-breach", "DELETE", lambda s: f"/connections/{s['conn_b']}",
         lambda s: [("connection_id", s["conn_b"], "target")],
         lambda s: [("isolation_breach", "connection_id", "violation", "path", s["conn_b"])], 404),
    # headers
    Case("header-target", "GET", lambda s: "/threads",
         lambda s: [("request_id", s["request"], "target")], lambda s: [], 200,
         headers=lambda s: {"X-Request-ID": s["request"]}),
    Case("header-legacy", "GET", lambda s: "/threads",
         lambda s: [("request_id", LEGACY, "legacy")],
         lambda s: [("legacy_id", "request_id", "warning", "header", LEGACY)], 200,
         headers=lambda s: {"X-Request-ID": LEGACY}),
    Case("header-unknown", "GET", lambda s: "/threads",
         lambda s: [("request_id", UNKNOWN, "unknown")],
         lambda s: [("unknown_format", "request_id", "violation", "header", UNKNOWN)], 200,
         headers=lambda s: {"X-Request-ID": UNKNOWN}),
    Case("header-breach", "GET", lambda s: "/threads",
         lambda s: [("session_id", s["session_b"], "target")],
         lambda s: [("isolation_breach", "session_id", "violation", "header", s["session_b"])], 200,
         headers=lambda s: {"X-Session-ID": s["session_b"]}),
    # query parameters (?after=<message id>)
    Case("query-target", "GET", lambda s: f"/threads/{s['thread_a']}/messages?after={s['msg_a']}",
         lambda s: [("thread_id", s["thread_a"], "target"), ("message_id", s["msg_a"], "target")],
         lambda s: [], 200),
    Case("query-legacy", "GET", lambda s: f"/threads/{s['thread_a']}/messages?after={LEGACY}",
         lambda s: [("thread_id", s["thread_a"], "target"), ("message_id", LEGACY, "legacy")],
         lambda s: [("legacy_id", "message_id", "warning", "query", LEGACY)], 200),
    Case("query-unknown", "GET", lambda s: f"/threads/{s['thread_a']}/messages?after={UNKNOWN}",
         lambda s: [("thread_id", s["thread_a"], "target"), ("message_id", UNKNOWN, "unknown")],
         lambda s: [("unknown_format", "message_id", "violation", "query", UNKNOWN)], 200),
    Case("query-breach", "GET", lambda s: f"/threads/{s['thread_a']}/messages?after={s['msg_b']}",
         lambda s: [("thread_id", s["thread_a"], "target"), ("message_id", s["msg_b"], "target")],
         # Bob's message is bob's (owner) and belongs to bob's thread (thread8): two findings.
         lambda s: [("isolation_breach", "message_id", "violation", "query", s["msg_b"]),
                    ("mismatched_reference", "message_id", "violation", "query", s["msg_b"])], 200),
    # JSON body fields
    Case("body-target", "POST", lambda s: f"/threads/{s['thread_a']}/messages",
         lambda s: [("thread_id", s["thread_a"], "target"), ("connection_id", s["conn_a"], "target")],
         lambda s: [], 201, body=lambda s: {"text": "hello", "connection_id": s["conn_a"]}),
    Case("body-legacy", "POST", lambda s: f"/threads/{s['thread_a']}/messages",
         lambda s: [("thread_id", s["thread_a"], "target"), ("connection_id", LEGACY, "legacy")],
         lambda s: [("legacy_id", "connection_id", "warning", "body", LEGACY)], 404,
         body=lambda s: {"text": "hello", "connection_id": LEGACY}),
    Case("body-unknown", "POST", lambda s: f"/threads/{s['thread_a']}/messages",
         lambda s: [("thread_id", s["thread_a"], "target"), ("connection_id", UNKNOWN, "unknown")],
         lambda s: [("unknown_format", "connection_id", "violation", "body", UNKNOWN)], 404,
         body=lambda s: {"text": "hello", "connection_id": UNKNOWN}),
    Case("body-breach", "POST", lambda s: f"/threads/{s['thread_a']}/messages",
         lambda s: [("thread_id", s["thread_a"], "target"), ("connection_id", s["conn_b"], "target")],
         lambda s: [("isolation_breach", "connection_id", "violation", "body", s["conn_b"])], 201,
         body=lambda s: {"text": "hello", "connection_id": s["conn_b"]}),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_server_span_carries_exact_id_attributes_and_events(service: Service, case: Case) -> None:
    s = service.ids
    response = service.request(case.method, case.url(s), headers=case.headers(s), json=case.body(s))
    assert response.status_code == case.status_code, response.text

    span = service.server_span()
    expected: dict[str, Any] = {}
    for field, value, status in case.ids(s):
        expected.update(described(field, value, status))
    expected_events = [event(*e) for e in case.events(s)]
    if expected_events:
        expected["id_monitor.findings"] = tuple(dict.fromkeys(rule for rule, _ in expected_events))
    assert id_attributes(span) == expected
    assert sorted((e.name, dict(e.attributes)) for e in span.events) == sorted(expected_events)


def test_no_attribute_ever_holds_an_id_value(service: Service) -> None:
    s = service.ids
    for case in CASES:
        service.request(case.method, case.url(s), headers=case.headers(s), json=case.body(s))
        span = service.server_span()
        written = list(id_attributes(span).values()) + [v for e in span.events for v in e.attributes.values()]
        for value in list(s.values()) + [LEGACY, UNKNOWN]:
            assert value not in written, (case.name, value)


def test_target_ids_issued_by_the_service_name_their_types(service: Service) -> None:
    s = service.ids
    expected_types = {"thread_a": "thread", "conn_a": "ws_conn", "session_a": "session", "msg_a": "msg",
                      "request": "req"}
    for key, id_type in expected_types.items():
        info = CLASSIFIER.classify(s[key])
        assert (info.status, info.id_type) == ("target", id_type), (s[key], info)
    assert CLASSIFIER.classify(s["conn_a"]).owner == ALICE[:8]
    assert CLASSIFIER.classify(s["msg_b"]).owner == BOB[:8]


def test_clean_flow_has_no_findings(service: Service) -> None:
    s = service.ids
    thread = service.request("POST", "/threads", json={"title": "plans"}).json()["thread_id"]
    service.request("POST", f"/threads/{thread}/messages", json={"text": "one", "connection_id": s["conn_a"]},
                    headers={"X-Request-ID": s["request"], "X-Session-ID": s["session_a"]})
    span = service.server_span()
    assert "id_monitor.findings" not in span.attributes
    assert span.attributes["id_monitor.session_id.status"] == "target"
    assert list(span.events) == []
    listed = service.request("GET", "/threads").json()["threads"]
    assert {t["thread_id"] for t in listed} == {s["thread_a"], thread}


def test_enforcement_rejects_breach_in_body_and_the_message_is_not_stored(enforcing: Service) -> None:
    s = enforcing.ids
    store = enforcing.app.state.store
    before = store.message_count()
    response = enforcing.request("POST", f"/threads/{s['thread_a']}/messages",
                                 json={"text": "leak", "connection_id": s["conn_b"]})
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 403
    assert problem["rule"] == "isolation_breach"
    assert problem["field"] == "connection_id"
    assert problem["location"] == "body"
    assert set(problem) >= {"type", "title", "status", "detail"}
    assert "isolation_breach" in problem["detail"] and "connection_id" in problem["detail"]
    assert s["conn_b"] not in response.text and BOB[:8] not in response.text
    assert store.message_count() == before
    span = enforcing.server_span()
    assert span.attributes["id_monitor.rejected"] is True
    # The status key depends on the semantic-conventions opt-in of the FastAPI instrumentation.
    status_key = "http.response.status_code" if "http.response.status_code" in span.attributes else "http.status_code"
    assert span.attributes[status_key] == 403


def test_enforcement_rejects_breach_in_path_and_the_connection_stays_open(enforcing: Service) -> None:
    s = enforcing.ids
    response = enforcing.request("DELETE", f"/connections/{s['conn_b']}")
    assert response.status_code == 403
    assert response.json()["location"] == "path"
    assert enforcing.app.state.store.connections[s["conn_b"]].open
    # The owner can still close it: enforcement judges IDs against the requesting user.
    assert enforcing.request("DELETE", f"/connections/{s['conn_b']}", user=BOB).status_code == 204


def test_enforcement_lets_clean_and_merely_legacy_requests_through(enforcing: Service) -> None:
    s = enforcing.ids
    ok = enforcing.request("POST", f"/threads/{s['thread_a']}/messages",
                           json={"text": "fine", "connection_id": s["conn_a"]}, headers={"X-Request-ID": LEGACY})
    assert ok.status_code == 201
    assert enforcing.server_span().attributes["id_monitor.findings"] == ("legacy_id",)


def _samples(text: str, name: str) -> dict[tuple, float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                out[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def test_breach_without_enforcement_succeeds_and_is_counted(service: Service) -> None:
    s = service.ids
    store = service.app.state.store
    before = store.message_count()
    response = service.request("POST", f"/threads/{s['thread_a']}/messages",
                               json={"text": "leak", "connection_id": s["conn_b"]})
    assert response.status_code == 201
    assert store.message_count() == before + 1
    text = service.client.get("/metrics").text
    findings = _samples(text, "id_monitor_findings_total")
    key = (("field", "connection_id"), ("rule", "isolation_breach"), ("severity", "violation"), ("source", "http"))
    assert findings[key] == 1.0


def test_metrics_endpoint_shows_http_series_with_exact_counts(service: Service) -> None:
    s = service.ids
    base = _samples(service.client.get("/metrics").text, "id_monitor_ids_total")
    service.request("GET", f"/threads/{s['thread_a']}/messages?after={LEGACY}")
    after = _samples(service.client.get("/metrics").text, "id_monitor_ids_total")
    changed = {k: after[k] - base.get(k, 0.0) for k in after if after[k] != base.get(k, 0.0)}
    legacy_format = CLASSIFIER.classify(LEGACY).format
    thread_format = CLASSIFIER.classify(s["thread_a"]).format
    assert changed == {
        (("field", "thread_id"), ("format", thread_format), ("source", "http"), ("status", "target")): 1.0,
        (("field", "message_id"), ("format", legacy_format), ("source", "http"), ("status", "legacy")): 1.0,
    }
    messages = _samples(service.client.get("/metrics").text, "id_monitor_messages_total")
    assert messages[(("result", "ok"), ("source", "http"))] >= 1.0
    for labels in after:
        assert dict(labels)["source"] in {"http", "other"}


def test_openmetrics_exposition_links_findings_to_the_server_span_trace(service: Service) -> None:
    s = service.ids
    service.request("DELETE", f"/connections/{s['conn_b']}")
    trace_id = f"{service.server_span().context.trace_id:032x}"
    response = service.client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    line = next(
        line for line in response.text.splitlines()
        if line.startswith("id_monitor_findings_total{")
        and 'rule="isolation_breach"' in line and 'field="connection_id"' in line and 'source="http"' in line
    )
    match = re.search(r' # \{([^}]*)\} 1\.0', line)
    assert match, line
    assert f'trace_id="{trace_id}"' in match.group(1)


def test_service_without_the_layer_tags_nothing() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    client = TestClient(create_app(tracer_provider=provider, id_monitor=False))
    thread = client.post("/threads", json={}, headers={"X-User-ID": ALICE}).json()["thread_id"]
    client.get(f"/threads/{thread}", headers={"X-User-ID": ALICE})
    server = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert server and all(not id_attributes(s) for s in server)
    assert "id_monitor_ids_total" not in client.get("/metrics").text
