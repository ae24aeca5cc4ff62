"""Every structure that holds something per input value stays at its bound under hostile uniques.

Each test drives one structure well past its bound with values that are all distinct (random
field names, owners, IDs, shapes, HTTP methods) and asserts its size is at the bound, not above.
docs/reliability.md ("Bounded memory") lists the structures and their bounds.
"""

from __future__ import annotations

import random
import string

import pytest

from id_monitor.classify import BoundedCache, Classifier
from id_monitor.config import load_config
from id_monitor.discover.plan import MAX_PLANS
from id_monitor.discover.shapes import ShapeMiner
from id_monitor.discover.tracker import OTHER_FIELD, ShapeTracker
from id_monitor.judge.owners import OwnerCollisions
from id_monitor.mapping.state import PairStore
from id_monitor.pipeline import build_engine

RNG = random.Random(20261202)


def unique(n: int, length: int = 12, alphabet: str = string.ascii_lowercase + string.digits + "_") -> list[str]:
    values = {"".join(RNG.choice(alphabet) for _ in range(length)) for _ in range(n)}
    return sorted(values)


def hostile_id(rng: random.Random) -> str:
    """A unique ID-like value of a random shape (random words, separators, runs)."""
    parts = [rng.choice([rng.choice(string.ascii_lowercase) * rng.randint(1, 8),
                         str(rng.randrange(10 ** rng.randint(1, 14))),
                         "".join(rng.choice("0123456789abcdef") for _ in range(rng.randint(4, 16))),
                         "".join(rng.choice(string.ascii_letters) for _ in range(rng.randint(1, 6)))])
             for _ in range(rng.randint(1, 7))]
    seps = [rng.choice("_-:.") for _ in parts]
    return "".join(p + s for p, s in zip(parts, seps, strict=True))[:-1]


