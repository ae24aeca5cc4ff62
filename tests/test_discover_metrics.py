"""The unknown-shapes gauges: the top N shapes per field plus `shape="other"`, so the series
count stays bounded however many distinct unknown IDs and shapes flow, and no label carries a
user's value."""

from __future__ import annotations

import random
import string

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from id_monitor.discover import ShapeTracker
from id_monitor.discover.metrics import METRIC, UnknownShapesCollector


def samples(registry: CollectorRegistry) -> list:
    text = generate_latest(registry).decode()
    return [s for family in text_string_to_metric_families(text) if family.name == METRIC for s in family.samples]


def test_series_are_bounded_and_other_takes_the_rest():
    tracker = ShapeTracker(["thread_id", "run_id"], min_support=20, top_n=3)
    registry = CollectorRegistry()
    registry.register(UnknownShapesCollector(tracker))
    assert samples(registry) == []  # nothing seen, nothing exported
    rng = random.Random(2)
    alphabet = string.ascii_letters + string.digits + "_-.:@"
    for i in range(100_000):
        if i % 4 == 0:
            tracker.observe("thread_id", f"thr/{rng.getrandbits(32):08x}")
        elif i % 4 == 1:
            tracker.observe("run_id", f"R{rng.randrange(10**6)}.{rng.getrandbits(16):04x}")
        else:  # distinct junk and distinct e-mail-bearing values: many shapes, no support
            tracker.observe("run_id", "".join(rng.choice(alphabet) for _ in range(rng.randint(2, 50))))
            tracker.observe("thread_id", f"t:{''.join(rng.choice(string.ascii_lowercase) for _ in range(7))}@mail.test")
    got = samples(registry)
    assert len(got) <= 2 * (3 + 1)
    by = {(s.labels["field"], s.labels["shape"]): s.value for s in got}
    assert by[("thread_id", "thr/{hex:8}")] == 25_000
    assert ("thread_id", "other") in by and ("run_id", "other") in by
    totals = tracker.totals()
    for field in ("thread_id", "run_id"):
        assert sum(v for (f, _), v in by.items() if f == field) == totals[field]
    for _, shape in by:
        assert "@mail.test" in shape or "@" not in shape  # the shared domain only, never a name
        assert len(shape) <= 160


def test_top_n_is_configurable_and_snapshot_matches_rows():
    tracker = ShapeTracker(["f"], min_support=1, top_n=10)
    for i in range(30):
        for sep in "-.:/":
            tracker.observe("f", f"k{sep}{i}")
    registry = CollectorRegistry()
    registry.register(UnknownShapesCollector(tracker, top_n=2))
    assert len([s for s in samples(registry) if s.labels["shape"] != "other"]) == 2
    assert [r["shape"] for r in tracker.snapshot(2)] == [r.shape for r in tracker.rows(2)]
