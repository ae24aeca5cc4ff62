"""The native engine against the Python reference: identical classifications, per-message
reports and batch aggregates, on generated IDs and messages."""

from __future__ import annotations

from collections import Counter

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from id_monitor import native
from id_monitor.schema import load_schema
from id_monitor.schema.loader import BUILTIN_SCHEMAS
from id_monitor.traffic import generate
from tests import native_reference as ref
from tests.native_reference import CONFIGS, NOW
from tests.native_strategies import any_id, dumps, message_bytes, mutated, rendered_id

if not native.available():
    pytest.skip(native.unavailable_reason() or "native engine not available", allow_module_level=True)

from id_monitor.native.engine import NativeChecker, NativeClassifier

SCHEMAS = {name: load_schema(name) for name in BUILTIN_SCHEMAS}
NATIVE = {name: NativeClassifier(schema, cache_size=0) for name, schema in SCHEMAS.items()}
PYTHON = {name: ref.classifier(schema) for name, schema in SCHEMAS.items()}
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("schema", BUILTIN_SCHEMAS)
@SETTINGS
@given(data=st.data())
def test_classify_matches_reference(schema, data):
    text = data.draw(any_id(SCHEMAS[schema]))
    assert NATIVE[schema].classify(text) == PYTHON[schema].classify(text), text


FORMATS = [(schema, fmt) for schema in BUILTIN_SCHEMAS for fmt in SCHEMAS[schema].format_names()]


@pytest.mark.parametrize(("schema", "fmt"), FORMATS, ids=[f"{s}-{f}" for s, f in FORMATS])
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_rendered_ids_of_every_format_match_reference(schema, fmt, data):
    """Every format of every builtin schema rendered (and then mangled) by Schema.render."""
    text = data.draw(rendered_id(SCHEMAS[schema], fmt) | mutated(rendered_id(SCHEMAS[schema], fmt)))
    assert NATIVE[schema].classify(text) == PYTHON[schema].classify(text), text


@pytest.mark.parametrize("value", [None, 5, b"thread_x_1_abcdef12", "", "\ud800", "a" * 257, "a\ud800_b"])
def test_classify_edge_values(value):
    assert NATIVE["netra"].classify(value) == PYTHON["netra"].classify(value)


def test_classify_cache_returns_equal_results():
    clf = NativeClassifier("netra", cache_size=4)
    values = [f"thread_chat_{i}_abcdef12" for i in range(10)] * 3
    assert [clf.classify(v) for v in values] == [PYTHON["netra"].classify(v) for v in values]
    assert clf.cached <= 4


def test_classify_many_matches_single_calls():
    values = ["thread_chat_1757373103822_5_abcdef12", "nope", "0f8fad5b-d9cb-469f-a165-70867728950e"]
    assert NATIVE["netra"].classify_many(values) == [PYTHON["netra"].classify(v) for v in values]




def _native_report(checker: NativeChecker, raw: bytes | None) -> dict:
    batch = checker.check_batch([raw], NOW, with_ids=True)
    assert batch.message_ids is not None
    return {
        "result": batch.results[0],
        "ids": [(f, info) for _, f, info in batch.message_ids],
        "findings": [(rule, f, sev, ref.shown(value), fmt, id_type, detail)
                     for _, rule, f, sev, value, fmt, id_type, detail in batch.emitted],
        "isolation": Counter({key: n for key, n in batch.isolation.items()}),
        "owner": batch.owners[0],
    }


@pytest.mark.parametrize("name", list(CONFIGS))
def test_traffic_reports_match_reference(name):
    config = CONFIGS[name]
    schema = SCHEMAS[config.schema]
    judge, checker = ref.judge(config, schema), NativeChecker(config, schema)
    for message, _ in generate(1500, seed=7, now_ms=NOW):
        raw = orjson.dumps(message)
        assert _native_report(checker, raw) == ref.report(judge, raw, NOW), raw


@pytest.mark.parametrize("name", list(CONFIGS))
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_random_message_reports_match_reference(name, data):
    config = CONFIGS[name]
    schema = SCHEMAS[config.schema]
    judge, checker = ref.judge(config, schema), NativeChecker(config, schema)
    raws = data.draw(st.lists(message_bytes(schema, list(config.fields)), min_size=1, max_size=4))
    for raw in raws:  # one checker and one judge: owner-collision tracking advances alike
        assert _native_report(checker, raw) == ref.report(judge, raw, NOW), raw


