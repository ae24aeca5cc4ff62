"""The span sink: attribute key naming, what an attribute or event may carry (never the ID)."""

from __future__ import annotations

from id_monitor.model import Finding, IdInfo
from id_monitor.sinks.redact import Redactor
from id_monitor.sinks.spans import (
    field_keys,
    finding_event_attributes,
    id_attributes,
    worst_by_field,
)

def test_field_names_become_otel_style_keys() -> None:
    assert field_keys("thread_id")[0] == "id_monitor.thread_id.status"
    assert field_keys("payload.Thread-Id") == (
        "id_monitor.payload_thread_id.status",
        "id_monitor.payload_thread_id.format",
        "id_monitor.payload_thread_id.type",
        "id_monitor.payload_thread_id.reason",
    )


REDACTOR = Redactor("mask", {"thread", "ws_conn"})


def test_absent_parts_are_left_out() -> None:
    assert id_attributes("x", IdInfo("unknown", reason="no_match"), REDACTOR) == {
        "id_monitor.x.status": "unknown", "id_monitor.x.reason": "no_match"}
    assert id_attributes("x", IdInfo("target", "thread", "thread", owner="alice_00"), REDACTOR) == {
        "id_monitor.x.status": "target", "id_monitor.x.format": "thread", "id_monitor.x.type": "thread"}


def test_an_id_type_from_the_id_itself_is_never_written_raw() -> None:
    info = IdInfo("target", "base", "secretmarkbase")
    assert id_attributes("x", info, REDACTOR)["id_monitor.x.type"] == "other"
    assert id_attributes("x", info, Redactor("none"))["id_monitor.x.type"] == "secretmarkbase"
    event = finding_event_attributes(Finding("legacy_id", "x", "warning", "v", info), REDACTOR)
    assert event["id_monitor.type"] == "other"


def test_event_attributes_never_carry_the_id_or_detail() -> None:
    info = IdInfo("target", "ws_conn", "ws_conn", owner="bob_0000")
    finding = Finding("isolation_breach", "connection_id", "violation", "ws_conn_bob_0000_1_2_abcdef12", info,
                      detail="owner bob_0000", location="path")
    attributes = finding_event_attributes(finding, REDACTOR)
    assert attributes == {"id_monitor.field": "connection_id", "id_monitor.severity": "violation",
                          "id_monitor.location": "path", "id_monitor.format": "ws_conn", "id_monitor.type": "ws_conn"}


def test_worst_status_wins_per_field() -> None:
    pairs = [("a", IdInfo("target")), ("a", IdInfo("unknown")), ("a", IdInfo("legacy")), ("b", IdInfo("legacy"))]
    assert {k: v.status for k, v in worst_by_field(pairs).items()} == {"a": "unknown", "b": "legacy"}
