"""Redaction: the shape stays visible, owners and random parts never leak, output is bounded."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from id_monitor.model import IdInfo
from id_monitor.sinks.redact import MAX_SHOWN, redact, shape

CONN = "ws_conn_test_use_1757367656601_1_a2f73ae7"
CONN_INFO = IdInfo("target", "ws_conn", "ws_conn", "test_use", 1757367656601, 1, parts={"hex": "a2f73ae7"})


def test_mask_hides_owner_and_random_part_keeps_the_rest():
    assert redact(CONN, info=CONN_INFO) == "ws_conn_********_1757367656601_1_********"


def test_mask_msg_hides_thread_reference():
    value = "msg_user_abcdefgh_1c69903f_1757373103900_3_0badc0de"
    info = IdInfo(
        "target",
        "msg",
        "msg",
        "abcdefgh",
        1757373103900,
        3,
        parts={"thread8": "1c69903f", "type": "user", "hex": "0badc0de"},
    )
    assert redact(value, info=info) == "msg_user_********_********_1757373103900_3_********"


def test_mask_owner_that_looks_like_vocabulary():
    value = "agent_supervisor_supervis_1757929406592_2_a13ac404"
    info = IdInfo(
        "target",
        "agent",
        "agent",
        "supervis",
        1757929406592,
        2,
        parts={"agent_type": "supervisor", "hex": "a13ac404"},
    )
    assert redact(value, info=info) == "agent_supervisor_********_1757929406592_2_********"


def test_mask_without_timestamp_or_parts_still_hides_the_random_tail():
    info = IdInfo("target", "manager", "user", None, None, 1)
    assert redact("user_1_abcd1234", info=info) == "user_1_********"


@pytest.mark.parametrize(
    "value,fmt,expected",
    [
        ("87654321-8765-4321-cdef-876543210987", "uuid4", "********-****-****-****-************"),
        ("0123456789abcdef0123456789abcdef", "uuid4_hex", "*" * 32),
        ("thread_0123456789abcdef", "thread_hex16", "thread_" + "*" * 16),
        ("conn_deadbeef", "conn", "conn_********"),
    ],
)
def test_mask_legacy_keeps_only_the_word_prefix(value, fmt, expected):
    assert redact(value, info=IdInfo("legacy", fmt, None)) == expected


@pytest.mark.parametrize(
    "value,expected",
    [
        ("undefined", "aaaaaaaaa"),
        ("ID_PLACEHOLDER", "AA_AAAAAAAAAAA"),
        ("12345", "99999"),
        ("john.doe@example.com", "aaaa.aaa@aaaaaaa.aaa"),
        ("", ""),
    ],
)
def test_mask_unknown_shows_character_classes_only(value, expected):
    assert redact(value, info=IdInfo("unknown", reason="no_match")) == expected
    assert redact(value) == expected  # no classification: the same, content never shown


def test_hash_is_stable_short_and_distinct():
    a, b = redact(CONN, "hash"), redact(CONN + "x", "hash")
    assert a == redact(CONN, "hash", info=CONN_INFO)
    assert a.startswith("h:") and len(a) == 14 and a != b
    assert "test_use" not in a


def test_none_shows_the_id():
    assert redact(CONN, "none") == CONN


def test_unknown_mode_is_an_error():
    with pytest.raises(ValueError, match="unknown redact mode"):
        redact(CONN, "scramble")


def test_non_strings_show_their_type_only():
    assert redact(12345) == "<number>"
    assert redact({"a": "secret"}, "none") == "<object>"


@pytest.mark.parametrize("mode", ["mask", "none"])
def test_output_is_bounded(mode):
    shown = redact("x" * 100_000, mode)
    assert len(shown) < MAX_SHOWN + 20 and shown.endswith(f"(+{100_000 - MAX_SHOWN})")


def test_shape():
    assert shape("Temp_ID-12") == "Aaaa_AA-99"


@settings(max_examples=300, deadline=None)
@given(
    owner=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=3, max_size=8),
    ts=st.integers(1_500_000_000_000, 2_000_000_000_000),
    c=st.integers(1, 10**6),
    hex8=st.text(alphabet="0123456789abcdef", min_size=8, max_size=8),
)
def test_mask_never_reveals_owner_or_hex(owner, ts, c, hex8):
    value = f"ws_conn_{owner}_{ts}_{c}_{hex8}"
    info = IdInfo("target", "ws_conn", "ws_conn", owner, ts, c, parts={"hex": hex8})
    shown = redact(value, info=info)
    assert len(shown) == len(value)
    assert shown.startswith("ws_conn_" + "*" * len(owner) + "_")
    assert shown.endswith("_" + "*" * 8)
    assert f"_{ts}_{c}_" in shown