def _aggregate(batch) -> dict:  # type: ignore[no-untyped-def]
    return {
        "ids": dict(batch.ids),
        "findings": dict(batch.findings),
        "messages": {k: v for k, v in batch.messages.items() if v},
        "ages": {f: (counts, total) for f, (counts, total) in batch.ages.items()},
    }


def _same_aggregate(native_agg: dict, reference: dict) -> None:
    assert native_agg["ids"] == reference["ids"]
    assert native_agg["findings"] == reference["findings"]
    assert native_agg["messages"] == reference["messages"]
    assert native_agg["ages"].keys() == reference["ages"].keys()
    for f, (counts, total) in native_agg["ages"].items():
        assert counts == reference["ages"][f][0]
        assert total == pytest.approx(reference["ages"][f][1], rel=1e-9)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_traffic_batch_aggregates_match_reference(name):
    config = CONFIGS[name]
    schema = SCHEMAS[config.schema]
    raws: list[bytes | None] = [orjson.dumps(m) for m, _ in generate(3000, seed=11, now_ms=NOW)]
    raws[5:5] = [b"not json", None, b"[1]", b"\xff"]
    batch = NativeChecker(config, schema).check_batch(raws, NOW)
    _same_aggregate(_aggregate(batch), ref.aggregate(ref.judge(config, schema), schema, raws, NOW))
    assert len(batch.results) == len(batch.owners) == len(raws)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_random_batch_aggregates_match_reference(data):
    config = CONFIGS["custom"]
    schema = SCHEMAS[config.schema]
    raws = data.draw(st.lists(message_bytes(schema, list(config.fields)), max_size=30))
    batch = NativeChecker(config, schema).check_batch(raws, NOW)
    _same_aggregate(_aggregate(batch), ref.aggregate(ref.judge(config, schema), schema, raws, NOW))


def test_huge_array_is_bounded_like_reference():
    config = CONFIGS["custom"]
    schema = SCHEMAS[config.schema]
    raw = dumps({"thread_id": "t", "payload": {"messages": [{"id": f"m{i}"} for i in range(5000)] + ["x"] * 50}})
    judge, checker = ref.judge(config, schema), NativeChecker(config, schema)
    assert _native_report(checker, raw) == ref.report(judge, raw, NOW)


def test_unknown_ids_per_field_are_returned():
    config = CONFIGS["default"]
    batch = NativeChecker(config).check_batch(
        [b'{"thread_id": "nope", "run_id": "run_x_1_abcdef12", "payload": {"thread_id": "also-nope"}}'], NOW)
    assert batch.unknown == {"thread_id": ["nope", "also-nope"]}


def test_schema_the_core_cannot_match_exactly_is_refused(tmp_path):
    """A word directly followed by a segment that may continue it: the core would judge it
    differently, so describing it fails and `auto` falls back to the Python engine."""
    (tmp_path / "s.yaml").write_text(
        "name: s\nformats:\n  - name: f\n    status: target\n    id_type: f\n    template: '{a}{hex}'\n")
    schema = load_schema(str(tmp_path / "s.yaml"))
    with pytest.raises(native.NotSupported):
        native.describe(schema)
    assert native.resolve_engine("auto", schema)[0] == "python"
    with pytest.raises(native.EngineUnavailable):
        native.resolve_engine("native", schema)
    assert native.resolve_engine("auto", SCHEMAS["netra"]) == ("native", None)
    assert native.resolve_engine("python", SCHEMAS["netra"]) == ("python", None)


def test_batch_accepts_str_bytearray_and_none_and_refuses_other_types():
    checker = NativeChecker(CONFIGS["default"], track_owners=False)
    raw = b'{"thread_id": "nope", "user_id": "user_1757000001"}'
    as_bytes = checker.check_batch([raw, None], NOW)
    as_other = checker.check_batch([raw.decode(), bytearray(raw)], NOW)
    assert as_bytes.results == ["ok", "skipped"] and as_other.results == ["ok", "ok"]
    assert as_other.ids == {("thread_id", "none"): 2} and as_bytes.ids == {("thread_id", "none"): 1}
    assert checker.check_batch(["\ud800"], NOW).findings == {("message", "malformed", "violation"): 1}
    with pytest.raises(TypeError):
        checker.check_batch([5], NOW)
