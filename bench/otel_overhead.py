"""Per-span cost of IdSpanProcessor, against the SDK alone and against a floor, in one run.

    .venv/bin/python bench/otel_overhead.py [--spans 5000] [--repeats 25]

Each span carries 3 ID attributes (enduser.id, session.id, messaging.message.id) and is started
and ended on an SDK TracerProvider with no exporter. Measured in process CPU time, interleaved,
best of the repeats:

- sdk:    the provider with no processor;
- floor:  a processor that writes the very attributes ours writes, precomputed (one
          `set_attributes` of a constant dict): the least any processor writing them can cost;
- warm:   IdSpanProcessor, the same values on every span (its cache answers);
- cold:   IdSpanProcessor, unique values on every span and a fresh processor (and classifier)
          per repeat, so every span is classified and judged;
- metrics: warm, also counting every span's IDs and findings in IdMetrics (source="span").

Target: (warm - sdk) <= 1.2 x (floor - sdk). Cold and metrics figures are reported, not targeted.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from prometheus_client import CollectorRegistry

from examples.chat_service.ids import IdIssuer
from id_monitor.config import load_config
from id_monitor.sinks.metrics import IdMetrics
from id_monitor.otel import IdSpanProcessor


class FloorProcessor(SpanProcessor):
    """Writes a precomputed attribute dict: what tagging costs with no lookup and no judging."""

    def __init__(self, attributes: dict[str, Any]) -> None:
        self.attributes = attributes

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        span.set_attributes(self.attributes)


def span_attributes(issue: IdIssuer, i: int) -> dict[str, str]:
    user = f"user{i:05d}x"
    return {
        "enduser.id": user,
        "session.id": issue.session(user),
        "messaging.message.id": issue.message("user", user, issue.thread()),
    }


def tracer_of(processor: SpanProcessor | None) -> Any:
    provider = TracerProvider()
    if processor is not None:
        provider.add_span_processor(processor)
    return provider.get_tracer("bench")


def run(tracer: Any, attrs: list[dict[str, str]]) -> float:
    """CPU seconds per span for starting and ending one span per attribute dict.

    Process CPU time, not wall time: the figures compare code paths, and on a shared machine wall
    time mostly measures the neighbours.
    """
    start_span = tracer.start_span
    gc.disable()
    try:
        t0 = time.process_time()
        for a in attrs:
            start_span("op", attributes=a).end()
        return (time.process_time() - t0) / len(attrs)
    finally:
        gc.enable()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spans", type=int, default=5_000, help="spans per run")
    parser.add_argument("--repeats", type=int, default=25)
    args = parser.parse_args()

    issue = IdIssuer()
    config = load_config()
    same = span_attributes(issue, 0)
    warm_attrs = [same] * args.spans

    ours = IdSpanProcessor(config)
    probe = tracer_of(ours).start_span("probe", attributes=same)
    written = {k: v for k, v in probe.attributes.items() if k.startswith("id_monitor.")}
    probe.end()
    metrics_proc = IdSpanProcessor(
        config, metrics=IdMetrics(config, ours._classifier.schema, ["span"], CollectorRegistry())
    )

    setups: dict[str, Callable[[], tuple[Any, list[dict[str, str]]]]] = {
        "sdk": lambda: (tracer_of(None), warm_attrs),
        "floor": lambda: (tracer_of(FloorProcessor(written)), warm_attrs),
        "warm": lambda: (tracer_of(ours), warm_attrs),
        "cold": lambda: (
            tracer_of(IdSpanProcessor(config)),
            [span_attributes(issue, i) for i in range(args.spans)],
        ),
        "metrics": lambda: (tracer_of(metrics_proc), warm_attrs),
    }
    best = {name: float("inf") for name in setups}
    for name, setup in setups.items():  # warm-up: caches, imports, code paths
        tracer, attrs = setup()
        run(tracer, attrs[:2000])
    for _ in range(args.repeats):
        for name, setup in setups.items():
            tracer, attrs = setup()
            best[name] = min(best[name], run(tracer, attrs))

    us = {name: seconds * 1e6 for name, seconds in best.items()}
    floor_added = us["floor"] - us["sdk"]
    print(f"spans per run: {args.spans}, repeats: {args.repeats}, best run each (process CPU time); "
          f"{len(written)} attributes written per span")
    print(f"{'setup':<9}{'us/span':>10}{'added us':>10}{'x floor added':>15}")
    for name in setups:
        added = us[name] - us["sdk"]
        ratio = added / floor_added if name != "sdk" else float("nan")
        print(f"{name:<9}{us[name]:>10.2f}{added:>10.2f}{ratio:>15.2f}")
    warm_ratio = (us["warm"] - us["sdk"]) / floor_added
    verdict = "meets" if warm_ratio <= 1.2 else "MISSES"
    print(f"warm added cost = {warm_ratio:.2f} x floor added cost (target <= 1.2): {verdict}")
    print(f"cold added cost = {(us['cold'] - us['sdk']) / floor_added:.2f} x floor added cost (reported only)")


if __name__ == "__main__":
    main()
