"""Cost of the revision label on the agent's hot path: checking and counting batches of messages.

    python bench/revision.py [--n 40000] [--batch 500] [--repeat 3] [--modes off,header,field]

`n` realistic netra messages (id_monitor.traffic) in batches of `batch` records, each record with
a Kafka-style `app-revision` header and a `revision` field. Per mode, best of `repeat` rounds of
process CPU time for `Checker.check_batch` + `IdMetrics.merge` (what the run loop does per batch):
  off     no `revision` section: the path every deployment without rollouts takes
  header  revision from the header, values blue / green
  field   revision from the message field
Printed: messages per second per mode, and each mode's ratio to `off` measured in the same run.
Run it with PYTHONPATH pointing at a checkout from before the revision label (modes=off) to
compare `off` with the code before it.
"""

from __future__ import annotations

import argparse
import random
import time

import orjson

from id_monitor.config import load_config
from id_monitor.pipeline import build_engine
from id_monitor.pipeline.checker import Checker
from id_monitor.sinks.metrics import IdMetrics
from id_monitor.sources.batch import Chunk
from id_monitor.traffic import generate

ENVIRONMENTS = {
    "off": {},
    "header": {"ID_MONITOR_REVISION__VALUES": "blue,green", "ID_MONITOR_REVISION__HEADER": "app-revision"},
    "field": {"ID_MONITOR_REVISION__VALUES": "blue,green", "ID_MONITOR_REVISION__FIELD": "revision"},
}


class Record:
    __slots__ = ("headers", "offset", "value")

    def __init__(self, value: bytes, headers: list, offset: int) -> None:
        self.value, self.headers, self.offset = value, headers, offset


def corpus(n: int, batch: int, seed: int) -> list[list[Record]]:
    rng = random.Random(seed)
    records = []
    for i, (message, _) in enumerate(generate(n, seed=seed)):
        revision = "green" if rng.random() < 0.1 else "blue"
        records.append(Record(orjson.dumps({**message, "revision": revision}),
                              [("app-revision", revision.encode())], i))
    return [records[i:i + batch] for i in range(0, n, batch)]


def measure(mode: str, batches: list[list[Record]]) -> float:
    config = load_config(env=ENVIRONMENTS[mode])
    engine = build_engine(config)
    checker = Checker(engine)
    metrics = IdMetrics(config, engine.schema, ["kafka:events"])
    observed = int(time.time() * 1000)
    started = time.process_time()
    for records in batches:
        result = checker.check_batch([Chunk("kafka:events", "events", 0, records)], observed)
        metrics.merge(result.metrics)
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--modes", default="off,header,field")
    args = parser.parse_args()
    modes = args.modes.split(",")
    batches = corpus(args.n, args.batch, args.seed)
    best = {mode: float("inf") for mode in modes}
    for _ in range(args.repeat):
        for mode in modes:  # interleaved, so drift on a shared machine hits every mode alike
            best[mode] = min(best[mode], measure(mode, batches))
    for mode in modes:
        ratio = f"  {best['off'] / best[mode]:.3f} x off" if "off" in best else ""
        print(f"{mode:7s} {args.n / best[mode]:10.0f} msg/s{ratio}")


if __name__ == "__main__":
    main()
