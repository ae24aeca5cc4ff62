"""Privacy by support: a literal word may appear in a shape only when at least K distinct IDs
carry it. Distinct IDs are counted exactly up to K (a set of at most K hashes) and then no
further, so a counter's memory is bounded by K whatever the traffic.
"""

from __future__ import annotations

MAX_MIN_SUPPORT = 1000


class DistinctUpTo:
    """Counts distinct IDs (by hash) up to `limit`; `reached` once `limit` distinct were seen.

    A repeated ID counts once, so one chatty user cannot push their own value over the bar."""

    __slots__ = ("_hashes", "limit", "reached")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._hashes: set[int] | None = set()
        self.reached = limit <= 0

    def add(self, id_hash: int) -> None:
        hashes = self._hashes
        if hashes is None:
            return
        hashes.add(id_hash)
        if len(hashes) >= self.limit:
            self.reached = True
            self._hashes = None  # saturated: the set is no longer needed

    @property
    def count(self) -> int:
        return self.limit if self._hashes is None else len(self._hashes)


class LiteralTable:
    """The literal words seen at one position of a shape: space-saving over at most `capacity`
    words (a new word replaces the least counted one), each with its distinct-ID support.

    A replaced word's support starts again from zero (space-saving keeps its count, not its
    IDs), so support is never over-estimated: a literal is shown only when truly supported."""

    __slots__ = ("adds", "capacity", "evictions", "frozen", "min_support", "words")

    def __init__(self, capacity: int, min_support: int) -> None:
        self.capacity = capacity
        self.min_support = min_support
        self.words: dict[str, list] = {}  # word -> [count, DistinctUpTo, error]
        self.adds = 0
        self.evictions = 0
        # A position whose words keep replacing each other holds values (user names, random
        # tokens), not a literal: its supported words could never cover it, so it stops
        # tracking words and stays a class. This bounds the work as well as the memory.
        self.frozen = False

    def add(self, word: str, id_hash: int) -> None:
        if self.frozen:
            return
        self.adds += 1
        words = self.words
        slot = words.get(word)
        if slot is None:
            count = 0
            if len(words) >= self.capacity:
                victim = min(words, key=lambda w: words[w][0])
                count = words.pop(victim)[0]
                self.evictions += 1
                if self.evictions > 100 and self.evictions * 20 > self.adds:
                    self.frozen = True
                    self.words = {}
                    return
            slot = words[word] = [count, DistinctUpTo(self.min_support), count]
        slot[0] += 1
        support = slot[1]
        if not support.reached:
            support.add(id_hash)

    def supported(self) -> dict[str, int]:
        """Words that reached the support threshold, with their guaranteed counts (count minus
        what the word inherited when it replaced another)."""
        return {w: slot[0] - slot[2] for w, slot in self.words.items() if slot[1].reached}