@pytest.mark.parametrize("capacity", [1, 2, 64, 1000])
def test_classifier_cache_holds_at_most_its_capacity(capacity):
    classifier = Classifier("netra", cache_size=capacity)
    values = [f"thread_websocket_factory_17573724{i:05d}_1_584ef8a5" for i in range(capacity * 5 + 10)]
    for value in values + values + values:  # every value offered twice: each is admitted
        classifier.classify(value)
        assert classifier.cached <= capacity
    for _ in range(2):  # it does still cache (the bound is not met by caching nothing)
        classifier.classify(values[0])
    assert 1 <= classifier.cached <= capacity
    assert len(classifier._seen) <= max(capacity // 2, 1)  # the doorkeeper, one generation at most


@pytest.mark.parametrize("eviction", ["fifo", "refuse", "generations"])
def test_bounded_cache_stays_at_capacity_for_any_eviction(eviction):
    cache: BoundedCache[str, int] = BoundedCache(100, eviction)
    for i, key in enumerate(unique(5000)):
        cache.offer(key, i)
        assert cache.size <= 100
    assert cache.size >= 50


def test_owner_collision_tracking_stays_at_max_prefixes_and_max_owners():
    owners = OwnerCollisions(width=8, max_prefixes=500, max_owners=4)
    # 20,000 owners: half on 50 shared prefixes (collisions), half on unique prefixes
    shared = [f"{prefix}{suffix}" for prefix in unique(50, 8) for suffix in unique(200, 6)]
    alone = unique(10_000, 16)
    for owner in shared + alone:
        owners.observe(owner)
    assert owners.tracked == 500
    assert owners.untracked > 0
    assert all(len(hashes) <= 4 for hashes in owners._shared.values())
    assert len(owners._shared) <= 500
    assert owners.collisions()  # collisions of tracked prefixes are still found


def test_the_judge_tracks_at_most_max_tracked_owners():
    config = load_config(None, env={"ID_MONITOR_LIMITS__MAX_TRACKED_OWNERS": "300"})
    judge = build_engine(config).judge
    for owner in unique(3000, 20):
        judge.check({"user_id": owner, "thread_id": "thread_x_1757372478799_1_584ef8a5"}, 1_757_372_500_000)
    assert judge.owners is not None and judge.owners.tracked == 300


def test_shape_miner_state_stays_at_its_bounds():
    miner = ShapeMiner(min_support=5, capacity=32)
    rng = random.Random(7)
    sizes = []
    for _ in range(10_000):
        miner.observe(hostile_id(rng))
        if miner.total % 1000 == 0:
            sizes.append(miner.state_size())
    last = sizes[-1]
    assert last["shapes"] == 32  # full, and not above
    assert all(s["shapes"] <= 32 and s["plans"] <= MAX_PLANS for s in sizes)
    # every other figure is flat once full: the second half of the run does not grow it
    half = sizes[len(sizes) // 2 :]
    for name in ("literal_tables", "literals", "length_spans"):
        assert max(s[name] for s in half) <= 2 * max(s[name] for s in sizes[: len(sizes) // 2] or half)


def test_shape_tracker_keeps_at_most_max_fields_miners():
    tracker = ShapeTracker(None, capacity=8, max_fields=16)
    rng = random.Random(3)
    for field in unique(500):
        tracker.observe(field, hostile_id(rng))
    assert len(tracker._miners) == 16 + 1  # the first 16 fields and `other`
    assert OTHER_FIELD in tracker._miners


def test_shape_tracker_with_configured_fields_counts_any_other_field_as_other():
    tracker = ShapeTracker(["thread_id"], capacity=8)
    for field in unique(200):
        tracker.observe(field, "x_1")
    tracker.observe("thread_id", "x_1")
    assert set(tracker._miners) == {"thread_id", OTHER_FIELD}


def test_mapping_pair_store_holds_at_most_max_pairs(tmp_path):
    store = PairStore(tmp_path / "pairs.sqlite", max_pairs=1000)
    rng = random.Random(5)
    for _ in range(3000):
        store.put("live:m", rng.getrandbits(62), rng.getrandbits(62))
    store.put_many("live:m", [(rng.getrandbits(62), rng.getrandbits(62)) for _ in range(2000)])
    assert store.pairs("live:m") == 1000
    store.close()


def test_span_processor_cache_holds_at_most_cache_size():
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry.sdk.trace import TracerProvider

    from id_monitor.otel import IdSpanProcessor

    processor = IdSpanProcessor(cache_size=64)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("bounded")
    for session, user in zip(unique(1000, 20), unique(1000, 10), strict=False):
        with tracer.start_as_current_span("s", attributes={"session.id": session, "enduser.id": user}):
            pass
        assert len(processor._cache) <= 64
    assert len(processor._cache) == 64


def test_route_table_of_hostile_http_methods_stays_bounded():
    from fastapi import FastAPI

    from id_monitor.sources.http_routes import RouteTable

    app = FastAPI()

    @app.get("/threads/{thread_id}")
    def thread(thread_id: str) -> None: ...

    table = RouteTable(app.router.routes, {"thread_id": "thread_id"})
    for method in unique(2000, 10, string.ascii_uppercase):
        table.path_params({"type": "http", "method": method, "path": "/threads/t", "root_path": ""})
        assert len(table._joined) <= 65


def test_metrics_keep_their_series_whatever_the_values():
    from id_monitor.judge import Report
    from id_monitor.model import Finding, IdInfo
    from id_monitor.sinks.metrics import IdMetrics, MetricsBatch

    engine = build_engine(load_config(None, env={}))
    metrics = IdMetrics(engine.config, engine.schema, ["stdin"])
    sizes = (len(metrics._ids), len(metrics._findings), len(metrics._messages), len(metrics._ages))
    rng = random.Random(11)
    for _ in range(200):
        batch = MetricsBatch()
        for name in unique(20):
            info = IdInfo(status="target", format=name, id_type=name, owner=name, timestamp_ms=1_757_000_000_000)
            finding = Finding(rule=name, field=name, severity=rng.choice(["violation", "warning"]), value=name,
                              info=info, detail=name, location=name)
            report = Report(ids=[(name, info)], findings=[finding], owner=name, isolation=[], message_type=name)
            batch.record(rng.choice(["stdin", name]), report, 1_757_000_100_000, {"trace_id": name})
            batch.message(name, name)
        metrics.merge(batch)
    after = (len(metrics._ids), len(metrics._findings), len(metrics._messages), len(metrics._ages))
    assert after == sizes
    assert len(metrics._exemplars) <= len(metrics._ids) + len(metrics._findings)


def test_shape_tracking_of_hostile_uniques_stays_small():
    """Regression: every unknown ID of a new shape used to leave its signature plan (about 5 KB)
    in a per-field cache of 4,096, so all-unique shapes grew each configured field's miner by
    ~20 MB before the cache was full (the agent: ~140 MB over 6 fields and `other`). A plan is now
    kept from a signature's second sighting on, in a cache of MAX_PLANS."""
    import tracemalloc

    from tests.support.hostile import hostile_value

    rng = random.Random(8)
    values = [v for v in (hostile_value(rng) for _ in range(12_000)) if isinstance(v, str)][:5000]
    tracker = ShapeTracker(["thread_id"], capacity=64)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for value in values:
        tracker.observe("thread_id", value)
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    miner = tracker._miners["thread_id"]
    assert miner.state_size()["plans"] <= 500  # only the signatures seen twice (short shapes repeat)
    assert grown < 8_000_000, f"{grown / 1e6:.1f} MB for 5,000 unique shapes"
    for value in values + values:  # each signature seen again: plans are cached, up to the bound
        tracker.observe("thread_id", value)
    assert 0 < miner.state_size()["plans"] <= MAX_PLANS <= 1024
