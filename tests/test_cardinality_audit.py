"""Cardinality audit: messages whose field names, types, owners, topic-like strings and ID values
are all random leave the number of exported series where it was after warm-up.

In CI: AUDIT_MESSAGES (100,000) hostile messages through the pipeline (decode, judge, count) into
one IdMetrics, each batch under a random topic-like source label as well as `stdin`; the series a
scrape would export are counted after the first WARM_UP messages and at the end. The 1M figure
(`ID_MONITOR_AUDIT_MESSAGES=1000000`) is in docs/reliability.md.
"""

from __future__ import annotations

import os
import random

import orjson
import pytest

from id_monitor.config import load_config
from id_monitor.pipeline import Checker, build_engine
from id_monitor.sinks.metrics import IdMetrics
from id_monitor.sources.batch import Chunk, LineRecord
from tests.support.hostile import hostile_lines

AUDIT_MESSAGES = int(os.environ.get("ID_MONITOR_AUDIT_MESSAGES", "100000"))
WARM_UP = 5_000
BATCH = 1_000


def exported_series(metrics: IdMetrics) -> int:
    """Samples a scrape of the registry writes (one line each), exemplars not counted."""
    return sum(len(family.samples) for family in metrics.registry.collect())


@pytest.mark.slow
def test_hostile_uniques_do_not_add_series():
    engine = build_engine(load_config(None, env={}))
    checker = Checker(engine)
    metrics = IdMetrics(engine.config, engine.schema, ["stdin", "kafka:events"])
    rng = random.Random(4)
    lines = hostile_lines(seed=17, count=AUDIT_MESSAGES)
    counts = []
    seen = 0
    findings = 0
    while seen < AUDIT_MESSAGES:
        batch = [LineRecord(line.rstrip(b"\n"), seen + i + 1) for i, line in zip(range(BATCH), lines, strict=False)]
        source = rng.choice(["stdin", "kafka:events", f"kafka:{rng.getrandbits(40):x}.{rng.random()}"])
        result = checker.check_batch([Chunk(source, None, None, batch)], 1_757_372_500_000)
        metrics.merge(result.metrics)
        findings += len(result.violations)
        seen += len(batch)
        if seen == WARM_UP or seen >= AUDIT_MESSAGES:
            counts.append(exported_series(metrics))
    assert seen == AUDIT_MESSAGES
    assert findings > AUDIT_MESSAGES // 10  # hostile traffic is judged, not skipped
    warm, end = counts
    print(f"cardinality audit: {seen:,} messages, {warm:,} series after warm-up, {end:,} at the end")
    assert end == warm, f"series grew from {warm} to {end} after warm-up"
    scrape = b"".join(line for line in _scrape(metrics))
    assert b"kafka:" + b"events" in scrape  # the configured source is a label, random ones are not
    for line in scrape.splitlines():
        if line.startswith(b"id_monitor_") and b'source="kafka:' in line:
            assert b'source="kafka:events"' in line


def _scrape(metrics: IdMetrics) -> list[bytes]:
    from prometheus_client import generate_latest

    return [generate_latest(metrics.registry)]


def test_the_audit_input_is_hostile():
    """The generator does make every message different in names, owners and values."""
    messages = [orjson.loads(line) for line in hostile_lines(seed=17, count=2000)]
    owners = {m["user_id"] for m in messages}
    names = {key for m in messages for key in m}
    assert len(owners) > 1990
    assert len(names) > 3000
    types = {type(v).__name__ for m in messages for v in m.values()}
    assert {"str", "int", "list", "dict", "float"} <= types
