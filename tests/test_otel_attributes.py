"""Attribute and exemplar helpers: key naming, traceparent parsing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from id_monitor.model import Finding, IdInfo
from id_monitor.otel.attributes import (
    exemplar_from_traceparent,
    field_keys,
    finding_event_attributes,
    id_attributes,
    worst_by_field,
)

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"


def test_field_names_become_otel_style_keys() -> None:
    assert field_keys("thread_id")[0] == "id_monitor.thread_id.status"
    assert field_keys("payload.Thread-Id") == (
        "id_monitor.payload_thread_id.status",
        "id_monitor.payload_thread_id.format",
        "id_monitor.payload_thread_id.type",
        "id_monitor.payload_thread_id.reason",
    )


def test_absent_parts_are_left_out() -> None:
    assert id_attributes("x", IdInfo("unknown", reason="no_match")) == {
        "id_monitor.x.status": "unknown", "id_monitor.x.reason": "no_match"}
    assert id_attributes("x", IdInfo("target", "thread", "thread", owner="alice_00")) == {
        "id_monitor.x.status": "target", "id_monitor.x.format": "thread", "id_monitor.x.type": "thread"}


def test_event_attributes_never_carry_the_id_or_detail() -> None:
    finding = Finding("isolation_breach", "connection_id", "violation", "ws_conn", "ws_conn",
                      id="ws_conn_bob_****", detail="owner bob_0000")
    attributes = finding_event_attributes(finding, "path")
    assert attributes == {"id_monitor.field": "connection_id", "id_monitor.severity": "violation",
                          "id_monitor.location": "path", "id_monitor.format": "ws_conn", "id_monitor.type": "ws_conn"}


def test_worst_status_wins_per_field() -> None:
    pairs = [("a", IdInfo("target")), ("a", IdInfo("unknown")), ("a", IdInfo("legacy")), ("b", IdInfo("legacy"))]
    assert {k: v.status for k, v in worst_by_field(pairs).items()} == {"a": "unknown", "b": "legacy"}


@pytest.mark.parametrize("header", [f"00-{TRACE}-{SPAN}-01", f"00-{TRACE}-{SPAN}-03".encode(),
                                    f" 00-{TRACE}-{SPAN}-01 ", f"01-{TRACE}-{SPAN}-01-future"])
def test_sampled_traceparent_gives_an_exemplar(header: str | bytes) -> None:
    assert exemplar_from_traceparent(header) == {"trace_id": TRACE, "span_id": SPAN}


@pytest.mark.parametrize("header", [
    None, "", f"00-{TRACE}-{SPAN}-00", f"00-{'0' * 32}-{SPAN}-01", f"00-{TRACE}-{'0' * 16}-01",
    f"00-{TRACE.upper()}-{SPAN}-01", f"ff-{TRACE}-{SPAN}-01", f"00-{TRACE}-{SPAN}-01-extra",
    f"00-{TRACE[:-1]}g-{SPAN}-01", "00-abc-def-01", b"\xff\xfe", "garbage",
])
def test_unsampled_or_malformed_traceparent_gives_none(header: str | bytes | None) -> None:
    assert exemplar_from_traceparent(header) is None


@given(st.one_of(st.text(max_size=80), st.binary(max_size=80)))
def test_traceparent_parsing_never_raises(header: str | bytes) -> None:
    result = exemplar_from_traceparent(header)
    assert result is None or (len(result["trace_id"]) == 32 and len(result["span_id"]) == 16)


def test_traceparent_with_non_hex_lookalikes_is_rejected() -> None:
    assert exemplar_from_traceparent(f"00-{TRACE[:30]}_1-{SPAN}-01") is None
    assert exemplar_from_traceparent(f"00-{TRACE}-{SPAN}- 1") is None
