"""The verdict's statistics and decisions, as pure functions (property tests)."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from id_monitor.verdict import FAIL, INCONCLUSIVE, PASS, Counts, Criteria, decide
from id_monitor.verdict.decide import decide_signal
from id_monitor.verdict.query import SIGNALS, check_selector, check_window, expression
from id_monitor.verdict.stats import wilson_interval, worse_p_value

totals = st.integers(min_value=1, max_value=10**7)


@st.composite
def proportion(draw) -> tuple[int, int]:
    total = draw(totals)
    return draw(st.integers(min_value=0, max_value=total)), total


@given(proportion(), st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_wilson_interval_holds_the_share_and_stays_in_unit_range(p, confidence) -> None:
    hits, total = p
    low, high = wilson_interval(hits, total, confidence)
    assert 0.0 <= low <= hits / total + 1e-12 and hits / total - 1e-12 <= high <= 1.0


@given(proportion())
def test_wilson_interval_narrows_with_volume(p) -> None:
    hits, total = p
    low, high = wilson_interval(hits, total)
    low10, high10 = wilson_interval(hits * 10, total * 10)
    assert high10 - low10 <= high - low + 1e-12


@given(proportion(), proportion())
def test_p_value_is_a_probability(b, c) -> None:
    assert 0.0 <= worse_p_value(*b, *c) <= 1.0


@given(proportion(), proportion(), st.integers(min_value=1, max_value=1000),
       st.floats(min_value=0, max_value=0.05), st.floats(min_value=0, max_value=1))
def test_a_worse_canary_has_a_smaller_p_value(b, c, extra, tolerance, relative) -> None:
    hits, total = c
    assume(hits + extra <= total)
    assert worse_p_value(*b, hits + extra, total, tolerance, relative) <= \
        worse_p_value(*b, hits, total, tolerance, relative) + 1e-12


@given(proportion(), proportion(), st.floats(min_value=0, max_value=0.05), st.floats(min_value=0, max_value=1))
def test_a_wider_margin_never_makes_a_fail_likelier(b, c, tolerance, relative) -> None:
    assert worse_p_value(*b, *c, tolerance + 0.01, relative) >= worse_p_value(*b, *c, tolerance, relative) - 1e-12
    assert worse_p_value(*b, *c, tolerance, relative + 0.5) >= worse_p_value(*b, *c, tolerance, relative) - 1e-12


@given(proportion(), st.integers(min_value=1, max_value=1000))
def test_the_same_share_never_fails(b, scale) -> None:
    hits, total = b
    canary = Counts(float(hits * scale), float(total * scale))
    verdict = decide_signal("unknown_share", Counts(float(hits), float(total)), canary, Criteria(min_count=1))
    assert verdict.decision == PASS


@given(proportion(), totals)
def test_a_canary_better_than_baseline_never_fails(b, canary_total) -> None:
    hits, total = b
    canary = Counts(0.0, float(canary_total))
    assert decide_signal("violation_ratio", Counts(float(hits), float(total)), canary,
                         Criteria(min_count=1)).decision == PASS


@given(st.integers(min_value=0, max_value=299), proportion())
def test_too_little_canary_traffic_is_inconclusive_never_passed(canary_total, b) -> None:
    verdict = decide_signal("unknown_share", Counts(*map(float, b)), Counts(0.0, float(canary_total)),
                            Criteria(min_count=300))
    assert verdict.decision == INCONCLUSIVE


@given(st.integers(min_value=1, max_value=5), st.integers(min_value=0, max_value=10**6))
def test_one_breach_on_the_canary_fails_whatever_the_volume(breaches, messages) -> None:
    verdict = decide_signal("isolation_breaches", Counts(50.0, 10**6), Counts(float(breaches), float(messages)),
                            Criteria())
    assert verdict.decision == FAIL


def test_a_clearly_worse_canary_fails_and_a_marginal_one_passes() -> None:
    baseline = Counts(200.0, 10_000.0)  # 2 %
    assert decide_signal("unknown_share", baseline, Counts(60.0, 750.0), Criteria()).decision == FAIL  # 8 %
    # 3 % on 750: within the margin (2 % x 1.5 + 1 pp = 4 %)
    assert decide_signal("unknown_share", baseline, Counts(23.0, 750.0), Criteria()).decision == PASS
    strict = Criteria(tolerance=0.0, relative=0.0)
    assert decide_signal("unknown_share", baseline, Counts(45.0, 750.0), strict).decision == FAIL  # 6 %


def counts(**override: Counts) -> dict[str, Counts]:
    base = {name: Counts(10.0, 5000.0) for name in SIGNALS}
    base["isolation_breaches"] = Counts(0.0, 1000.0)
    return {**base, **override}


def test_overall_decision_fail_beats_inconclusive_beats_pass() -> None:
    assert decide(counts(), counts()).decision == PASS
    quiet = {name: Counts(0.0, 10.0) for name in SIGNALS}
    assert decide(counts(), quiet).decision == INCONCLUSIVE
    assert decide(counts(), quiet).exit_code == 3
    assert decide(counts(), quiet, Criteria(inconclusive_passes=True)).exit_code == 0
    breached = {**quiet, "isolation_breaches": Counts(1.0, 10.0)}
    assert decide(counts(), breached).decision == FAIL and decide(counts(), breached).exit_code == 1


@pytest.mark.parametrize("selector, expected", [
    ('revision="green"', 'revision="green",'),
    ('{revision="green"}', 'revision="green",'),
    ('job="api", rollouts_pod_template_hash=~"7c9.*",', 'job="api", rollouts_pod_template_hash=~"7c9.*",'),
    ('pod!="a\\"b"', 'pod!="a\\"b",'),
])
def test_selectors_are_label_matchers(selector: str, expected: str) -> None:
    assert check_selector(selector) == expected


@pytest.mark.parametrize("selector", ["", "revision=green", 'revision="green" job="x"', 'up{a="b"}',
                                      'a="b"} or vector(1) or {c="d"', "1a=\"b\""])
def test_anything_else_is_refused(selector: str) -> None:
    with pytest.raises(ValueError):
        check_selector(selector)


def test_windows_and_expressions() -> None:
    assert check_window("10m") == "10m"
    for bad in ("10", "ten minutes", "5m]"):
        with pytest.raises(ValueError):
            check_window(bad)
    assert expression(SIGNALS["unknown_share"][0], 'revision="green",', "5m") == \
        'sum(increase(id_monitor_ids_total{revision="green",status="unknown"}[5m]))'


@settings(max_examples=50)
@given(st.floats(min_value=0, max_value=1e6), st.floats(min_value=0, max_value=1e6))
def test_no_traffic_is_no_evidence(hits, total) -> None:
    assert worse_p_value(hits, total, 0.0, 0.0) == 1.0 and worse_p_value(0.0, 0.0, hits, total) == 1.0
    assert not math.isnan(worse_p_value(hits, max(total, 1.0), hits, max(total, 1.0)))
