"""Benchmark `id-monitor discover` against plain classification of the same IDs, in one run.

    .venv/bin/python bench/discover.py               # 1,000,000 unknown IDs
    .venv/bin/python bench/discover.py --ids 200000  # quick look

Builds N IDs the netra schema does not know (six shapes of other systems' IDs: prefixed epoch
time + hex, upper-case order numbers, dotted hex, UUID-bearing URNs, ULIDs, e-mail-bearing
accounts, plus 2% random junk), as the byte lines `discover` reads. Then, alternately and
`--repeat` times, on the same lines: bare classification (decode each line,
`Classifier.classify`), the `id-monitor classify --json` loop (the same, plus one JSON line per
ID to /dev/null), and discover's mining loop (decode, classify, count the shape). Rates are
IDs per CPU-second of this process (the best run; CPU time, because a shared machine's other
load distorts wall time), with discover's ratio to each peer (target >= 0.5 of classify's
rate). Then the shapes found, the miner's state size after 10% and after 100% of the input
(equal: memory does not grow with input), the traced peak of the mining pass and the process
peak RSS.
"""

from __future__ import annotations

import argparse
import random
import string
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from id_monitor.classify import Classifier
from id_monitor.discover.mine import mine_ids
from id_monitor.agent.workers import peak_rss_mb

TARGET_RATIO = 0.5


def make_ids(n: int, seed: int = 42) -> list[bytes]:
    rng = random.Random(seed)
    names = [f"{a}{b}" for a in ("ann", "bo", "cy", "dee", "eve") for b in ("", "x", "99", "_j")]
    junk_alphabet = string.ascii_letters + string.digits + "_-.:@/"
    out = []
    for i in range(n):
        roll = rng.random()
        if roll < 0.25:
            value = f"inv_{1757373103822 + i}_{rng.getrandbits(32):08x}"
        elif roll < 0.45:
            value = f"ORD-{rng.randrange(1, 10**6)}-{rng.getrandbits(16):04X}"
        elif roll < 0.60:
            value = f"cust.{rng.getrandbits(40):010x}"
        elif roll < 0.75:
            value = f"urn:job:{rng.getrandbits(128):032x}"
            value = f"urn:job:{value[8:16]}-{value[16:20]}-4{value[21:24]}-a{value[25:28]}-{value[28:40]}"
        elif roll < 0.88:
            value = "01" + "".join(rng.choice("0123456789ABCDEFGHJKMNPQRSTVWXYZ") for _ in range(24))
        elif roll < 0.98:
            value = f"acct:{rng.choice(names)}@example.com:{rng.getrandbits(24):06x}"
        else:
            value = "".join(rng.choice(junk_alphabet) for _ in range(rng.randint(3, 40)))
        out.append(value.encode() + b"\n")
    return out


def classify_only(lines: list[bytes], classifier: Classifier) -> int:
    classify = classifier.classify
    unknown = 0
    for raw in lines:
        if classify(raw.decode("utf-8").rstrip("\r\n")).status == "unknown":
            unknown += 1
    return unknown


def classify_json(lines: list[bytes], classifier: Classifier) -> None:
    import os

    from id_monitor.commands.classify import _lines, _print_json

    saved = sys.stdout
    with open(os.devnull, "w") as sink:
        sys.stdout = sink
        try:
            _print_json(classifier, _lines(lines))
        finally:
            sys.stdout = saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ids", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    lines = make_ids(args.ids)
    times: dict[str, list[float]] = {"classify": [], "classify --json": [], "discover": []}
    result = None
    unknown = 0
    for _ in range(args.repeat):
        start = time.process_time()
        unknown = classify_only(lines, Classifier("netra"))
        times["classify"].append(time.process_time() - start)
        start = time.process_time()
        classify_json(lines, Classifier("netra"))
        times["classify --json"].append(time.process_time() - start)
        start = time.process_time()
        result = mine_ids(lines, Classifier("netra").classify, all_ids=False, min_support=20)
        times["discover"].append(time.process_time() - start)
    assert result is not None
    rates = {name: len(lines) / min(ts) for name, ts in times.items()}
    print(f"IDs: {len(lines):,} ({unknown:,} unknown to netra); rates in IDs per CPU-second, best of {args.repeat}")
    for name, rate in rates.items():
        print(f"  {name:16} {rate:12,.0f}")
    for peer in ("classify", "classify --json"):
        ratio = rates["discover"] / rates[peer]
        verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
        print(f"  discover / {peer:16} {ratio:5.2f}  (target >= {TARGET_RATIO}: {verdict})")
    for row in result.tracker.rows(10):
        print(f"  {row.count:9,}  {row.share:6.1%}  {row.shape:40}  {row.template}")

    tracemalloc.start()
    tenth = mine_ids(lines[: len(lines) // 10], Classifier("netra").classify, all_ids=False, min_support=20)
    small = tenth.tracker._miner("id").state_size()
    tracemalloc.reset_peak()
    full = mine_ids(lines, Classifier("netra").classify, all_ids=False, min_support=20)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    large = full.tracker._miner("id").state_size()
    print(f"state after {len(lines) // 10:,} IDs: {small}")
    print(f"state after {len(lines):,} IDs: {large}")
    print(f"traced peak of the mining pass (classifier cache included): {peak / 2**20:.1f} MiB")
    print(f"process peak RSS (input list included): {peak_rss_mb():.0f} MB")
    agent_tracking_cost(args.repeat)


def agent_tracking_cost(repeat: int, n: int = 50_000) -> None:
    """The agent's per-message cost (check a batch, merge its metrics, feed the shape tracker as
    `Agent._record` does) with live shape tracking on and off, on the realistic traffic mix."""
    from collections import namedtuple

    from prometheus_client import CollectorRegistry

    from id_monitor.config import load_config
    from id_monitor.discover.tracker import ShapeTracker
    from id_monitor.pipeline import Checker, Chunk, build_engine
    from id_monitor.sinks.metrics import IdMetrics
    from id_monitor.traffic import generate_lines

    record = namedtuple("record", "value headers offset")
    records = [record(line.rstrip(b"\n"), None, i) for i, line in enumerate(generate_lines(n, seed=4))]
    config = load_config(env={})

    def run(tracking: bool) -> float:
        engine = build_engine(config)
        checker = Checker(engine)
        metrics = IdMetrics(config, engine.schema, ["kafka:bench"], registry=CollectorRegistry())
        tracker = ShapeTracker(config.fields) if tracking else None
        start = time.process_time()
        for at in range(0, n, 2000):
            result = checker.check_batch([Chunk("kafka:bench", "bench", 0, records[at:at + 2000])], 0)
            metrics.merge(result.metrics)
            if tracker is not None:
                for finding in result.unknown:
                    tracker.observe(finding.field, finding.value, finding.info)
        return (time.process_time() - start) / n * 1e6

    best = {"off": float("inf"), "on": float("inf")}
    for _ in range(repeat):
        for name in best:
            best[name] = min(best[name], run(name == "on"))
    extra = best["on"] / best["off"] - 1
    print(f"agent per message, realistic mix: tracking off {best['off']:.2f} us, on {best['on']:.2f} us "
          f"= {extra:+.1%} (target <= +5%: {'met' if extra <= 0.05 else 'NOT met'})")


if __name__ == "__main__":
    main()
