"""The mapping checks as pure logic: PairStore bounds and persistence, PairCheck against a plain
model of "first pair wins", TableCheck against the definition of a conflict, and the config section."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from id_monitor.classify import Classifier
from id_monitor.config import ConfigError, load_config
from id_monitor.judge.rules import DEFAULT_SEVERITY
from id_monitor.mapping import PairCheck, PairRules, PairStore, TableCheck, id_key
from tests.support import mapping_data

CLASSIFIER = Classifier("netra")
SEVERITY = dict(DEFAULT_SEVERITY)


def rules(name: str = "m") -> PairRules:
    return PairRules(name, CLASSIFIER.classify, SEVERITY, ["session"])


# -- PairStore -----------------------------------------------------------------------------

def test_store_is_bounded_and_counts_what_it_refused(tmp_path: Path) -> None:
    store = PairStore(tmp_path / "s.sqlite", max_pairs=3)
    assert [store.put("live:m", k, k + 100) for k in range(5)] == [True, True, True, False, False]
    assert store.pairs("live:m") == 3 and store.untracked == 2
    assert store.target_of("live:m", 4) is None and store.target_of("live:m", 2) == 102
    assert store.put("live:other", 1, 2)  # the bound is per namespace
    assert store.put_many("table:m", [(k, k) for k in range(5)], 0) == 2
    assert store.pairs("table:m", 0) == 3


def test_store_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    store = PairStore(path, commit_every=10_000)
    store.put("live:m", 1, 2)
    store.flush()
    store.put("live:m", 3, 4)
    store.close()
    again = PairStore(path)
    assert again.target_of("live:m", 1) == 2 and again.legacy_of("live:m", 4) == 3
    assert again.pairs("live:m") == 2


def test_a_generation_becomes_current_only_when_promoted(tmp_path: Path) -> None:
    store = PairStore(tmp_path / "s.sqlite")
    gen = store.begin_generation("table:m")
    store.put_many("table:m", [(1, 10)], gen)
    store.promote("table:m", gen)
    assert store.generation("table:m") == gen and store.target_of("table:m", 1) == 10
    unfinished = store.begin_generation("table:m")
    store.put_many("table:m", [(1, 99)], unfinished)
    store.discard()
    assert store.generation("table:m") == gen and store.target_of("table:m", 1) == 10


def test_id_keys_are_stable_64_bit_and_distinct() -> None:
    keys = {id_key(f"id-{i}") for i in range(10_000)}
    assert len(keys) == 10_000 and all(-(2**63) <= k < 2**63 for k in keys)
    # the same key in another process (a restarted agent): not Python's per-process str hash
    other = subprocess.run([sys.executable, "-c", "from id_monitor.mapping import id_key; print(id_key('abc'))"],
                           capture_output=True, text=True, check=True, env={**os.environ, "PYTHONHASHSEED": "7"})
    assert int(other.stdout) == id_key("abc")


# -- PairCheck: conflicts against a model ---------------------------------------------------

pairs_strategy = st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), max_size=40)


@settings(max_examples=150, deadline=None)
@given(pairs_strategy, st.integers(1, 50))
def test_live_conflicts_match_the_first_pair_wins_model(pairs: list[tuple[int, int]], bound: int) -> None:
    rng = random.Random(0)
    owner = mapping_data.user(rng)
    legacies = [mapping_data.legacy(rng) for _ in range(7)]
    targets = [mapping_data.target(rng, owner, i) for i in range(7)]
    check = PairCheck(rules(), PairStore(":memory:", bound), SEVERITY)
    first_target: dict[int, int] = {}
    first_legacy: dict[int, int] = {}
    stored = 0
    for legacy, target in pairs:
        expected = set()
        if legacy in first_target and first_target[legacy] != target:
            expected.add(legacies[legacy])
        if target in first_legacy and first_legacy[target] != legacy:
            expected.add(targets[target])
        if (legacy not in first_target or target not in first_legacy) and stored < bound:
            stored += legacy not in first_target
            first_target.setdefault(legacy, target)
            first_legacy.setdefault(target, legacy)
        found = check.check(legacies[legacy], targets[target], owner)
        assert {f.value for f in found if f.rule == "mapping_conflict"} == expected
        assert [f for f in found if f.rule != "mapping_conflict"] == []


def test_malformed_sides_and_owner_mismatch() -> None:
    rng = random.Random(1)
    owner, other = mapping_data.user(rng), mapping_data.user(rng)
    legacy, target = mapping_data.legacy(rng), mapping_data.target(rng, owner, 1)
    check = rules()
    assert check(legacy, target, owner)[0] == []
    assert check(legacy, target, None)[0] == []  # no user: ownership cannot be judged
    found = check(target, legacy, owner)[0]
    assert [(f.rule, f.value) for f in found] == [("mapping_malformed", target), ("mapping_malformed", legacy)]
    wrong_type = mapping_data.target(rng, owner, 2, kind="error_timeout")
    assert [f.detail for f in check(legacy, wrong_type, owner)[0]] == ["target id_type is not one of: session"]
    assert [f.rule for f in check(legacy, target, other)[0]] == ["mapping_owner_mismatch"]
    assert [f.detail for f in check(legacy, 42, owner)[0]] == ["target side is not a string"]
    assert [f.detail for f in check(None, target, owner)[0]] == ["legacy side is missing"]


def test_a_rule_switched_off_never_fires() -> None:
    off = {**SEVERITY, "mapping_malformed": None}
    rng = random.Random(2)
    check = PairRules("m", CLASSIFIER.classify, off, ["session"])
    assert check(mapping_data.legacy(rng), mapping_data.legacy(rng), None)[0] == []


# -- TableCheck: exact on any table, whatever the store's bound -------------------------------

class Rows:
    def __init__(self, rows: list[tuple]) -> None:
        self.rows = rows

    def by_legacy(self):
        return ((lg, tg, u) for _k, lg, tg, u in sorted((r for r in self.rows if r[1] and r[2]), key=lambda r: (r[1], r[0])))

    def by_target(self):
        return ((lg, tg, u) for _k, lg, tg, u in sorted((r for r in self.rows if r[1] and r[2]), key=lambda r: (r[2], r[0])))

    def with_null(self):
        return ((lg, tg, u) for _k, lg, tg, u in self.rows if lg is None or tg is None)


@settings(max_examples=60, deadline=None)
@given(pairs_strategy, st.integers(1, 10))
def test_table_conflicts_are_exactly_the_ids_with_two_partners(pairs: list[tuple[int, int]], bound: int) -> None:
    rng = random.Random(3)
    owner = mapping_data.user(rng)
    legacies = [mapping_data.legacy(rng) for _ in range(7)]
    targets = [mapping_data.target(rng, owner, i) for i in range(7)]
    rows = [(i, legacies[lg], targets[tg], owner) for i, (lg, tg) in enumerate(pairs)]
    partners_of_legacy: dict[int, set[int]] = defaultdict(set)
    partners_of_target: dict[int, set[int]] = defaultdict(set)
    for lg, tg in pairs:
        partners_of_legacy[lg].add(tg)
        partners_of_target[tg].add(lg)
    expected = {legacies[lg] for lg, ts in partners_of_legacy.items() if len(ts) > 1}
    expected |= {targets[tg] for tg, ls in partners_of_target.items() if len(ls) > 1}
    report = TableCheck(rules(), PairStore(":memory:", bound), SEVERITY).run(Rows(rows))
    assert {f.value for f in report.findings} == expected
    assert report.counts["mapping_conflict"] == len(expected) and report.rows == len(rows)
    assert report.remembered == min(bound, len(partners_of_legacy))


def test_planted_table_in_memory_matches_the_ground_truth() -> None:
    planted = mapping_data.planted_table(clean=200)
    report = TableCheck(rules("sessions"), None, SEVERITY).run(Rows(planted.rows))
    assert {(f.rule, f.value) for f in report.findings} == planted.expected


def test_findings_kept_are_bounded_but_all_are_counted() -> None:
    rng = random.Random(4)
    rows = [(i, mapping_data.legacy(rng), mapping_data.legacy(rng), None) for i in range(50)]
    report = TableCheck(rules(), None, SEVERITY, keep_findings=5).run(Rows(rows))
    assert len(report.findings) == 5 and report.counts["mapping_malformed"] == 50


# -- configuration ----------------------------------------------------------------------------

def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(("text", "message"), [
    ("mappings: {m: {expect: [session]}}", "mappings.m: a mapping needs legacy_paths + target_paths, a table"),
    ("mappings: {m: {legacy_paths: [a]}}", "legacy_paths and target_paths go together"),
    ("mappings: {m: {table: {name: 'x; drop'}}}", "is not a plain SQL name"),
    ("mappings: {m: {table: {name: x, colum: y}}}", "mappings.m.table.colum: unknown key"),
    ("mappings: {m: {legacy_paths: [a], target_paths: [b], covers: [nope]}}", "'nope' is not a configured field"),
    ("mappings: {thread_id: {legacy_paths: [a], target_paths: [b]}}", "the name is also a field"),
    ("mappings: {m: {legacy_paths: [a], target_paths: [b], expct: [x]}}", "did you mean 'expect'"),
    ("mapping_state: {max_pairs: 0}", "mapping_state.max_pairs"),
])
def test_config_errors_are_one_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text), env={})
    assert message in str(err.value) and "\n" not in str(err.value)
    assert str(err.value).startswith(str(tmp_path / "c.yaml"))


def test_mapping_rules_take_a_severity_override(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "policy: {severity: {mapping_owner_mismatch: warning}}"), env={})
    assert config.policy.severity == {"mapping_owner_mismatch": "warning"}


# -- judge and metrics ------------------------------------------------------------------------

def test_live_findings_and_coverage_are_counted_under_the_mapping_name(tmp_path: Path) -> None:
    import pickle

    from id_monitor.judge import Judge
    from id_monitor.sinks.metrics import IdMetrics, MetricsBatch
    from tests.support.metrics import registry_samples, total

    config = load_config(write(tmp_path, f"""
