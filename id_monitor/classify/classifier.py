"""Classifier: any value -> IdInfo, pure and fast, with a bounded cache for repeated IDs.

Traffic repeats IDs heavily (one thread id appears in every message of its thread), so a cache
hit must cost about one dict look-up: the cache is a `BoundedCache` with two generations, and an
ID is admitted on its second sighting. One-off IDs (request and message ids) then cost a set
insertion instead of churning the cache: creating, retaining and later freeing their results
(and the garbage collector walking them) cost more than classifying them did. The doorkeeper set
is tested inline, in `classify`'s own frame: a call per new ID would cost 4% of classifying it.
"""

from __future__ import annotations

from id_monitor.classify.cache import BoundedCache
from id_monitor.classify.matcher import Matcher
from id_monitor.model import IdInfo
from id_monitor.schema import Schema, load_schema

NOT_A_STRING = IdInfo(status="unknown", reason="not_a_string")
TOO_LONG = IdInfo(status="unknown", reason="too_long")
EMPTY = IdInfo(status="unknown", reason="empty")
ERROR = IdInfo(status="unknown", reason="error")


class Classifier:
    """Classify values against a schema. `classify` never raises.

    `cache_size` bounds the number of cached results (0 disables the cache); `max_length` is the
    longest string that is matched at all: longer inputs are `unknown`/`too_long` without being
    scanned.
    """

    engine = "python"

    def __init__(self, schema: Schema | str = "netra", *, cache_size: int = 65536,
                 max_length: int = 256) -> None:
        self._schema = load_schema(schema) if isinstance(schema, str) else schema
        if cache_size < 0 or max_length < 1:
            raise ValueError("cache_size must be >= 0 and max_length >= 1")
        self.matcher = Matcher.for_schema(self._schema)
        self._match = self.matcher.match
        self.max_length = max_length
        self.cache_size = cache_size
        self._cache: BoundedCache[str, IdInfo] = BoundedCache(cache_size, "generations")
        # IDs seen once and not cached: at most one generation's worth, cleared when full
        self._seen: set[str] = set()
        self._seen_limit = max(cache_size // 2, 1)

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
        cache = self._cache
        info = cache.get(value)
        if info is not None:
            return info
        info = cache.old.get(value)
        if info is not None:
            cache.offer(value, info)  # copied forward into the young generation
            return info
        if not value:
            return EMPTY
        match = self._match  # a local: a call through an instance attribute is not specialised
        try:
            info = match(value)
        except Exception:  # noqa: BLE001 - a bug in a decoder must not take the pipeline down
            return ERROR
        if self.cache_size:
            seen = self._seen
            before = len(seen)
            seen.add(value)
            if len(seen) != before:  # first sighting: remember the string, do not cache yet
                if before >= self._seen_limit:
                    seen.clear()
                    seen.add(value)
                return info
            cache.offer(value, info)
        return info

    @property
    def cached(self) -> int:
        """How many results the cache holds now (at most `cache_size`)."""
        return self._cache.size

    def cache_clear(self) -> None:
        self._cache.clear()
        self._seen = set()
