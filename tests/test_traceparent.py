"""The one traceparent parser (W3C Trace Context), with the specification's own examples, used
for Kafka record headers and the OpenTelemetry layer alike."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from id_monitor.pipeline.traceparent import (
    TraceParent,
    exemplar_from_headers,
    exemplar_from_traceparent,
    parse_traceparent,
)

SPEC_SAMPLED = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
SPEC_UNSAMPLED = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"


def test_the_specifications_examples_parse() -> None:
    assert parse_traceparent(SPEC_SAMPLED) == TraceParent("00", "4bf92f3577b34da6a3ce929d0e0e4736",
                                                          "00f067aa0ba902b7", 1)
    assert parse_traceparent(SPEC_SAMPLED).sampled
    assert not parse_traceparent(SPEC_UNSAMPLED).sampled


def test_a_later_version_may_carry_more_fields() -> None:
    parsed = parse_traceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-will-be-like")
    assert parsed is not None and parsed.version == "cc" and parsed.sampled


@pytest.mark.parametrize("value", [
    "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",          # version ff is invalid
    "00-00000000000000000000000000000000-00f067aa0ba902b7-01",          # all-zero trace-id
    "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",          # all-zero parent-id
    "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",          # upper-case hex
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",    # version 00 has 4 fields
    "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",           # trace-id too short
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",           # parent-id too short
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",           # flags too short
    "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",           # version too short
    "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01what",      # no `-` after the flags
    "00-zzzz2f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "", "garbage", "00-abc-def-01",
])
def test_invalid_headers_are_rejected(value: str) -> None:
    assert parse_traceparent(value) is None
    assert parse_traceparent(value.encode()) is None


def test_undecodable_and_absent_headers() -> None:
    assert parse_traceparent(b"\xff\xfe") is None
    assert parse_traceparent(None) is None
    assert exemplar_from_headers(None) is None
    assert exemplar_from_headers([]) is None


def test_exemplars_only_for_sampled_traces_and_with_the_span_id() -> None:
    assert exemplar_from_traceparent(SPEC_SAMPLED) == {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
                                                       "span_id": "00f067aa0ba902b7"}
    assert exemplar_from_traceparent(SPEC_UNSAMPLED) is None
    headers = [("other", b"x"), ("Traceparent", SPEC_SAMPLED.encode())]
    assert exemplar_from_headers(headers) == exemplar_from_traceparent(SPEC_SAMPLED)


@given(st.one_of(st.text(max_size=80), st.binary(max_size=80)))
def test_never_raises_and_never_yields_a_label_that_is_not_lowercase_hex(value: str | bytes) -> None:
    parsed = parse_traceparent(value)
    if parsed is not None:
        assert len(parsed.trace_id) == 32 and len(parsed.parent_id) == 16
        assert set(parsed.trace_id + parsed.parent_id) <= set("0123456789abcdef")
