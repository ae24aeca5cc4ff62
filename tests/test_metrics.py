"""IdMetrics: the metric contract (names, labels, `other` bucketing, zeros up front, exemplars)."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest
from prometheus_client.parser import text_string_to_metric_families

from id_monitor.config import load_config
from id_monitor.sinks.metrics import AGE_BUCKETS, IdMetrics, MetricsBatch
from id_monitor.model import Finding, IdInfo
from id_monitor.judge import RULES, Report
from id_monitor.schema import load_schema

NOW = 1_757_372_478_799


@pytest.fixture(scope="module")
def schema():
    return load_schema("netra")


@pytest.fixture()
def metrics(schema) -> IdMetrics:
    return IdMetrics(load_config(), schema, ["kafka:events"])


def samples(registry: CollectorRegistry) -> dict[tuple[str, frozenset], float]:
    text = generate_latest(registry).decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return samples(registry)[(name, frozenset(labels.items()))]


def report(ids=(), findings=()) -> Report:
    return Report(ids=list(ids), findings=list(findings), owner=None)


THREAD = IdInfo(status="target", format="thread", id_type="thread", timestamp_ms=NOW - 20)
LEGACY = IdInfo(status="legacy", format="uuid4", id_type="uuid")
UNKNOWN = IdInfo(status="unknown", reason="no_match")


def test_every_known_series_exists_at_zero_before_any_event(metrics, schema) -> None:
    got = samples(metrics.registry)
    for fmt in schema.format_names():
        status = schema.format(fmt).status
        key = ("id_monitor_ids_total", frozenset(
            {"source": "kafka:events", "field": "connection_id", "status": status, "format": fmt}.items()))
        assert got[key] == 0
    for rule in RULES:
        key = ("id_monitor_findings_total", frozenset(
            {"source": "kafka:events", "field": "thread_id", "rule": rule, "severity": "violation"}.items()))
        assert got[key] == 0
    for result in ("ok", "malformed", "skipped"):
        assert value(metrics.registry, "id_monitor_messages_total", source="kafka:events", result=result) == 0
    assert value(metrics.registry, "id_monitor_build_info", version=__import__("id_monitor").__version__,
                 engine="python") == 1


def test_counts_are_exact_and_unknown_has_format_none(metrics) -> None:
    for _ in range(3):
        metrics.record("kafka:events", report([("thread_id", THREAD), ("run_id", LEGACY), ("run_id", UNKNOWN)]), NOW)
    metrics.message("kafka:events", "ok", 3)
    metrics.message("kafka:events", "malformed")
    r = metrics.registry
    assert value(r, "id_monitor_ids_total", source="kafka:events", field="thread_id", status="target",
                 format="thread") == 3
    assert value(r, "id_monitor_ids_total", source="kafka:events", field="run_id", status="legacy",
                 format="uuid4") == 3
    assert value(r, "id_monitor_ids_total", source="kafka:events", field="run_id", status="unknown",
                 format="none") == 3
    assert value(r, "id_monitor_messages_total", source="kafka:events", result="ok") == 3
    assert value(r, "id_monitor_messages_total", source="kafka:events", result="malformed") == 1


def test_label_values_outside_the_known_sets_become_other(metrics) -> None:
    hostile = IdInfo(status="target", format="not-in-schema")
    finding = Finding(rule="made_up_rule", field="ws_conn_attacker_1757372478799_1_deadbeef", severity="violation")
    before = len(samples(metrics.registry))
    metrics.record("kafka:elsewhere", report([("ws_conn_attacker_1757372478799_1_deadbeef", hostile)], [finding]), NOW)
    metrics.message("kafka:elsewhere", "weird")
    got = samples(metrics.registry)
    assert len(got) == before  # no new series: everything landed in existing `other` buckets
    r = metrics.registry
    assert value(r, "id_monitor_ids_total", source="other", field="other", status="other", format="other") == 1
    assert value(r, "id_monitor_findings_total", source="other", field="other", rule="other",
                 severity="violation") == 1
    assert value(r, "id_monitor_messages_total", source="other", result="skipped") == 1
    assert "attacker" not in generate_latest(r).decode()


def test_findings_are_counted_by_rule_and_severity(metrics) -> None:
    findings = [
        Finding(rule="isolation_breach", field="connection_id", severity="violation"),
        Finding(rule="legacy_id", field="run_id", severity="warning"),
        Finding(rule="legacy_id", field="run_id", severity="warning"),
    ]
    metrics.record("kafka:events", report([], findings), NOW)
    r = metrics.registry
    assert value(r, "id_monitor_findings_total", source="kafka:events", field="connection_id",
                 rule="isolation_breach", severity="violation") == 1
    assert value(r, "id_monitor_findings_total", source="kafka:events", field="run_id",
                 rule="legacy_id", severity="warning") == 2


def test_age_histogram_matches_prometheus_clients_own_histogram(metrics) -> None:
    reference = Histogram("ref", "reference", buckets=AGE_BUCKETS, registry=CollectorRegistry())
    ages_ms = [0, 1, 4, 5, 6, 99, 100, 101, 2_500, 3_600_000, 10**10, -5_000]
    for age_ms in ages_ms:
        info = IdInfo(status="target", format="thread", timestamp_ms=NOW - age_ms)
        metrics.record("kafka:events", report([("thread_id", info)]), NOW)
        reference.observe(max(0.0, age_ms / 1000.0))
    ours = {dict(labels)["le"]: v for (name, labels), v in samples(metrics.registry).items()
            if name == "id_monitor_id_age_seconds_bucket" and ("field", "thread_id") in labels
            and ("source", "kafka:events") in labels}
    expected = {}
    for family in reference.collect():
        for s in family.samples:
            if s.name == "ref_bucket":
                expected[s.labels["le"]] = s.value
    assert ours == expected
    assert value(metrics.registry, "id_monitor_id_age_seconds_count", source="kafka:events",
                 field="thread_id") == len(ages_ms)


def test_exemplars_appear_in_openmetrics_only_for_series_touched_with_one(metrics) -> None:
    metrics.record("kafka:events", report([("run_id", LEGACY)]), NOW)
    metrics.record("kafka:events", report([("thread_id", THREAD)],
                                          [Finding(rule="timestamp_skew", field="thread_id", severity="warning")]),
                   NOW, {"trace_id": "0af7651916cd43dd8448eb211c80319c"})
    text = openmetrics_latest(metrics.registry).decode()
    lines = [line for line in text.splitlines() if "0af7651916cd43dd8448eb211c80319c" in line]
    assert any(line.startswith("id_monitor_ids_total{") and 'format="thread"' in line for line in lines)
    assert any(line.startswith("id_monitor_findings_total{") and 'rule="timestamp_skew"' in line for line in lines)
    assert any(line.startswith("id_monitor_id_age_seconds_bucket{") for line in lines)
    assert not any('format="uuid4"' in line for line in lines)
    assert text.rstrip().endswith("# EOF")


_INFOS = st.sampled_from([THREAD, LEGACY, UNKNOWN, THREAD._replace(timestamp_ms=NOW - 7_200_000),
                          THREAD._replace(timestamp_ms=NOW + 5_000), IdInfo(status="target", format="no_such_format")])
_FIELDS = st.sampled_from(["thread_id", "run_id", "not_configured", "message"])
_REPORTS = st.builds(
    lambda ids, findings: report(ids, findings),
    st.lists(st.tuples(_FIELDS, _INFOS), max_size=5),
    st.lists(st.builds(lambda rule, field, severity: Finding(rule=rule, field=field, severity=severity),
                       st.sampled_from([*RULES, "no_such_rule"]), _FIELDS,
                       st.sampled_from(["warning", "violation", "odd"])), max_size=3),
)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["kafka:events", "span", "elsewhere"]), _REPORTS, st.booleans()),
                max_size=6))
def test_recording_one_report_equals_merging_a_batch_of_it(schema, recorded) -> None:
    """`record` counts straight into the served series; merging a batch of the same one report
    must give the very same exposition, exemplars and `other` bucketing included."""
    direct = IdMetrics(load_config(), schema, ["kafka:events", "span"])
    merged = IdMetrics(load_config(), schema, ["kafka:events", "span"])
    for source, one, traced in recorded:
        exemplar = {"trace_id": "0af7651916cd43dd8448eb211c80319c"} if traced else None
        direct.record(source, one, NOW, exemplar)
        batch = MetricsBatch()
        batch.record(source, one, NOW, exemplar)
        merged.merge(batch)

    def served(m: IdMetrics) -> tuple:
        # what collect() renders; exemplar timestamps differ, and age sums are added in another
        # order (per ID, or per batch), so they agree to rounding
        return (m._ids, m._findings, m._coverage,
                {k: (h.counts, round(h.sum, 6), {i: e[:2] for i, e in h.exemplars.items()})
                 for k, h in m._ages.items()},
                {k: e[:2] for k, e in m._exemplars.items()})

    assert served(direct) == served(merged)


def test_concurrent_recording_loses_no_count(metrics) -> None:
    per_thread, threads = 5000, 4

    def work() -> None:
        for _ in range(per_thread):
            metrics.record("kafka:events", report([("thread_id", THREAD)]), NOW)
            metrics.message("kafka:events", "ok")

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    r = metrics.registry
    assert value(r, "id_monitor_ids_total", source="kafka:events", field="thread_id", status="target",
                 format="thread") == per_thread * threads
    assert value(r, "id_monitor_messages_total", source="kafka:events", result="ok") == per_thread * threads


def test_lag_series_come_and_go_with_partitions(metrics) -> None:
    metrics.set_lag("events", 3, 42)
    assert value(metrics.registry, "id_monitor_consumer_lag_messages", topic="events", partition="3") == 42
    metrics.forget_partition("events", 3)
    metrics.forget_partition("events", 3)  # twice is fine
    assert ("id_monitor_consumer_lag_messages",
            frozenset({"topic": "events", "partition": "3"}.items())) not in samples(metrics.registry)
