"""Each policy rule on its own, with hand-built IdInfo values: fires, and does not fire."""

from __future__ import annotations

import pytest

from id_monitor import rules
from id_monitor.model import IdInfo

CONN = "ws_conn_test_use_1757367656601_1_a2f73ae7"
CONN_INFO = IdInfo("target", "ws_conn", "ws_conn", "test_use", 1757367656601, 1, parts={"hex": "a2f73ae7"})
THREAD = "thread_session_1757373103822_2_1c69903f"
MSG = "msg_user_test_use_1c69903f_1757373103900_3_0badc0de"
MSG_INFO = IdInfo(
    "target",
    "msg",
    "msg",
    "test_use",
    1757373103900,
    3,
    parts={"thread8": "1c69903f", "type": "user", "hex": "0badc0de"},
)
UUID = "87654321-8765-4321-cdef-876543210987"
UUID_INFO = IdInfo("legacy", "uuid4", None)


def test_every_rule_has_a_default_severity_or_a_policy():
    assert set(rules.RULES) == set(rules.DEFAULT_SEVERITY) | {"legacy_id"}
    assert len(set(rules.RULES)) == len(rules.RULES)


class TestUnknownFormat:
    def test_fires_for_unknown_with_reason(self):
        f = rules.unknown_format(
            "thread_id", "undefined", IdInfo("unknown", reason="no_match"), "violation", "mask"
        )
        assert (f.rule, f.field, f.severity, f.detail) == (
            "unknown_format",
            "thread_id",
            "violation",
            "no_match",
        )
        assert f.id == "aaaaaaaaa"  # masked by default, shape only

    @pytest.mark.parametrize("info", [CONN_INFO, UUID_INFO])
    def test_silent_for_known_formats(self, info):
        assert rules.unknown_format("f", "x", info, "violation", "mask") is None


class TestUnexpectedType:
    def test_fires_for_other_id_type(self):
        run = IdInfo("target", "run", "run", None, 1757373103822, 2)
        f = rules.unexpected_type(
            "thread_id",
            "run_chat_1757373103822_2_1c69903f",
            run,
            "violation",
            "mask",
            rules.type_matcher(["thread"]),
        )
        assert f is not None and f.rule == "unexpected_type" and f.id_type == "run" and f.format == "run"
        assert "thread" in f.detail

    def test_silent_for_expected_type_and_prefix_pattern(self):
        accepts = rules.type_matcher(["thread", "evt_*"])
        thread = IdInfo("target", "thread", "thread")
        event = IdInfo("target", "base", "evt_agent_started")
        assert rules.unexpected_type("f", THREAD, thread, "violation", "mask", accepts) is None
        assert rules.unexpected_type("f", "evt_x", event, "violation", "mask", accepts) is None

    def test_silent_without_expectation_or_type(self):
        run = IdInfo("target", "run", "run")
        assert rules.unexpected_type("f", "r", run, "violation", "mask", None) is None
        # a legacy uuid has no id_type: legacy_id speaks for it, not unexpected_type
        assert (
            rules.unexpected_type("f", UUID, UUID_INFO, "violation", "mask", rules.type_matcher(["thread"]))
            is None
        )

    def test_silent_for_unknown(self):
        info = IdInfo("unknown", reason="no_match")
        assert (
            rules.unexpected_type("f", "x", info, "violation", "mask", rules.type_matcher(["thread"])) is None
        )


class TestLegacyId:
    @pytest.mark.parametrize("policy,severity", [("warn", "warning"), ("violation", "violation")])
    def test_severity_follows_policy(self, policy, severity):
        f = rules.legacy_id("thread_id", UUID, UUID_INFO, rules.LEGACY_SEVERITY[policy], "mask")
        assert f is not None and f.severity == severity and f.format == "uuid4"
        assert f.id == "********-****-****-****-************"

    def test_allow_means_no_finding(self):
        assert rules.legacy_id("thread_id", UUID, UUID_INFO, rules.LEGACY_SEVERITY["allow"], "mask") is None

    def test_silent_for_target(self):
        assert rules.legacy_id("c", CONN, CONN_INFO, "warning", "mask") is None


