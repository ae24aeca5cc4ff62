"""The platform's documented ID examples and the overlaps the most-specific-wins rule must settle."""

from __future__ import annotations

import pytest

from id_monitor.classify import Classifier


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier("netra")


@pytest.mark.parametrize(
    ("value", "fmt", "id_type", "owner", "ts", "counter", "parts"),
    [
        ("ws_conn_test_use_1757367656601_1_a2f73ae7", "ws_conn", "ws_conn", "test_use",
         1757367656601, 1, {"hex": "a2f73ae7"}),
        ("agent_supervisor_test_use_1757929406592_2_a13ac404", "agent", "agent", "test_use",
         1757929406592, 2, {"agent_type": "supervisor", "hex": "a13ac404"}),
        ("thread_session_1757373103822_2_1c69903f", "thread", "thread", None, 1757373103822, 2,
         {"op": "session", "hex": "1c69903f"}),
        ("user_1_abcd1234", "manager", "user", None, None, 1, {"idtype": "user", "hex": "abcd1234"}),
    ],
)
def test_design_examples(classifier, value, fmt, id_type, owner, ts, counter, parts):
    info = classifier.classify(value)
    assert (info.status, info.format, info.id_type, info.owner, info.timestamp_ms, info.counter) == (
        "target", fmt, id_type, owner, ts, counter)
    assert dict(info.parts) == parts


def test_uuid_shaped_legacy(classifier):
    info = classifier.classify("87654321-8765-4321-cdef-876543210987")
    assert (info.status, info.format, info.id_type) == ("legacy", "uuid_shaped", "uuid")
    assert info.parts["variant"] == "non_rfc"
    real = classifier.classify("f47ac10b-58cc-4372-a567-0e02b2c3d479")
    assert (real.status, real.format) == ("legacy", "uuid4")


def test_ws_conn_beats_base(classifier):
    # `ws_conn_test_use` is also a valid base prefix; the literal-led format must win.
    assert classifier.classify("ws_conn_testuser_1757367656601_1_a2f73ae7").format == "ws_conn"
