"""Prometheus gauges of the top unknown shapes: `id_monitor_unknown_shapes{field, shape}`.

Per field, the top N shapes (default 10) and `shape="other"` for the IDs of every other shape
(including those below the support threshold), so the series count is at most
fields x (N + 1) whatever the traffic. Shape texts carry no user value (the support threshold)
and are cut to a bounded length. Values are IDs observed since start.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from id_monitor.discover.tracker import ShapeTracker

METRIC = "id_monitor_unknown_shapes"


class UnknownShapesCollector(Collector):
    """Register with `registry.register(UnknownShapesCollector(tracker))`."""

    def __init__(self, tracker: ShapeTracker, top_n: int | None = None) -> None:
        self.tracker = tracker
        self.top_n = top_n

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(METRIC, self._help(), labels=["field", "shape"])

    @staticmethod
    def _help() -> str:
        return "Unknown IDs observed per field and shape: the top shapes, and shape=\"other\" for the rest"

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(METRIC, self._help(), labels=["field", "shape"])
        rows = self.tracker.rows(self.top_n)
        totals = self.tracker.totals()
        shown: dict[str, int] = {}
        for row in rows:
            field = row.field or ""
            family.add_metric([field, row.shape], row.count)
            shown[field] = shown.get(field, 0) + row.count
        for field, total in sorted(totals.items()):
            family.add_metric([field, "other"], max(0, total - shown.get(field, 0)))
        yield family