class TestIsolationBreach:
    def test_breach_when_owner_differs(self):
        outcome, f = rules.isolation_breach("connection_id", CONN, CONN_INFO, "violation", "mask", "other_us")
        assert outcome == "breach"
        assert f.rule == "isolation_breach" and f.field == "connection_id" and f.id_type == "ws_conn"
        assert "test_use" not in f.id  # the owner is never shown

    def test_match_when_owner_equal(self):
        assert rules.isolation_breach("c", CONN, CONN_INFO, "violation", "mask", "test_use") == (
            "match",
            None,
        )

    def test_no_owner_is_its_own_outcome(self):
        assert rules.isolation_breach("c", CONN, CONN_INFO, "violation", "mask", None) == ("no_owner", None)

    def test_not_owner_bearing(self):
        thread = IdInfo("target", "thread", "thread", None, 1757373103822, 2)
        assert rules.isolation_breach("t", THREAD, thread, "violation", "mask", "test_use") == ("", None)


class TestMismatchedReference:
    def test_fires_when_thread_tail_differs(self):
        f = rules.mismatched_reference(
            "message_id",
            MSG,
            MSG_INFO,
            "violation",
            "mask",
            "thread8",
            "thread_id",
            ["thread_session_1757373103822_2_deadbeef"],
        )
        assert f is not None and f.rule == "mismatched_reference" and "thread_id" in f.detail

    def test_silent_when_tail_matches_any_value(self):
        values = ["thread_session_1757373103822_2_deadbeef", THREAD]
        assert (
            rules.mismatched_reference(
                "m", MSG, MSG_INFO, "violation", "mask", "thread8", "thread_id", values
            )
            is None
        )

    def test_silent_without_referenced_field_or_part(self):
        assert (
            rules.mismatched_reference("m", MSG, MSG_INFO, "violation", "mask", "thread8", "thread_id", None)
            is None
        )
        assert (
            rules.mismatched_reference(
                "m",
                MSG,
                MSG_INFO,
                "violation",
                "mask",
                "agent8",
                "agent_id",
                ["agent_supervisor_test_use_1757929406592_2_a13ac404"],
            )
            is None
        )
        # a non-string referenced value cannot be compared (not_a_string reports it)
        assert (
            rules.mismatched_reference("m", MSG, MSG_INFO, "violation", "mask", "thread8", "thread_id", [42])
            is None
        )

    def test_tool_agent8_against_agent(self):
        tool = IdInfo(
            "target", "tool", "tool", None, 1757929406600, 4, parts={"name": "search", "agent8": "a13ac404"}
        )
        ok = ["agent_supervisor_test_use_1757929406592_2_a13ac404"]
        bad = ["agent_supervisor_test_use_1757929406592_2_ffffffff"]
        value = "tool_search_a13ac404_1757929406600_4_00ff00ff"
        assert (
            rules.mismatched_reference("tool_id", value, tool, "violation", "mask", "agent8", "agent_id", ok)
            is None
        )
        assert (
            rules.mismatched_reference(
                "tool_id", value, tool, "violation", "mask", "agent8", "agent_id", bad
            ).rule
            == "mismatched_reference"
        )


class TestTimestampSkew:
    TS = 1_757_000_000_000
    INFO = IdInfo("target", "thread", "thread", None, TS, 1)
    HOUR = 3_600_000
    YEAR = 365 * 24 * HOUR

    def check(self, observed):
        return rules.timestamp_skew("t", "x", self.INFO, "warning", "mask", observed, self.HOUR, self.YEAR)

    def test_future_beyond_skew(self):
        f = self.check(self.TS - self.HOUR - 1)
        assert f is not None and f.detail == "future" and f.severity == "warning"

    def test_too_old(self):
        assert self.check(self.TS + self.YEAR + 1).detail == "too_old"

    @pytest.mark.parametrize("delta", [0, -3_600_000, 1000, 365 * 24 * 3_600_000])
    def test_within_bounds(self, delta):
        assert self.check(self.TS + delta) is None

    def test_no_timestamp(self):
        info = IdInfo("target", "manager", "user", None, None, 1)
        assert rules.timestamp_skew("t", "x", info, "warning", "mask", 0, 0, 0) is None


def test_missing_not_a_string_malformed_and_collision_findings():
    assert rules.missing_id("thread_id", "violation").rule == "missing_id"
    nas = rules.not_a_string("thread_id", {"secret": "v"}, "violation")
    assert nas.id == "<object>" and "secret" not in repr(nas)
    assert rules.malformed("not_json", "violation").field == rules.MESSAGE_FIELD
    col = rules.owner_collision("user_175", 3, "warning", "mask")
    assert col.rule == "owner_collision" and col.id == "aaaa_999" and "3" in col.detail


def test_type_matcher_none_for_empty_expect():
    assert rules.type_matcher([]) is None
    m = rules.type_matcher(["evt_*"])
    assert m("evt_x") and not m("event") and not m(None)
