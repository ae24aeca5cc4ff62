"""The Judge end to end: real configuration, real classifier (netra schema), envelope examples."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from id_monitor.classify import Classifier
from id_monitor.config import Config, FieldSpec, load_config
from id_monitor.model import IdInfo
from id_monitor.judge import ISOLATION_OUTCOMES, RULES, Judge, Report
from id_monitor.pipeline import build_engine

_MASK = build_engine(load_config(env={})).redactor


def shown(finding) -> str | None:
    """A finding's ID as the default (mask) sinks show it."""
    return _MASK.finding(finding)["id"]

NOW = 1_757_930_000_000
USER = "test_user_123"  # owner prefix test_use
OTHER = "b7e6f2a1-0c4d-4e8f-9a1b-2c3d4e5f6a7b"  # owner prefix b7e6f2a1
THREAD = "thread_session_1757373103822_2_1c69903f"
RUN = "run_agent_execution_1757373103830_3_9f8e7d6c"
REQ = "req_1757373103840_4_0a1b2c3d"
EVT = "evt_agent_started_1757373103850_5_4e5f6a7b"
CONN = "ws_conn_test_use_1757367656601_1_a2f73ae7"
CONN_OTHER = "ws_conn_b7e6f2a1_1757367656601_1_a2f73ae7"
AGENT = "agent_supervisor_test_use_1757929406592_2_a13ac404"
MSG = "msg_user_test_use_1c69903f_1757373103900_6_0badc0de"
TOOL = "tool_search_a13ac404_1757929406600_7_00ff00ff"


@pytest.fixture(scope="module")
def classifier():
    return Classifier("netra")


@pytest.fixture()
def judge(classifier):
    return Judge(load_config(env={}), classifier)


def rules_of(report: Report) -> list[tuple[str, str]]:
    return sorted((f.rule, f.field) for f in report.findings)


def agent_event(**extra):
    return {
        "type": "agent_started",
        "user_id": USER,
        "thread_id": THREAD,
        "run_id": RUN,
        "request_id": REQ,
        "event_id": EVT,
        "data": {"content": "hello"},
        **extra,
    }


class TestEnvelopeExamples:
    def test_flat_agent_event_is_clean(self, judge):
        report = judge.check(agent_event(), NOW)
        assert report.findings == []
        assert [(f, i.status) for f, i in report.ids] == [
            ("thread_id", "target"),
            ("run_id", "target"),
            ("request_id", "target"),
            ("event_id", "target"),
        ]
        assert report.owner == USER and report.message_type == "agent_started"

    def test_nested_payload_message_with_references(self, judge):
        message = {
            "type": "user_message",
            "payload": {
                "user_id": USER,
                "thread_id": THREAD,
                "message_id": MSG,
                "agent_id": AGENT,
                "tool_id": TOOL,
            },
        }
        report = judge.check(message, NOW)
        assert report.findings == []
        assert {f for f, _ in report.ids} == {"thread_id", "message_id", "agent_id", "tool_id"}
        assert sorted(report.isolation) == [("agent_id", "match"), ("message_id", "match")]

    def test_nested_payload_reference_mismatch(self, judge):
        message = {
            "type": "user_message",
            "payload": {
                "user_id": USER,
                "thread_id": "thread_chat_1757373103822_2_deadbeef",
                "message_id": MSG,
            },
        }
        report = judge.check(message, NOW)
        assert rules_of(report) == [("mismatched_reference", "message_id")]

    def test_tool_agent8_mismatch(self, judge):
        message = {
            "data": {
                "user_id": USER,
                "tool_id": TOOL,
                "agent_id": "agent_supervisor_test_use_1757929406592_2_ffffffff",
            }
        }
        assert rules_of(judge.check(message, NOW)) == [("mismatched_reference", "tool_id")]

    def test_connection_established_right_owner(self, judge):
        message = {"type": "connection_established", "data": {"connection_id": CONN, "user_id": USER}}
        report = judge.check(message, NOW)
        assert report.findings == [] and report.isolation == [("connection_id", "match")]

    def test_connection_of_other_users_prefix_is_exactly_one_breach(self, judge):
        message = {"type": "connection_established", "data": {"connection_id": CONN_OTHER, "user_id": USER}}
        report = judge.check(message, NOW)
        breaches = [f for f in report.findings if f.rule == "isolation_breach"]
        assert len(breaches) == 1 and len(report.findings) == 1
        finding = breaches[0]
        assert (finding.field, finding.severity, finding.format, finding.id_type) == (
            "connection_id",
            "violation",
            "ws_conn",
            "ws_conn",
        )
        assert finding.value == CONN_OTHER  # raw inside the process; sinks redact
        assert shown(finding) == "ws_conn_********_1757367656601_1_********"
        assert report.isolation == [("connection_id", "breach")]
        assert report.violations == 1

    def test_same_breach_in_a_flat_agent_event(self, judge):
        report = judge.check(agent_event(connection_id=CONN_OTHER), NOW)
        assert rules_of(report) == [("isolation_breach", "connection_id")]
        assert rules_of(judge.check(agent_event(connection_id=CONN), NOW)) == []

    def test_connection_established_without_connection_id(self, judge):
        report = judge.check({"type": "connection_established", "data": {"user_id": USER}}, NOW)
        assert rules_of(report) == [("missing_id", "connection_id")]
        # other message types need no connection id
        assert judge.check(agent_event(), NOW).findings == []

    def test_no_owner_is_counted_not_guessed(self, judge):
        report = judge.check({"type": "connection_established", "connection_id": CONN_OTHER}, NOW)
        assert report.findings == []
        assert report.owner is None and report.isolation == [("connection_id", "no_owner")]
        assert {o for _, o in report.isolation} <= set(ISOLATION_OUTCOMES)

    def test_user_id_prefix_shorter_than_width(self, judge):
        conn = "ws_conn_bob_1757367656601_1_a2f73ae7"
        assert judge.check({"user_id": "bob", "connection_id": conn}, NOW).findings == []
        assert rules_of(judge.check({"user_id": "bobby_tables", "connection_id": conn}, NOW)) == [
            ("isolation_breach", "connection_id")
        ]


