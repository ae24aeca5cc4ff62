"""Space-saving top-K: at most `capacity` counted items, whatever the number of distinct items.

A new item, when the table is full, replaces the least counted one and inherits its count as
its `error` (Metwally et al.): every item counted more than total/capacity times is kept, and
each kept item's true count lies in [count - error, count]. The least counted item is found
through a lazy min-heap (one record per kept item, refreshed when popped stale), so an eviction
costs O(log capacity) amortised instead of a scan.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Hashable, Iterator
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Counted(Generic[V]):
    __slots__ = ("count", "error", "seq", "value")

    def __init__(self, value: V, count: int, error: int, seq: int) -> None:
        self.value = value
        self.count = count
        self.error = error
        self.seq = seq


class SpaceSaving(Generic[K, V]):
    """Keys with counts and a payload made by `make(key)` when a key is admitted."""

    def __init__(self, capacity: int, make: Callable[[K], V]) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._make = make
        self._items: dict[K, Counted[V]] = {}
        self._heap: list[tuple[int, int, K]] = []
        self._seq = 0
        self.evictions = 0

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: K) -> Counted[V] | None:
        return self._items.get(key)

    def add(self, key: K, weight: int = 1) -> Counted[V]:
        """Count `key` once (or `weight` times) and return its entry."""
        item = self._items.get(key)
        if item is None:
            item = self._admit(key)
        item.count += weight
        return item

    def _admit(self, key: K) -> Counted[V]:
        floor = 0
        items, heap = self._items, self._heap
        if len(items) >= self.capacity:
            while True:
                count, seq, victim_key = heapq.heappop(heap)
                victim = items[victim_key]
                if victim.count != count:  # stale record: refresh it and look again
                    heapq.heappush(heap, (victim.count, seq, victim_key))
                    continue
                del items[victim_key]
                floor = victim.count
                self.evictions += 1
                break
        self._seq += 1
        item = Counted(self._make(key), floor, floor, self._seq)
        items[key] = item
        heapq.heappush(heap, (floor, self._seq, key))
        return item

    def items(self) -> Iterator[tuple[K, Counted[V]]]:
        return iter(list(self._items.items()))

    def remove(self, key: K) -> None:
        """Drop `key` (its heap record is dropped lazily: it no longer names a kept item)."""
        del self._items[key]
        self._heap = [r for r in self._heap if r[2] in self._items]
        heapq.heapify(self._heap)
