"""Live discovery of unknown ID shapes in the agent, on the real broker: `/debug/shapes` and the
`id_monitor_unknown_shapes` gauges show the planted shapes, and the number of series stays bounded
however many distinct unknown IDs arrive."""

from __future__ import annotations

import json
import random
import string
from pathlib import Path

import orjson
import pytest

from tests.kafka_broker import AgentProcess, KafkaBroker, total

pytestmark = pytest.mark.kafka

TOP = 3


def shape_series(samples: dict) -> dict:
    return {labels: value for (name, labels), value in samples.items() if name == "id_monitor_unknown_shapes"}


def test_planted_shapes_show_and_the_series_stay_bounded(
        kafka_broker: KafkaBroker, tmp_path: Path, kafka_client: str) -> None:
    rng = random.Random(5)
    topic = kafka_broker.create_topic(partitions=1)
    planted = [orjson.dumps({"user_id": "u", "thread_id": f"legacyjob-{100000 + i}-{rng.getrandbits(32):08x}"})
               for i in range(400)]
    kafka_broker.produce(topic, planted)
    config = {"kafka": {"bootstrap_servers": kafka_broker.bootstrap, "group_id": "shapes", "topics": [topic],
                        "client": kafka_client},
              "metrics": {"unknown_shapes": {"top": TOP}}}
    agent = AgentProcess(tmp_path, config, batch_size=500)
    try:
        samples = agent.wait_messages(len(planted), timeout=90)
        status, body = agent.get("/debug/shapes")
        assert status == 200
        shapes = json.loads(body)
        (job,) = [s for s in shapes if s["field"] == "thread_id"]
        assert job["shape"].startswith("legacyjob-") and job["count"] == len(planted)
        assert "legacyjob-1" not in job["example"]  # examples are redacted like everywhere
        gauges = shape_series(samples)
        assert gauges[frozenset({("field", "thread_id"), ("shape", job["shape"])})] == len(planted)

        # 30k distinct unknown IDs of random shapes: the series stay at fields x (top + other).
        noise = ["".join(rng.choice(string.ascii_letters + string.digits + "-_.")
                         for _ in range(rng.randint(6, 40))) for _ in range(30_000)]
        kafka_broker.produce(topic, [orjson.dumps({"user_id": "u", "thread_id": v, "run_id": v[::-1]})
                                     for v in noise])
        samples = agent.wait_messages(len(planted) + len(noise), timeout=300)
        series = shape_series(samples)
        fields = {dict(labels)["field"] for labels in series}
        assert fields <= {"thread_id", "run_id"}
        assert len(series) <= len(fields) * (TOP + 1)
        unknown = total(samples, "id_monitor_ids_total", field="thread_id", status="unknown")
        assert unknown > 0.99 * (len(planted) + len(noise))  # random text is almost never a known format
        assert sum(v for labels, v in series.items() if dict(labels)["field"] == "thread_id") == unknown
        for labels in series:
            assert dict(labels)["shape"] == "other" or dict(labels)["shape"] not in noise
        assert agent.terminate()[0] == 0
    finally:
        agent.close()
