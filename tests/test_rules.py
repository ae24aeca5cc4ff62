"""Each policy rule unit on its own, with hand-built IdInfo values: its static guard (`applies`, per
field and format) and its run-time behaviour (fires, and does not fire)."""

from __future__ import annotations

import pytest

from id_monitor.judge import rules
from id_monitor.judge.rules import FieldPolicy, FormatFacts, Message, new_message
from id_monitor.model import RULES, IdInfo

CONN = "ws_conn_test_use_1757367656601_1_a2f73ae7"
CONN_INFO = IdInfo("target", "ws_conn", "ws_conn", "test_use", 1757367656601, 1, parts={"hex": "a2f73ae7"})
THREAD = "thread_session_1757373103822_2_1c69903f"
MSG = "msg_user_test_use_1c69903f_1757373103900_3_0badc0de"
MSG_INFO = IdInfo("target", "msg", "msg", "test_use", 1757373103900, 3,
                  parts={"thread8": "1c69903f", "type": "user", "hex": "0badc0de"})
UUID = "87654321-8765-4321-cdef-876543210987"
UUID_INFO = IdInfo("legacy", "uuid4", "uuid")
NOW = 1757373200000

THREAD_FACTS = FormatFacts("thread", "target", "thread", False, True, frozenset({"op", "ts", "counter", "hex"}))
CONN_FACTS = FormatFacts("ws_conn", "target", "ws_conn", True, True, frozenset({"owner", "ts", "counter", "hex"}))
MSG_FACTS = FormatFacts("msg", "target", "msg", True, True, frozenset({"type", "owner", "thread8", "ts", "hex"}))
UUID_FACTS = FormatFacts("uuid4", "legacy", "uuid", False, False, frozenset({"uuid"}))
BASE_FACTS = FormatFacts("base", "target", None, False, True, frozenset({"prefix", "ts", "counter", "hex"}))
UNKNOWN_FACTS = FormatFacts.anything(None, "unknown")
ANY_FIELD = FieldPolicy("f", None, "warning")


def message(values: dict | None = None, owner: str | None = "test_use", observed_ms: int = NOW) -> Message:
    return new_message(values or {}, owner, observed_ms)


def test_every_rule_has_a_default_severity_or_a_policy() -> None:
    assert set(RULES) == set(rules.DEFAULT_SEVERITY) | {"legacy_id"}
    assert len(set(RULES)) == len(RULES)


class TestUnknownFormat:
    unit = rules.UnknownFormat("violation")

    def test_applies_only_to_unknown_ids(self) -> None:
        assert self.unit.applies(ANY_FIELD, UNKNOWN_FACTS)
        assert not any(self.unit.applies(ANY_FIELD, f) for f in (CONN_FACTS, UUID_FACTS, BASE_FACTS))

    def test_fires_with_the_reason_and_the_raw_value(self) -> None:
        m = message()
        self.unit(m, "thread_id", "undefined", IdInfo("unknown", reason="no_match"))
        (f,) = m.findings
        assert (f.rule, f.field, f.severity, f.value, f.detail) == (
            "unknown_format", "thread_id", "violation", "undefined", "no_match")


class TestUnexpectedType:
    accepts = rules.type_matcher(["thread", "evt_*"])
    unit = rules.UnexpectedType("violation", accepts, frozenset({"uuid"}))
    field = FieldPolicy("thread_id", accepts, "warning")

    def test_a_fixed_type_is_decided_once(self) -> None:
        assert not self.unit.applies(self.field, THREAD_FACTS)  # expected
        assert self.unit.applies(self.field, CONN_FACTS)  # wrong type, always
        assert not self.unit.applies(self.field, UUID_FACTS)  # shape only: legacy_id speaks for it
        assert not self.unit.applies(self.field, UNKNOWN_FACTS)

    def test_only_the_field_it_was_built_for(self) -> None:
        other = FieldPolicy("run_id", rules.type_matcher(["run"]), "warning")
        assert not self.unit.applies(other, CONN_FACTS)

    def test_a_type_taken_from_the_id_is_judged_per_id(self) -> None:
        assert self.unit.applies(self.field, BASE_FACTS)
        m = message()
        self.unit(m, "thread_id", "evt_agent_started_1_2_abcd1234", IdInfo("target", "base", "evt_agent_started"))
        assert m.findings == []
        self.unit(m, "thread_id", "run_chat_1_2_abcd1234", IdInfo("target", "base", "run"))
        (f,) = m.findings
        assert (f.rule, f.detail) == ("unexpected_type", "expected thread, evt_*")

    def test_silent_without_a_type(self) -> None:
        m = message()
        self.unit(m, "thread_id", "x", IdInfo("target", "base", None))
        assert m.findings == []


class TestLegacyId:
    @pytest.mark.parametrize("level", ["warning", "violation"])
    def test_applies_to_legacy_ids_of_fields_with_that_policy(self, level: str) -> None:
        unit = rules.LegacyId(level)
        assert unit.applies(FieldPolicy("f", None, level), UUID_FACTS)
        assert not unit.applies(FieldPolicy("f", None, "violation" if level == "warning" else "warning"), UUID_FACTS)
        assert not unit.applies(FieldPolicy("f", None, None), UUID_FACTS)  # allow
        assert not unit.applies(FieldPolicy("f", None, level), THREAD_FACTS)

    def test_fires_with_its_severity(self) -> None:
        m = message()
        rules.LegacyId("violation")(m, "run_id", UUID, UUID_INFO)
        assert [(f.rule, f.severity, f.value) for f in m.findings] == [("legacy_id", "violation", UUID)]