class TestRulesThroughTheJudge:
    def test_unknown_format_and_not_a_string(self, judge):
        report = judge.check(agent_event(thread_id="undefined", run_id=12345, request_id={"id": 1}), NOW)
        assert rules_of(report) == [
            ("not_a_string", "request_id"),
            ("not_a_string", "run_id"),
            ("unknown_format", "thread_id"),
        ]
        assert [f for f, _ in report.ids] == ["thread_id", "event_id"]  # non-strings are not IDs
        unknown = next(f for f in report.findings if f.rule == "unknown_format")
        assert shown(unknown) == "aaaaaaaaa" and unknown.detail == "no_match"

    def test_unexpected_type(self, judge):
        report = judge.check(agent_event(thread_id=RUN), NOW)
        assert rules_of(report) == [("unexpected_type", "thread_id")]
        assert report.findings[0].id_type == "run"

    def test_legacy_uuid_is_a_legacy_warning_only(self, judge):
        report = judge.check(agent_event(thread_id=OTHER), NOW)
        assert [(f.rule, f.severity) for f in report.findings] == [("legacy_id", "warning")]

    def test_legacy_policy_global_and_per_field(self, classifier):
        config = load_config(
            env={"ID_MONITOR_POLICY__LEGACY": "allow", "ID_MONITOR_FIELDS__RUN_ID__LEGACY": "violation"}
        )
        judge = Judge(config, classifier)
        report = judge.check(
            agent_event(thread_id="thread_0123456789abcdef", run_id="run_0123456789abcdef"), NOW
        )
        assert [(f.rule, f.field, f.severity) for f in report.findings] == [
            ("legacy_id", "run_id", "violation")
        ]

    def test_timestamp_skew_relative_to_observation(self, judge):
        ts = 1757373103822
        assert judge.check(agent_event(), ts).findings == []
        future = judge.check(agent_event(), ts - 2 * 3_600_000)
        assert {(f.rule, f.detail) for f in future.findings} == {("timestamp_skew", "future")}
        assert len(future.findings) == 4
        old = judge.check(agent_event(), ts + 400 * 86_400_000)
        assert {(f.rule, f.detail, f.severity) for f in old.findings} == {
            ("timestamp_skew", "too_old", "warning")
        }

    def test_required_always(self, classifier):
        judge = Judge(load_config(env={"ID_MONITOR_FIELDS__THREAD_ID__REQUIRED": "true"}), classifier)
        assert rules_of(judge.check({"type": "x", "thread_id": None}, NOW)) == [("missing_id", "thread_id")]
        assert judge.check({"thread_id": THREAD}, NOW).findings == []

    def test_rules_can_be_switched_off_or_regraded(self, classifier):
        config = load_config(
            env={"ID_MONITOR_POLICY__SEVERITY": "{isolation_breach: warning, unknown_format: off}"}
        )
        judge = Judge(config, classifier)
        report = judge.check(agent_event(connection_id=CONN_OTHER, thread_id="undefined"), NOW)
        assert [(f.rule, f.severity) for f in report.findings] == [("isolation_breach", "warning")]

    def test_redact_modes(self, classifier):
        message = agent_event(connection_id=CONN_OTHER)
        for mode, expected in [("hash", lambda s: s.startswith("h:")), ("none", lambda s: s == CONN_OTHER)]:
            engine = build_engine(load_config(env={}), redact=mode, classifier=classifier)
            assert expected(engine.redactor.finding(engine.judge.check(message, NOW).findings[0])["id"])
        config = load_config(env={"ID_MONITOR_VIOLATIONS__REDACT": "none"})
        engine = build_engine(config, classifier=classifier)
        assert engine.redactor.finding(engine.judge.check(message, NOW).findings[0])["id"] == CONN_OTHER
        with pytest.raises(ValueError):
            build_engine(load_config(env={}), redact="plain", classifier=classifier)

    def test_too_many_ids_is_a_counted_malformed_finding(self, classifier):
        config = Config(fields={"ids": FieldSpec(paths=["ids.*"])})
        config.limits.max_ids_per_message = 3
        judge = Judge(config, classifier)
        report = judge.check({"ids": [f"req_1757373103840_{i}_0a1b2c3d" for i in range(10)]}, NOW)
        assert len(report.ids) == 3
        assert [(f.rule, f.field, f.detail) for f in report.findings] == [
            ("malformed", "message", "too_many_ids")
        ]

    def test_malformed_report(self, judge):
        report = judge.malformed("not_json")
        assert [(f.rule, f.field, f.detail, f.severity) for f in report.findings] == [
            ("malformed", "message", "not_json", "violation")
        ]