mappings:
  sessions: {{legacy_paths: [legacy_session_id], target_paths: [session_id], expect: [session], covers: [session_id]}}
mapping_state: {{path: {tmp_path / 'state.sqlite'}}}
"""), env={})
    metrics = IdMetrics(config, CLASSIFIER.schema, ["stdin"])
    before = registry_samples(metrics.registry)
    # every mapping series exists at zero before any traffic; the gauge starts at 1
    for rule in ("mapping_conflict", "mapping_malformed", "mapping_owner_mismatch"):
        assert before[("id_monitor_findings_total", frozenset({("source", "stdin"), ("field", "sessions"),
                                                               ("rule", rule), ("severity", "violation")}))] == 0
    assert total(before, "id_monitor_mapping_legacy_ids_total", mapping="sessions") == 0
    assert total(before, "id_monitor_mapping_coverage_ratio", mapping="sessions") == 1

    rng = random.Random(9)
    owner = mapping_data.user(rng)
    legacy, unmapped = mapping_data.legacy(rng), mapping_data.legacy(rng)
    first, second = mapping_data.target(rng, owner, 1), mapping_data.target(rng, owner, 2)
    judge = Judge(config, CLASSIFIER)
    batch = MetricsBatch()
    for message in ({"user_id": owner, "legacy_session_id": legacy, "session_id": first},
                    {"user_id": owner, "legacy_session_id": legacy, "session_id": second},
                    {"session_id": legacy}, {"session_id": unmapped}, {"session_id": unmapped}):
        batch.record("stdin", judge.check(message, 0), 0)
    metrics.merge(pickle.loads(pickle.dumps(batch)))  # as a worker process sends it
    after = registry_samples(metrics.registry)
    assert total(after, "id_monitor_findings_total", field="sessions", rule="mapping_conflict") == 1
    assert total(after, "id_monitor_findings_total", field="other") == 0
    assert total(after, "id_monitor_mapping_legacy_ids_total", mapping="sessions", covered="true") == 1
    assert total(after, "id_monitor_mapping_legacy_ids_total", mapping="sessions", covered="false") == 2
    assert total(after, "id_monitor_mapping_coverage_ratio", mapping="sessions") == pytest.approx(1 / 3)
    judge.flush()
    # a new judge on the same state file (a restarted agent) remembers the pair
    again = Judge(config, CLASSIFIER)
    found = again.check({"user_id": owner, "legacy_session_id": legacy, "session_id": second}, 0).findings
    assert [(f.rule, f.value) for f in found if f.rule.startswith("mapping_")] == [("mapping_conflict", legacy)]


def test_a_state_file_that_cannot_be_opened_is_a_one_line_config_error(tmp_path: Path) -> None:
    config_path = write(tmp_path, "mappings: {m: {legacy_paths: [a], target_paths: [b]}}\n"
                                  "mapping_state: {path: /proc/none/state.sqlite}\n")
    done = subprocess.run([sys.executable, "-m", "id_monitor", "run", "--config", str(config_path)],
                          input="{}\n", capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("id-monitor run: mapping_state.path: cannot open /proc/none/state.sqlite")
    assert done.stderr.count("\n") == 1