class TestIsolationBreach:
    unit = rules.IsolationBreach("violation")

    def test_applies_to_owner_bearing_formats_only(self) -> None:
        assert self.unit.applies(ANY_FIELD, CONN_FACTS)
        assert not self.unit.applies(ANY_FIELD, THREAD_FACTS)
        assert not self.unit.applies(ANY_FIELD, UNKNOWN_FACTS)

    def test_breach_when_the_owner_differs(self) -> None:
        m = message(owner="other_us")
        self.unit(m, "connection_id", CONN, CONN_INFO)
        assert m.isolation == [("connection_id", "breach")]
        assert [(f.rule, f.detail) for f in m.findings] == [("isolation_breach", "owner differs from message user")]

    def test_match_when_the_owner_is_the_same(self) -> None:
        m = message(owner="test_use")
        self.unit(m, "connection_id", CONN, CONN_INFO)
        assert m.isolation == [("connection_id", "match")] and m.findings == []

    def test_no_owner_is_its_own_outcome(self) -> None:
        m = message(owner=None)
        self.unit(m, "connection_id", CONN, CONN_INFO)
        assert m.isolation == [("connection_id", "no_owner")] and m.findings == []

    def test_an_id_without_its_owner_part_says_nothing(self) -> None:
        m = message()
        self.unit(m, "connection_id", "x", CONN_INFO._replace(owner=None))
        assert m.isolation == [] and m.findings == []


class TestMismatchedReference:
    unit = rules.MismatchedReference("violation", [("thread8", "thread_id"), ("agent8", "agent_id")])

    def test_applies_to_formats_that_may_carry_a_reference(self) -> None:
        assert self.unit.applies(ANY_FIELD, MSG_FACTS)
        assert not self.unit.applies(ANY_FIELD, CONN_FACTS)
        assert self.unit.applies(ANY_FIELD, FormatFacts.anything("x", "target"))  # parts unknown

    def test_fires_when_the_thread_tail_differs(self) -> None:
        m = message({"thread_id": ["thread_session_1757373103822_2_ffffffff"]})
        self.unit(m, "message_id", MSG, MSG_INFO)
        assert [(f.rule, f.detail) for f in m.findings] == [("mismatched_reference", "thread8 does not match thread_id")]

    def test_silent_when_the_tail_matches_any_referenced_value(self) -> None:
        m = message({"thread_id": ["thread_a_1_1_00000000", THREAD]})
        self.unit(m, "message_id", MSG, MSG_INFO)
        assert m.findings == []

    def test_silent_without_the_referenced_field_or_the_part(self) -> None:
        m = message({})
        self.unit(m, "message_id", MSG, MSG_INFO)
        without_part = message({"thread_id": ["thread_a_1_1_00000000"]})
        self.unit(without_part, "connection_id", CONN, CONN_INFO)
        assert m.findings == [] and without_part.findings == []


class TestTimestampSkew:
    unit = rules.TimestampSkew("warning", max_future_ms=60_000, max_age_ms=3_600_000)

    def test_applies_to_timestamped_formats(self) -> None:
        assert self.unit.applies(ANY_FIELD, THREAD_FACTS)
        assert not self.unit.applies(ANY_FIELD, UUID_FACTS)

    @pytest.mark.parametrize("delta, detail", [(60_001, "future"), (-3_600_001, "too_old")])
    def test_fires_outside_the_window(self, delta: int, detail: str) -> None:
        m = message()
        self.unit(m, "thread_id", THREAD, IdInfo("target", "thread", "thread", timestamp_ms=NOW + delta))
        assert [(f.rule, f.detail) for f in m.findings] == [("timestamp_skew", detail)]

    @pytest.mark.parametrize("delta", [0, 60_000, -3_600_000])
    def test_silent_within_the_window_or_without_a_timestamp(self, delta: int) -> None:
        m = message()
        self.unit(m, "thread_id", THREAD, IdInfo("target", "thread", "thread", timestamp_ms=NOW + delta))
        self.unit(m, "thread_id", THREAD, IdInfo("target", "thread", "thread"))
        assert m.findings == []


def test_missing_id_always_and_by_message_type() -> None:
    unit = rules.MissingId("violation", ("thread_id",), (("connection_id", rules.TypeMatcher(["connection_*"])),))
    m = message({"thread_id": [THREAD]})
    unit(m, "agent_started")
    assert m.findings == []
    unit(m, "connection_established")
    assert [(f.rule, f.field) for f in m.findings] == [("missing_id", "connection_id")]
    m = message({})
    unit(m, None)
    assert [(f.rule, f.field) for f in m.findings] == [("missing_id", "thread_id")]


def test_the_message_type_memo_is_bounded() -> None:
    unit = rules.MissingId("violation", (), (("connection_id", rules.TypeMatcher(["c*"])),))
    for i in range(5000):
        unit(message({}), f"type-{i}")
    assert len(unit.required_for) <= 1024


def test_not_a_string_malformed_and_collision_findings() -> None:
    assert rules.not_a_string("run_id", 12345, "violation").value == 12345
    assert (rules.malformed("not_json", "violation").field, rules.malformed("not_json", "violation").detail) == (
        "message", "not_json")
    collision = rules.owner_collision("user_175", 3, "warning")
    assert (collision.rule, collision.value, collision.detail) == ("owner_collision", "user_175", "3 owners share this prefix")


def test_type_matcher() -> None:
    assert rules.type_matcher([]) is None
    m = rules.type_matcher(["evt_*", "thread"])
    assert m("evt_agent_started") and m("thread") and not m("run") and not m(None)
