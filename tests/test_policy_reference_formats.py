"""The reference rule looks at an ID's parts only when its format may carry a reference part
(known from the classifier's schema). These tests pin that the shortcut never hides a finding."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from id_monitor.classify import Classifier
from id_monitor.config import Config, FieldSpec, load_config
from id_monitor.model import IdInfo
from id_monitor.judge import Judge, Report
from id_monitor.traffic import Mix, generate

NOW = 1_757_930_000_000
USER = "test_user_123"
THREAD = "thread_session_1757373103822_2_1c69903f"
AGENT = "agent_supervisor_test_use_1757929406592_2_a13ac404"
MSG = "msg_user_test_use_1c69903f_1757373103900_6_0badc0de"
TOOL = "tool_search_a13ac404_1757929406600_7_00ff00ff"
UUID = "9b2c6f0e-1a2b-4c3d-8e9f-0a1b2c3d4e5f"


class SchemaHidden:
    """The same classifier seen without its schema: the judge must then look at every ID."""

    def __init__(self, classifier: Classifier) -> None:
        self.classify = classifier.classify


def as_tuple(report: Report) -> tuple:
    return (report.ids, report.findings, report.owner, report.isolation, report.message_type)


def test_formats_that_carry_reference_parts_are_judged():
    judge = Judge(load_config(env={}), Classifier("netra"))
    clean = {"user_id": USER, "thread_id": THREAD, "agent_id": AGENT, "message_id": MSG, "tool_id": TOOL}
    assert judge.check(clean, NOW).findings == []
    wrong = {
        **clean,
        "thread_id": "thread_chat_1757373103822_2_deadbeef",
        "agent_id": AGENT[:-8] + "ffffffff",
    }
    assert sorted((f.rule, f.field) for f in judge.check(wrong, NOW).findings) == [
        ("mismatched_reference", "message_id"),
        ("mismatched_reference", "tool_id"),
    ]


def test_a_part_from_a_standard_format_decoder_is_a_reference_too():
    """`uuid` is not a template segment name but a part the UUID decoder adds."""
    config = Config(
        fields={"ref_id": FieldSpec(paths=["ref_id"]), "thread_id": FieldSpec(paths=["thread_id"])},
        policy={
            "references": {"uuid": "thread_id"},
            "legacy": "allow",
            "severity": {"unknown_format": "off"},
        },
    )
    judge = Judge(config, Classifier("netra"))
    same = judge.check({"ref_id": UUID, "thread_id": f"thread_{UUID}"}, NOW)
    assert [f.rule for f in same.findings] == []
    other = judge.check({"ref_id": UUID, "thread_id": "thread_0b2c6f0e-1a2b-4c3d-8e9f-0a1b2c3d4e5f"}, NOW)
    assert [(f.rule, f.field) for f in other.findings] == [("mismatched_reference", "ref_id")]


def test_a_classifier_without_schema_gets_every_id_judged():
    class Table:
        def classify(self, value):
            return {
                "M": IdInfo("target", "anything", "msg", parts={"thread8": "1c69903f"}),
                "T_deadbeef": IdInfo("target", "thread", "thread"),
            }.get(value, IdInfo("unknown", reason="no_match"))

    report = Judge(load_config(env={}), Table()).check({"message_id": "M", "thread_id": "T_deadbeef"}, NOW)
    assert [(f.rule, f.field) for f in report.findings] == [("mismatched_reference", "message_id")]


def test_traffic_reports_equal_with_and_without_the_shortcut():
    classifier = Classifier("netra")
    fast = Judge(load_config(env={}), classifier, track_owners=False)
    full = Judge(load_config(env={}), SchemaHidden(classifier), track_owners=False)
    for message, _ in generate(2000, seed=11, now_ms=NOW, mix=Mix(breach=0.05)):
        assert as_tuple(fast.check(message, NOW)) == as_tuple(full.check(message, NOW))


segment = st.text("0123456789abcdef", min_size=8, max_size=8)


@settings(max_examples=300, deadline=None)
@given(thread8=segment, agent8=segment, thread_tail=segment, agent_tail=segment)
def test_reference_envelopes_equal_with_and_without_the_shortcut(thread8, agent8, thread_tail, agent_tail):
    classifier = Classifier("netra")
    fast = Judge(load_config(env={}), classifier, track_owners=False)
    full = Judge(load_config(env={}), SchemaHidden(classifier), track_owners=False)
    message = {
        "user_id": USER,
        "thread_id": f"thread_chat_1757373103822_2_{thread_tail}",
        "agent_id": f"agent_supervisor_test_use_1757929406592_2_{agent_tail}",
        "message_id": f"msg_user_test_use_{thread8}_1757373103900_6_0badc0de",
        "tool_id": f"tool_search_{agent8}_1757929406600_7_00ff00ff",
    }
    got = fast.check(message, NOW)
    assert as_tuple(got) == as_tuple(full.check(message, NOW))
    expected = {("mismatched_reference", "message_id")} if thread8 != thread_tail else set()
    expected |= {("mismatched_reference", "tool_id")} if agent8 != agent_tail else set()
    assert {(f.rule, f.field) for f in got.findings} == expected
