"""ShapeTracker: the live, per-field form of `discover`, for the agent.

The agent calls `observe(field, value)` for each ID it classified `unknown` (cheap: one
tokenisation and a few dict updates, under a lock); `/debug/shapes` serves `snapshot()`, the
same objects as `discover --json`; the gauges come from `id_monitor.discover.metrics`. Memory is
bounded per field (the miner's capacity) and the number of fields is bounded too: the configured
ones, or the first `max_fields` seen, then everything else is counted under `other`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from id_monitor.discover.shapes import ShapeMiner, ShapeRow
from id_monitor.model import IdInfo

DEFAULT_TRACKER_CAPACITY = 64
DEFAULT_TOP_N = 10
OTHER_FIELD = "other"


class ShapeTracker:
    def __init__(self, fields: Iterable[str] | None = None, *, min_support: int = 20,
                 capacity: int = DEFAULT_TRACKER_CAPACITY, top_n: int = DEFAULT_TOP_N,
                 max_fields: int = 64) -> None:
        self.min_support = min_support
        self.capacity = capacity
        self.top_n = top_n
        self._fixed = frozenset(fields) if fields is not None else None
        self._max_fields = max_fields
        self._miners: dict[str, ShapeMiner] = {}
        self._lock = threading.Lock()

    def _miner(self, field: str) -> ShapeMiner:
        miner = self._miners.get(field)
        if miner is None:
            known = self._fixed is not None and field in self._fixed
            if not known and (self._fixed is not None or len(self._miners) >= self._max_fields):
                field = OTHER_FIELD
                miner = self._miners.get(field)
            if miner is None:
                miner = self._miners[field] = ShapeMiner(min_support=self.min_support, capacity=self.capacity)
        return miner

    def observe(self, field: str, value: str, info: IdInfo | None = None) -> None:
        """Count one unknown ID of `field` (non-strings are not IDs and are not counted)."""
        if type(value) is not str:
            return
        with self._lock:
            self._miner(field).observe(value, info)

    def rows(self, top_n: int | None = None) -> list[ShapeRow]:
        n = self.top_n if top_n is None else top_n
        with self._lock:
            return [row for field in sorted(self._miners) for row in self._miners[field].rows(n, field)]

    def snapshot(self, top_n: int | None = None) -> list[dict[str, Any]]:
        """The top shapes per field as plain objects (JSON-ready), as `discover --json` prints."""
        return [row.as_dict() for row in self.rows(top_n)]

    def totals(self) -> dict[str, int]:
        """IDs observed per field."""
        with self._lock:
            return {field: miner.total for field, miner in self._miners.items()}
