"""The `revision` label: off by default, bounded always, read from a header, a field or the process."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from id_monitor.config import ConfigError, RevisionSpec, load_config
from id_monitor.judge import Report
from id_monitor.model import IdInfo
from id_monitor.pipeline import build_engine
from id_monitor.pipeline.checker import Checker
from id_monitor.pipeline.revision import RevisionOf
from id_monitor.sinks.metrics import IdMetrics
from id_monitor.sources.batch import Chunk
from id_monitor.traffic import generate

NOW = 1_757_372_478_799
PER_ID_FAMILIES = ("id_monitor_ids", "id_monitor_findings", "id_monitor_messages", "id_monitor_id_age_seconds")


class Record:
    """A Kafka-like record: value bytes, headers as (key, bytes) pairs, an offset."""

    def __init__(self, value: bytes | None, headers: list[tuple[str, bytes]] | None, offset: int) -> None:
        self.value, self.headers, self.offset = value, headers, offset


def config_with(revision: dict | None, tmp_path: Path):
    path = tmp_path / "config.yaml"
    path.write_text(orjson.dumps({"revision": revision} if revision is not None else {}).decode())
    return load_config(path, env={})


def families(metrics: IdMetrics) -> dict[str, list]:
    """The exposition as a scraper reads it."""
    text = generate_latest(metrics.registry).decode()
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def collected(metrics: IdMetrics) -> dict[str, list]:
    """The per-ID families straight from the collector (what the exposition renders), cheaper."""
    return {f.name.removesuffix("_total"): f.samples for f in metrics.collect()}


def test_off_by_default_no_label_and_the_same_series(tmp_path: Path) -> None:
    config = load_config(env={})
    assert config.revision is None
    metrics = IdMetrics(config, build_engine(config).schema, ["stdin"])
    got = families(metrics)
    for name in PER_ID_FAMILIES:
        assert got[name] and all("revision" not in s.labels for s in got[name]), name
    on = IdMetrics(config_with({"values": ["blue", "green"], "header": "rev"}, tmp_path),
                   build_engine(config).schema, ["stdin"])
    got_on = families(on)
    for name in PER_ID_FAMILIES:
        # blue, green and other: three times the series, each with the label
        assert len(got_on[name]) == 3 * len(got[name]), name
        assert {s.labels["revision"] for s in got_on[name]} == {"blue", "green", "other"}


@pytest.mark.parametrize("revision, problem", [
    ({"values": ["blue"]}, "needs a `header`, a `field` or an `own`"),
    ({"header": "rev"}, "needs `values`"),
    ({"values": ["bad value"], "header": "rev"}, "letters, digits"),
    ({"values": ["other"], "header": "rev"}, "not 'other'"),
    ({"values": [f"r{i}" for i in range(17)], "header": "rev"}, "at most 16"),
    ({"values": ["blue"], "header": "rev", "colour": "x"}, "colour"),
])
def test_bad_revision_sections_are_one_line_errors(tmp_path: Path, revision: dict, problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        config_with(revision, tmp_path)
    message = str(info.value)
    assert problem in message and "revision" in message and "\n" not in message


def test_own_revision_from_the_environment_joins_the_values() -> None:
    config = load_config(env={"ID_MONITOR_REVISION__OWN": "green"})
    assert config.revision is not None
    assert config.revision.values == ["green"] and config.revision.labels == ("green", "other")


def test_revision_of_header_then_field_then_own() -> None:
    of = RevisionOf(RevisionSpec(values=["blue", "green"], header="rev", field="meta.revision", own="blue"))
    assert of([("rev", b"green")], {"meta": {"revision": "blue"}}) == "green"
    assert of([("rev", b"purple")], {"meta": {"revision": "green"}}) == "other"  # a header wins, bounded
    assert of([("other-header", b"green")], {"meta": {"revision": "green"}}) == "green"
    assert of(None, {"meta": {"revision": ["green"]}}) == "other"  # not a string
    assert of(None, {"meta": "green"}) == "blue"  # path absent: the process's own
    assert of(None, None) == "blue"
    assert RevisionOf(RevisionSpec(values=["blue"], header="rev"))(None, {}) == "other"


def test_the_span_and_request_path_uses_the_process_revision(tmp_path: Path) -> None:
    config = config_with({"own": "green"}, tmp_path)
    metrics = IdMetrics(config, build_engine(config).schema, ["http"])
    info = IdInfo(status="target", format="thread", id_type="thread", timestamp_ms=NOW - 5)
    metrics.record("http", Report(ids=[("thread_id", info)], findings=[], owner=None), NOW)
    metrics.message("http", "ok")
    got = families(metrics)
    ids = [s for s in got["id_monitor_ids"] if s.name == "id_monitor_ids_total" and s.value]
    assert [(s.labels["revision"], s.value) for s in ids] == [("green", 1.0)]
    ok = [s for s in got["id_monitor_messages"] if s.name == "id_monitor_messages_total" and s.value]
    assert [(s.labels["revision"], s.labels["result"]) for s in ok] == [("green", "ok")]


@cache
def bounded_config():
    config = load_config(env={"ID_MONITOR_REVISION__VALUES": "blue,green", "ID_MONITOR_REVISION__HEADER": "rev",
                              "ID_MONITOR_REVISION__FIELD": "revision"})
    return config, build_engine(config)


def check(config, records: list[Record], engine=None) -> IdMetrics:
    engine = engine or build_engine(config)
    result = Checker(engine).check_batch([Chunk("kafka:events", "events", 0, records)], NOW)
    metrics = IdMetrics(config, engine.schema, ["kafka:events"])
    metrics.merge(result.metrics)
    return metrics


def test_messages_are_counted_under_their_header_revision(tmp_path: Path) -> None:
    config = config_with({"values": ["blue", "green"], "header": "app-revision"}, tmp_path)
    messages = [m for m, _ in generate(30, seed=5)]
    records = [Record(orjson.dumps(m), [("app-revision", b"green" if i % 3 == 0 else b"blue")], i)
               for i, m in enumerate(messages)]
    records.append(Record(b"not json", [("app-revision", b"green")], 99))
    got = families(check(config, records))
    by_revision: dict[tuple[str, str], float] = {}
    for s in got["id_monitor_messages"]:
        if s.name == "id_monitor_messages_total":
            key = (s.labels["revision"], s.labels["result"])
            by_revision[key] = by_revision.get(key, 0) + s.value
    assert by_revision[("green", "ok")] == 10 and by_revision[("blue", "ok")] == 20
    assert by_revision[("other", "malformed")] == 1  # unreadable: no revision can be read from it
    ids_green = sum(s.value for s in got["id_monitor_ids"]
                    if s.name == "id_monitor_ids_total" and s.labels["revision"] == "green")
    ids_all = sum(s.value for s in got["id_monitor_ids"] if s.name == "id_monitor_ids_total")
    assert 0 < ids_green < ids_all


header_values = st.one_of(st.binary(max_size=40), st.sampled_from([b"blue", b"green", b"Blue", b"green "]))


@settings(max_examples=30, deadline=None)
@given(values=st.lists(header_values, min_size=1, max_size=40),
       fields=st.lists(st.one_of(st.text(max_size=20), st.integers(-2**63, 2**63 - 1), st.none()), min_size=1, max_size=10))
def test_revision_label_never_exceeds_its_bound(values: list[bytes], fields: list) -> None:
    config, engine = bounded_config()
    message = next(generate(1, seed=1))[0]
    records = [Record(orjson.dumps({**message, "revision": fields[i % len(fields)]}),
                      [("rev", value)] if i % 2 else None, i) for i, value in enumerate(values)]
    metrics = check(config, records, engine)
    got = collected(metrics)
    seen = {s.labels["revision"] for name in PER_ID_FAMILIES for s in got[name]}
    assert seen == {"blue", "green", "other"}
    counted = sum(s.value for s in got["id_monitor_messages"] if s.name == "id_monitor_messages_total")
    assert counted == len(records)  # nothing lost to the bucketing
    expected_green = sum(1 for i, v in enumerate(values)
                         if (v == b"green" if i % 2 else fields[i % len(fields)] == "green"))
    green = sum(s.value for s in got["id_monitor_messages"]
                if s.name == "id_monitor_messages_total" and s.labels["revision"] == "green")
    assert green == expected_green
