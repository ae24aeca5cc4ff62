"""IdSpanProcessor on a real SDK TracerProvider with an in-memory exporter: exact attributes,
findings, the cache, hostile attribute values, metrics with exemplars."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from prometheus_client import CollectorRegistry
from prometheus_client.openmetrics.exposition import generate_latest

from examples.chat_service.ids import IdIssuer
from id_monitor.classify import Classifier
from id_monitor.config import load_config
from id_monitor.sinks.metrics import IdMetrics
from id_monitor.otel import IdSpanProcessor
from id_monitor.config.http import HttpSpec
from id_monitor.model import RULES

ALICE, BOB = "alice_0001", "bob_00002"
LEGACY = "1b4e28ba-2fa1-41d2-883f-0016d3cca427"
ISSUE = IdIssuer()
CLASSIFIER = Classifier("netra")
KEY = re.compile(r"^id_monitor(\.[a-z0-9_]+)+$")


def tracer_with(processor: IdSpanProcessor, sampler: Sampler | None = None) -> tuple[Any, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=sampler) if sampler else TracerProvider()
    provider.add_span_processor(processor)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("test"), exporter


def tagged(span: Any) -> dict[str, Any]:
    return {k: v for k, v in span.attributes.items() if k.startswith("id_monitor.")}


def one_span(processor: IdSpanProcessor, attributes: dict[str, Any], **kwargs: Any) -> Any:
    tracer, exporter = tracer_with(processor)
    tracer.start_span("work", attributes=attributes, **kwargs).end()
    (span,) = exporter.get_finished_spans()
    return span


def described(field: str, value: str) -> dict[str, Any]:
    info = CLASSIFIER.classify(value)
    out: dict[str, Any] = {f"id_monitor.{field}.status": info.status}
    if info.format:
        out[f"id_monitor.{field}.format"] = info.format
    if info.id_type:
        out[f"id_monitor.{field}.type"] = info.id_type
    if info.reason:
        out[f"id_monitor.{field}.reason"] = info.reason
    return out


def test_target_ids_of_the_span_user_get_metadata_and_no_findings() -> None:
    session = ISSUE.session(ALICE)
    message = ISSUE.message("user", ALICE, ISSUE.thread())
    span = one_span(IdSpanProcessor(), {"session.id": session, "messaging.message.id": message,
                                        "http.route": "/x"})
    assert tagged(span) == {
        "id_monitor.session_id.status": "target",
        "id_monitor.session_id.format": CLASSIFIER.classify(session).format,
        "id_monitor.session_id.type": "session",
        "id_monitor.message_id.status": "target",
        "id_monitor.message_id.format": CLASSIFIER.classify(message).format,
        "id_monitor.message_id.type": "msg",
    }
    assert span.attributes["http.route"] == "/x"


def test_breach_against_enduser_is_a_finding() -> None:
    session = ISSUE.session(BOB)
    span = one_span(IdSpanProcessor(), {"enduser.id": ALICE, "session.id": session})
    expected = {**described("enduser_id", ALICE), **described("session_id", session)}
    # enduser.id is itself judged: a test-style user id is no generated ID.
    expected["id_monitor.findings"] = ("unknown_format", "isolation_breach")
    assert tagged(span) == expected


def test_same_owner_is_no_breach() -> None:
    span = one_span(IdSpanProcessor(), {"enduser.id": ALICE, "session.id": ISSUE.session(ALICE)})
    assert "isolation_breach" not in span.attributes["id_monitor.findings"]


def test_legacy_and_unknown_values() -> None:
    span = one_span(IdSpanProcessor(), {"session.id": LEGACY, "messaging.kafka.message.key": "???"})
    assert tagged(span) == {
        **described("session_id", LEGACY),
        **described("message_key", "???"),
        "id_monitor.findings": ("legacy_id", "unknown_format"),
    }
    assert span.attributes["id_monitor.session_id.status"] == "legacy"
    assert span.attributes["id_monitor.message_key.reason"] == "no_match"


def test_span_without_id_attributes_is_left_alone() -> None:
    span = one_span(IdSpanProcessor(), {"http.method": "GET"})
    assert tagged(span) == {}
    span = one_span(IdSpanProcessor(), {})
    assert tagged(span) == {}


def test_configured_app_attribute_is_judged_against_its_field_expectations() -> None:
    config = load_config().model_copy(
        update={"http": HttpSpec(span_attributes={"app.thread.id": "thread_id"})}
    )
    run = ISSUE.run()
    span = one_span(IdSpanProcessor(config), {"app.thread.id": run, "session.id": LEGACY})
    assert tagged(span) == {**described("thread_id", run), "id_monitor.findings": ("unexpected_type",)}


def test_attribute_keys_follow_otel_naming_and_never_hold_an_id() -> None:
    values = {"enduser.id": ALICE, "session.id": ISSUE.session(BOB), "messaging.message.id": LEGACY}
    span = one_span(IdSpanProcessor(), values)
    for key, value in tagged(span).items():
        assert KEY.match(key), key
        assert value not in values.values()
        assert not (isinstance(value, str) and BOB[:8] in value)


def test_repeated_values_are_judged_once_within_the_reuse_window() -> None:
    processor = IdSpanProcessor(reuse_ms=60_000)
    calls = []
    real = processor._judge.check_fields

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return real(*args, **kwargs)

    processor._judge.check_fields = counting  # type: ignore[method-assign]
    tracer, exporter = tracer_with(processor)
    attrs = {"enduser.id": ALICE, "session.id": ISSUE.session(ALICE)}
    t0 = 1_800_000_000_000_000_000
    for i in range(5):
        tracer.start_span("s", attributes=attrs, start_time=t0 + i * 1_000_000_000).end()
    assert len(calls) == 1
    tracer.start_span("s", attributes=attrs, start_time=t0 + 61 * 1_000_000_000).end()
    assert len(calls) == 2  # timestamp_skew depends on the clock: old verdicts expire
    tracer.start_span("s", attributes={**attrs, "session.id": LEGACY}, start_time=t0).end()
    assert len(calls) == 3
    spans = exporter.get_finished_spans()
    assert all(tagged(s) == tagged(spans[0]) for s in spans[:6])


def test_cache_is_bounded() -> None:
    processor = IdSpanProcessor(cache_size=8)
    tracer, _ = tracer_with(processor)
    for i in range(100):
        tracer.start_span("s", attributes={"session.id": f"value-{i}"}).end()
    assert len(processor._cache) <= 8


HOSTILE = [
    {"session.id": 12345},
    {"session.id": 3.5, "enduser.id": True},
    {"session.id": "x" * 5_000_000},
    {"session.id": ["a", "b", LEGACY]},
    {"session.id": ["y" * 100_000] * 50},
    {"session.id": list(range(1000))},
    {"session.id": ("",)},
    {"session.id": ""},
    {"session.id": b"\xff\x00bytes"},
    {"enduser.id": "x" * 1_000_000, "session.id": ISSUE.session(ALICE)},
    {"session.id": "\x00\udcff\u202e"},
]


@pytest.mark.parametrize("attributes", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_values_never_raise_and_are_tagged(attributes: dict[str, Any]) -> None:
    processor = IdSpanProcessor()
    span = one_span(processor, attributes)
    assert processor.internal_errors == 0
    written = tagged(span)
    assert written, "hostile values are judged, not skipped"
    assert written.get("id_monitor.session_id.status", "unknown") in {"target", "legacy", "unknown"}
    for value in written.values():
        assert not (isinstance(value, str) and len(value) > 64)
    assert len(processor._cache) <= 1


def test_non_string_and_too_long_values_say_why() -> None:
    processor = IdSpanProcessor()
    span = one_span(processor, {"session.id": 42, "messaging.message.id": "m" * 10_000})
    assert span.attributes["id_monitor.session_id.reason"] == "not_a_string"
    assert span.attributes["id_monitor.message_id.reason"] == "too_long"
    assert "not_a_string" in span.attributes["id_monitor.findings"]


def test_list_value_shows_the_worst_id() -> None:
    span = one_span(IdSpanProcessor(), {"session.id": [ISSUE.session(ALICE), LEGACY], "enduser.id": ALICE})
    assert span.attributes["id_monitor.session_id.status"] == "legacy"


class _Broken:
    def check_fields(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")


def test_internal_failure_is_counted_never_raised(caplog: pytest.LogCaptureFixture) -> None:
    import dataclasses

    from id_monitor.pipeline import build_engine

    engine = dataclasses.replace(build_engine(load_config(), track_owners=False), judge=_Broken())
    processor = IdSpanProcessor(engine=engine)
    tracer, exporter = tracer_with(processor)
    for _ in range(3):
        with tracer.start_as_current_span("s", attributes={"session.id": ISSUE.session(ALICE)}):
            pass
    assert processor.internal_errors == 3
    assert len(exporter.get_finished_spans()) == 3
    assert sum("span processor failed" in r.getMessage() for r in caplog.records) == 1


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(
    st.sampled_from(["enduser.id", "session.id", "messaging.message.id", "messaging.kafka.message.key", "other"]),
    st.one_of(
        st.text(max_size=300), st.integers(), st.floats(allow_nan=True), st.booleans(),
        st.lists(st.text(max_size=40), max_size=20), st.lists(st.integers(), max_size=5),
    ),
))
def test_property_any_attribute_values(attributes: dict[str, Any]) -> None:
    processor = IdSpanProcessor()
    span = one_span(processor, attributes)
    assert processor.internal_errors == 0
    formats = set(CLASSIFIER.schema.format_names())
    for key, value in tagged(span).items():
        assert KEY.match(key), key
        if key.endswith(".status"):
            assert value in {"target", "legacy", "unknown"}
        elif key.endswith(".format"):
            assert value in formats
        elif key == "id_monitor.findings":
            assert set(value) <= set(RULES)


class _RecordOnly(Sampler):
    """Records spans (processors run) without sampling them (they are never exported)."""

    def should_sample(self, parent_context: Any, trace_id: int, name: str, kind: Any = None,
                      attributes: Any = None, links: Any = None, trace_state: Any = None) -> SamplingResult:
        return SamplingResult(Decision.RECORD_ONLY, attributes)

    def get_description(self) -> str:
        return "record-only"


def _metrics() -> IdMetrics:
    config = load_config()
    return IdMetrics(config, CLASSIFIER.schema, ["span"], CollectorRegistry())


def test_metrics_count_span_ids_with_exemplar_of_sampled_trace() -> None:
    metrics = _metrics()
    processor = IdSpanProcessor(metrics=metrics)
    tracer, exporter = tracer_with(processor)
    session = ISSUE.session(BOB)
    tracer.start_span("s", attributes={"enduser.id": ALICE, "session.id": session}).end()
    (span,) = exporter.get_finished_spans()
    registry = metrics.registry
    assert registry.get_sample_value(
        "id_monitor_findings_total",
        {"source": "span", "field": "session_id", "rule": "isolation_breach", "severity": "violation"},
    ) == 1.0
    assert registry.get_sample_value(
        "id_monitor_ids_total",
        {"source": "span", "field": "session_id", "status": "target", "format": CLASSIFIER.classify(session).format},
    ) == 1.0
    exposition = generate_latest(registry).decode()
    trace_id = f"{span.context.trace_id:032x}"
    breach = next(line for line in exposition.splitlines()
                  if line.startswith("id_monitor_findings_total{") and 'rule="isolation_breach"' in line
                  and 'source="span"' in line and 'field="session_id"' in line)
    assert f'trace_id="{trace_id}"' in breach


def test_unsampled_spans_are_counted_without_exemplar() -> None:
    metrics = _metrics()
    processor = IdSpanProcessor(metrics=metrics)
    tracer, exporter = tracer_with(processor, sampler=_RecordOnly())
    tracer.start_span("s", attributes={"enduser.id": ALICE, "session.id": ISSUE.session(BOB)}).end()
    assert exporter.get_finished_spans() == ()
    exposition = generate_latest(metrics.registry).decode()
    breach = next(line for line in exposition.splitlines()
                  if line.startswith("id_monitor_findings_total{") and 'rule="isolation_breach"' in line
                  and 'source="span"' in line and 'field="session_id"' in line)
    assert breach.endswith(" 1.0") and "trace_id" not in breach


class _PlainSpan:
    """A span implementation other than the SDK's: only the public interface."""

    def __init__(self, attributes: dict[str, Any]) -> None:
        self.attributes = dict(attributes)
        self.start_time = None

    def set_attributes(self, attributes: dict[str, Any]) -> None:
        self.attributes.update(attributes)

    def get_span_context(self) -> Any:
        from opentelemetry.trace import INVALID_SPAN_CONTEXT

        return INVALID_SPAN_CONTEXT


def test_spans_without_sdk_internals_use_the_public_attributes() -> None:
    processor = IdSpanProcessor(metrics=_metrics())
    span = _PlainSpan({"session.id": LEGACY})
    processor.on_start(span)  # type: ignore[arg-type]
    assert processor.internal_errors == 0
    assert span.attributes["id_monitor.session_id.status"] == "legacy"
