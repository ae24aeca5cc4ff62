"""One bounded cache type for every memo in id-monitor, with the eviction each user needs.

Keys often come from input (IDs, span attribute values, message types), so every memo must be
bounded or a hostile stream grows the process. The cache *is* a dict: a hit is `cache.get(key)`,
one C call, which matters on the classifier's path where a hit must cost about one dict look-up.
Misses go through `recall` (the older generation) and `offer` (eviction).

Evictions:
- `generations`: two generations of about capacity/2 entries. When the young one (this dict) is
  full it becomes the old one and the previous old one is dropped; an entry found in the old one is
  copied forward. O(1) amortised work per call, approximating LRU without per-hit bookkeeping.
- `fifo`: the oldest insertion goes first.
- `refuse`: once full, new keys are simply not stored (for memos whose keys are mostly known early).

Which keys are worth offering is the user's business: the classifier offers an ID only on its
second sighting (`classify.classifier`), in its own frame, because a call per new ID costs more
there than the admission test does.
"""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

K = TypeVar("K")
V = TypeVar("V")

Eviction = Literal["generations", "fifo", "refuse"]
EVICTIONS: tuple[str, ...] = ("generations", "fifo", "refuse")


class BoundedCache(dict, Generic[K, V]):  # type: ignore[type-arg]
    """A dict holding at most about `capacity` entries (see the module docstring)."""

    # slots, not an instance __dict__: the interpreter specialises reads of these on the miss path
    __slots__ = ("_limit", "capacity", "eviction", "old")

    def __init__(self, capacity: int, eviction: Eviction = "fifo") -> None:
        super().__init__()
        if capacity < 0:
            raise ValueError("capacity must be >= 0")
        if eviction not in EVICTIONS:
            raise ValueError(f"unknown eviction {eviction!r} (one of {', '.join(EVICTIONS)})")
        self.capacity = capacity
        self.eviction = eviction
        self._limit = (max(capacity // 2, 1) if eviction == "generations" else capacity) if capacity else 0
        # The old generation is always this same dict object, so `old.get` may be bound once.
        self.old: dict[Any, Any] = {}

    def recall(self, key: K) -> V | None:
        """A miss of `get`: the entry from the old generation (copied forward), or None."""
        value = self.old.get(key)
        if value is not None:
            self._store(key, value)
        return value

    def offer(self, key: K, value: V) -> None:
        """Store `value`, evicting as the policy says."""
        if len(self) < self._limit:  # the common case, in this one frame
            self[key] = value
        elif self.capacity:
            self._store(key, value)

    def _store(self, key: K, value: V) -> None:
        if len(self) >= self._limit and key not in self:
            if self.eviction == "generations":
                self.old.clear()
                if self.capacity > 1:  # two generations of one entry would hold two
                    self.old.update(self)
                super().clear()
            elif self.eviction == "fifo":
                try:
                    del self[next(iter(self))]
                except (KeyError, RuntimeError, StopIteration):  # another thread got there first
                    super().clear()
            else:
                return
        self[key] = value

    @property
    def size(self) -> int:
        """Entries held in both generations (at most about `capacity`)."""
        return len(self) + len(self.old)

    def clear(self) -> None:
        super().clear()
        self.old.clear()