class TestOwnerCollision:
    def test_shared_prefix_is_reported_once_per_new_owner(self, judge):
        users = [
            "user_1757300000001_1_aaaaaaaa",
            "user_1757300000002_2_bbbbbbbb",
            "user_1757300000003_3_cccccccc",
        ]
        seen = []
        for user in users + users:
            report = judge.check({"user_id": user, "thread_id": THREAD}, NOW)
            seen.append([(f.rule, f.field, f.severity, shown(f)) for f in report.findings])
        assert seen[0] == []
        assert seen[1] == [("owner_collision", "message", "warning", "aaaa_999")]
        assert seen[2] == [("owner_collision", "message", "warning", "aaaa_999")]
        assert seen[3:] == [[], [], []]
        [collision] = judge.owners.collisions()
        assert (collision.prefix, collision.distinct_owners) == ("user_175", 3)

    def test_distinct_prefixes_do_not_collide(self, judge):
        for user in ("alice_0001", "bob_0002", "carol_03"):
            assert judge.check({"user_id": user}, NOW).findings == []
        assert judge.owners.collisions() == []

    def test_tracking_is_bounded(self, classifier):
        config = load_config(env={"ID_MONITOR_LIMITS__MAX_TRACKED_OWNERS": "10"})
        judge = Judge(config, classifier)
        for i in range(100):
            judge.check({"user_id": f"{i:08d}-user"}, NOW)
        assert judge.owners.tracked == 10 and judge.owners.untracked == 90

    def test_off_or_stateless(self, classifier):
        assert Judge(load_config(env={}), classifier, track_owners=False).owners is None
        config = load_config(env={"ID_MONITOR_POLICY__SEVERITY__OWNER_COLLISION": "off"})
        assert Judge(config, classifier).owners is None


class TestCheckFields:
    def test_values_by_field_name_with_owner(self, judge):
        report = judge.check_fields(
            {"thread_id": THREAD, "connection_id": CONN_OTHER, "run_id": None}, USER, NOW
        )
        assert rules_of(report) == [("isolation_breach", "connection_id")]
        assert [f for f, _ in report.ids] == ["thread_id", "connection_id"]

    def test_lists_and_unconfigured_fields(self, judge):
        report = judge.check_fields(
            {"thread_id": [THREAD, THREAD, RUN], "x-custom-id": "undefined"}, None, NOW
        )
        assert rules_of(report) == [("unexpected_type", "thread_id"), ("unknown_format", "x-custom-id")]
        assert len(report.ids) == 3

    def test_owner_of_any_type(self, judge):
        conn = "ws_conn_12345678_1757367656601_1_a2f73ae7"
        assert judge.check_fields({"connection_id": conn}, 1234567890, NOW).isolation == [
            ("connection_id", "match")
        ]
        assert judge.check_fields({"connection_id": conn}, {"id": 1}, NOW).isolation == [
            ("connection_id", "no_owner")
        ]

    def test_required_only_on_request(self, classifier):
        judge = Judge(load_config(env={"ID_MONITOR_FIELDS__THREAD_ID__REQUIRED": "true"}), classifier)
        assert judge.check_fields({}, USER, NOW).findings == []
        assert rules_of(judge.check_fields({}, USER, NOW, check_required=True)) == [
            ("missing_id", "thread_id")
        ]


