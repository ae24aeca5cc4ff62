"""Classifier: any value -> IdInfo, pure and fast, with a bounded cache for repeated IDs.

Traffic repeats IDs heavily (one thread id appears in every message of its thread), so a cache
hit must cost about one dict look-up. The cache is two generations of plain dicts: look-ups hit
the young one first; when it is full it becomes the old one and the previous old one is dropped,
and an entry found in the old generation is copied forward. That bounds memory to about
`cache_size` entries with O(1) work per call, approximating LRU without per-hit bookkeeping.

An ID is admitted to the cache on its second sighting (a "doorkeeper" set remembers strings seen
once). One-off IDs (request and message ids) then cost a set insertion instead of churning the
cache: creating, retaining and later freeing their results (and the garbage collector walking
them) cost more than classifying them did. Hot IDs are cached from their second sighting on.
"""

from __future__ import annotations

from id_monitor.model import IdInfo
from id_monitor.schema import Schema, load_schema

NOT_A_STRING = IdInfo(status="unknown", reason="not_a_string")
TOO_LONG = IdInfo(status="unknown", reason="too_long")
EMPTY = IdInfo(status="unknown", reason="empty")


class Classifier:
    """Classify values against a schema. `classify` never raises.

    `cache_size` bounds the number of cached results (0 disables the cache); `max_length` is the
    longest string that is matched at all: longer inputs are `unknown`/`too_long` without being
    scanned.
    """

    def __init__(self, schema: Schema | str = "netra", *, cache_size: int = 65536,
                 max_length: int = 256) -> None:
        self._schema = load_schema(schema) if isinstance(schema, str) else schema
        if cache_size < 0 or max_length < 1:
            raise ValueError("cache_size must be >= 0 and max_length >= 1")
        self._match = self._schema.matcher.match
        self.max_length = max_length
        self.cache_size = cache_size
        self._generation = max(cache_size // 2, 1)
        self._young: dict[str, IdInfo] = {}
        self._old: dict[str, IdInfo] = {}
        self._seen: set[str] = set()  # strings seen once (the doorkeeper), bounded like a generation

    @property
    def schema(self) -> Schema:
        return self._schema

    def classify(self, value: object) -> IdInfo:
        """IdInfo for `value`: status target|legacy|unknown, the winning format and its parts."""
        if type(value) is not str:
            if not isinstance(value, str):
                return NOT_A_STRING
            value = str.__str__(value)  # a str subclass: classify its plain text
        if len(value) > self.max_length:
            return TOO_LONG  # before the cache: hashing would scan it, caching would keep it
        info = self._young.get(value)
        if info is not None:
            return info
        info = self._old.get(value)
        if info is None:
            if not value:
                return EMPTY
            try:
                info = self._match(value)
            except Exception:  # noqa: BLE001 - a bug in a decoder must not take the pipeline down
                return IdInfo(status="unknown", reason="error")
            if not self.cache_size:
                return info
            seen = self._seen
            before = len(seen)
            seen.add(value)
            if len(seen) != before:  # first sighting: remember the string, do not cache yet
                if before >= self._generation:
                    seen.clear()
                    seen.add(value)
                return info
        if len(self._young) >= self._generation:
            self._old = self._young
            self._young = {}
        self._young[value] = info
        return info

    @property
    def cached(self) -> int:
        """How many results the cache holds now (at most `cache_size`)."""
        return len(self._young) + len(self._old)

    def cache_clear(self) -> None:
        self._young = {}
        self._old = {}
        self._seen = set()