def test_field_names_and_rules(judge):
    names = judge.field_names()
    assert names[-1] == "message" and "thread_id" in names and "connection_id" in names
    finding_rules = {
        "unknown_format",
        "unexpected_type",
        "legacy_id",
        "isolation_breach",
        "mismatched_reference",
        "timestamp_skew",
        "missing_id",
        "not_a_string",
        "malformed",
        "owner_collision",
        "mapping_conflict",
        "mapping_malformed",
        "mapping_owner_mismatch",
    }
    assert set(RULES) == finding_rules


def test_judge_builds_its_own_classifier_from_config():
    judge = Judge(load_config(env={"ID_MONITOR_LIMITS__CACHE_SIZE": "0"}))
    assert judge.classifier.cache_size == 0
    assert judge.check(agent_event(), NOW).findings == []


def test_hand_built_classification_drives_the_rules():
    """The judge trusts the classifier's IdInfo: a table stands in to pin each rule's input."""

    class Table:
        def __init__(self, table):
            self.table = table

        def classify(self, value):
            return self.table.get(value, IdInfo("unknown", reason="no_match"))

    table = Table({"A": IdInfo("target", "ws_conn", "ws_conn", "someone_", NOW, 1, parts={"hex": "x"})})
    report = Judge(load_config(env={}), table).check({"user_id": "nobody", "connection_id": "A"}, NOW)
    assert rules_of(report) == [("isolation_breach", "connection_id")]


class TestTrafficGroundTruth:
    """Generated traffic knows what every field holds: the judge must agree, message by message."""

    def test_statuses_and_breaches_match_ground_truth(self, judge):
        from id_monitor.traffic import Mix, generate

        totals: Counter[str] = Counter()
        for message, truth in generate(2000, seed=7, now_ms=NOW, mix=Mix(breach=0.05)):
            report = judge.check(message, NOW)
            statuses = {field: info.status for field, info in report.ids}
            assert statuses == truth.kinds, (message, report)
            breaches = [f for f in report.findings if f.rule == "isolation_breach"]
            assert len(breaches) == (1 if truth.breach else 0), (message, report)
            totals["breach"] += len(breaches)
            totals["legacy"] += sum(1 for f in report.findings if f.rule == "legacy_id")
            totals["truth_legacy"] += truth.count("legacy")
            assert not [f for f in report.findings if f.rule in ("timestamp_skew", "mismatched_reference")]
        assert totals["breach"] > 50
        assert totals["legacy"] == totals["truth_legacy"] > 0


_ID_LIKE = st.sampled_from(
    [THREAD, RUN, REQ, EVT, CONN, CONN_OTHER, AGENT, MSG, TOOL, OTHER, "undefined", "", "x" * 300]
)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12) | _ID_LIKE,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "type",
                    "user_id",
                    "thread_id",
                    "run_id",
                    "connection_id",
                    "message_id",
                    "tool_id",
                    "agent_id",
                    "payload",
                    "data",
                    "x",
                ]
            ),
            children,
            max_size=6,
        )
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    message=st.dictionaries(
        st.sampled_from(
            ["type", "user_id", "thread_id", "run_id", "connection_id", "message_id", "payload", "data"]
        ),
        _JSON,
        max_size=8,
    )
)
def test_any_message_gives_a_report_with_known_rules_and_fields(judge, message):
    report = judge.check(message, NOW)
    labels = set(judge.field_names())
    for finding in report.findings:
        assert finding.rule in RULES and finding.field in labels
        assert finding.severity in ("violation", "warning")
        assert shown(finding) is None or len(shown(finding)) < 120
    for name, info in report.ids:
        assert name in labels and info.status in ("target", "legacy", "unknown")
    assert all(outcome in ISOLATION_OUTCOMES for _, outcome in report.isolation)


def test_owner_tracking_memory_is_bounded_by_its_limit():
    """The tracker holds at most `max_tracked_owners` prefixes and 16 owners each, whatever arrives."""
    from id_monitor.judge.owners import OwnerCollisions

    tracker = OwnerCollisions(8, max_prefixes=500, max_owners=16)
    for prefix in range(2000):
        for owner in range(40):
            tracker.observe(f"{prefix:08d}_{owner}")
    assert tracker.tracked == 500 and tracker.untracked > 0
    assert all(c.distinct_owners <= 16 for c in tracker.collisions())
    assert load_config(env={}).limits.max_tracked_owners == 20_000
