"""NativeClassifier and NativeChecker: the Python face of the native core.

`NativeClassifier` keeps the `Classifier` contract (`classify(value) -> IdInfo`, never raises):
the core returns plain tuples and the IdInfo objects are built here, with a bounded cache so a
repeated ID costs one dict look-up, as in the Python engine.

`NativeChecker.check_batch(values, observed_ms)` hands a whole batch to the core, which decodes,
extracts, classifies and judges it with the GIL released, and returns a `BatchResult`: the
counts the metrics need (merged once per batch), the findings to emit (with the raw value: sinks
redact), each message's owner and the unknown IDs per field. Owner-collision tracking looks
across messages and batches, so it stays here in Python (`owners.OwnerCollisions`), fed with each
message's owner in message order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from id_monitor.judge import rules
from id_monitor.judge.owners import OwnerCollisions
from id_monitor.model import IdInfo
from id_monitor.native.describe import describe, to_json
from id_monitor.schema import Schema, load_schema

NO_FORMAT = "none"
MESSAGE_FIELD = "message"
_EMPTY_PARTS: Any = MappingProxyType({})
NOT_A_STRING = IdInfo(status="unknown", reason="not_a_string")
TOO_LONG = IdInfo(status="unknown", reason="too_long")
EMPTY = IdInfo(status="unknown", reason="empty")
NO_MATCH = IdInfo(status="unknown", reason="no_match")

# (message_index, rule, field, severity, raw value or None, format, id_type, detail)
FindingTuple = tuple[int, str, str, str | None, str | None, str | None, str | None, str | None]


def _core() -> Any:
    import id_monitor_native

    return id_monitor_native


_ENGINES: dict[str, Any] = {}
_ENGINES_MAX = 8


def compiled_engine(description: str) -> Any:
    """The core's Engine for a description, compiled once per distinct description (an Engine is
    immutable and thread-safe, so checkers and classifiers of the same config share one)."""
    engine = _ENGINES.get(description)
    if engine is None:
        engine = _core().Engine(description)
        if len(_ENGINES) >= _ENGINES_MAX:
            _ENGINES.pop(next(iter(_ENGINES)))
        _ENGINES[description] = engine
    return engine


_new_tuple = tuple.__new__


def info_from_tuple(t: tuple[Any, ...]) -> IdInfo:
    """IdInfo from the core's (status, format, id_type, owner, timestamp_ms, counter, reason, parts);
    parts is None when empty. IdInfo is a named tuple: built with tuple.__new__ (one C call)."""
    parts = t[7]
    if parts:
        return _new_tuple(IdInfo, (*t[:7], MappingProxyType(dict(parts))))  # type: ignore[no-any-return]
    return _new_tuple(IdInfo, (*t[:7], _EMPTY_PARTS))  # type: ignore[no-any-return]


class NativeClassifier:
    """`Classifier` on the native core: same arguments, same results."""

    engine = "native"

    def __init__(self, schema: Schema | str = "netra", *, cache_size: int = 65536, max_length: int = 256) -> None:
        self._schema = load_schema(schema) if isinstance(schema, str) else schema
        if cache_size < 0 or max_length < 1:
            raise ValueError("cache_size must be >= 0 and max_length >= 1")
        self.max_length = max_length
        self.cache_size = cache_size
        self._engine = compiled_engine(to_json(describe(self._schema, max_id_length=max_length)))
        self._native = self._engine.classify
        self._generation = max(cache_size // 2, 1)
        self._young: dict[str, IdInfo] = {}
        self._old: dict[str, IdInfo] = {}

    @property
    def schema(self) -> Schema:
        return self._schema

    def classify(self, value: object) -> IdInfo:
        if type(value) is not str:
            if not isinstance(value, str):
                return NOT_A_STRING
            value = str.__str__(value)
        if len(value) > self.max_length:
            return TOO_LONG
        info = self._young.get(value)
        if info is not None:
            return info
        info = self._old.get(value)
        if info is None:
            if not value:
                return EMPTY
            try:
                info = info_from_tuple(self._native(value))
            except UnicodeEncodeError:
                return NO_MATCH  # a lone surrogate: no template matches one
            if not self.cache_size:
                return info
        if len(self._young) >= self._generation:
            self._old = self._young
            self._young = {}
        self._young[value] = info
        return info

    def classify_many(self, values: list[str]) -> list[IdInfo]:
        """Classify many strings in one call (no cache; GIL released while matching)."""
        return [info_from_tuple(t) for t in self._engine.classify_many(values)]

    @property
    def cached(self) -> int:
        return len(self._young) + len(self._old)

    def cache_clear(self) -> None:
        self._young = {}
        self._old = {}


@dataclass(slots=True)
class BatchResult:
    """What checking one batch found.

    `messages`: count per result (ok | malformed | skipped); `results`: each message's result.
    `ids`: IDs by (field, format label; `none` for unknown). `findings`: counts by (field, rule,
    severity). `ages`: per field, (bucket counts, sum of ages in seconds), the buckets being
    metrics.AGE_BUCKETS (not cumulative). `isolation`: counts by (field, outcome).
    `emitted`: the findings, as (message_index, rule, field, severity, raw value or None, format,
    id_type, detail) in message order (not_a_string carries `<type>` instead of a value).
    `owners`: each message's owner (None when absent or not checked). `unknown`: the unknown ID
    strings per field, for shape tracking. `message_ids`: with `with_ids`, (message_index, field,
    IdInfo) for every ID checked.
    """

    messages: dict[str, int]
    results: list[str]
    ids: dict[tuple[str, str], int]
    findings: dict[tuple[str, str, str | None], int]
    ages: dict[str, tuple[list[int], float]]
    isolation: dict[tuple[str, str], int]
    emitted: list[FindingTuple]
    owners: list[str | None]
    unknown: dict[str, list[str]]
    message_ids: list[tuple[int, str, IdInfo]] | None = field(default=None)


_DESCRIPTIONS: dict[tuple[int, str], tuple[Schema, str]] = {}


def _checker_description(schema: Schema, config: Any) -> str:
    """describe() of (schema, config), memoised: describing walks every variant in Python."""
    key = (id(schema), config.model_dump_json())
    hit = _DESCRIPTIONS.get(key)
    if hit is None or hit[0] is not schema:
        if len(_DESCRIPTIONS) >= _ENGINES_MAX:
            _DESCRIPTIONS.pop(next(iter(_DESCRIPTIONS)))
        hit = _DESCRIPTIONS[key] = (schema, to_json(describe(schema, config)))
    return hit[1]


class NativeChecker:
    """Judge whole batches on the native core with `config`'s policy (the Judge's semantics)."""

    def __init__(self, config: Any, schema: Schema | str | None = None, *, track_owners: bool = True) -> None:
        self.config = config
        self._schema = load_schema(schema or config.schema) if not isinstance(schema, Schema) else schema
        self._engine = compiled_engine(_checker_description(self._schema, config))
        severity: dict[str, str | None] = dict(rules.DEFAULT_SEVERITY)
        for rule, level in config.policy.severity.items():
            severity[rule] = None if level == "off" else level
        self._collision_severity = severity["owner_collision"]
        self._width = config.owner.width
        self.owners: OwnerCollisions | None = None
        if track_owners and self._collision_severity is not None:
            self.owners = OwnerCollisions(config.owner.width, config.limits.max_tracked_owners)

    @property
    def schema(self) -> Schema:
        return self._schema

    def check_batch(self, values: list[Any], observed_ms: int, *, with_ids: bool = False,
                    plain: bool = False) -> BatchResult:
        """Check raw messages (bytes, str, or None for a tombstone) seen at `observed_ms`.
        `plain=True`: the caller made `values` a list of bytes, str and None already."""
        if not plain:
            if type(values) is not list:
                values = list(values)
            values = [bytes(v) if isinstance(v, (bytearray, memoryview)) else v for v in values] \
                if any(isinstance(v, (bytearray, memoryview)) for v in values) else values
        (counts, results, ids, findings, ages, isolation, emitted, owners, unknown,
         message_ids) = self._engine.check_batch(values, observed_ms, with_ids)
        id_counts = {(f, fmt if fmt is not None else NO_FORMAT): n for f, fmt, n in ids}
        finding_counts = {(f, rule, sev): n for f, rule, sev, n in findings}
        unknown_by_field: dict[str, list[str]] = {}
        for f, value in unknown:
            unknown_by_field.setdefault(f, []).append(value)
        if self.owners is not None:
            emitted = self._owner_collisions(owners, emitted, finding_counts)
        return BatchResult(
            messages=dict(zip(("ok", "malformed", "skipped"), counts)),
            results=results,
            ids=id_counts,
            findings=finding_counts,
            ages={f: (c, s) for f, c, s in ages},
            isolation={(f, o): n for f, o, n in isolation},
            emitted=emitted,
            owners=owners,
            unknown=unknown_by_field,
            message_ids=None if message_ids is None else [(i, f, info_from_tuple(t)) for i, f, t in message_ids],
        )

    def _owner_collisions(self, owners: list[str | None], emitted: list[FindingTuple],
                          counts: dict[tuple[str, str, str | None], int]) -> list[FindingTuple]:
        """Feed each message's owner to the tracker in message order; a collision's finding goes
        where the Judge puts it: after the message's other findings, before `too_many_ids`."""
        observe = self.owners.observe  # type: ignore[union-attr]
        width, sev = self._width, self._collision_severity
        extra: dict[int, FindingTuple] = {}
        for index, owner in enumerate(owners):
            if owner is None:
                continue
            distinct = observe(owner)
            if distinct:
                prefix = owner[:width] if owner else None
                extra[index] = (index, "owner_collision", MESSAGE_FIELD, sev, prefix or owner, None, None,
                                f"{distinct} owners share this prefix")
                key = (MESSAGE_FIELD, "owner_collision", sev)
                counts[key] = counts.get(key, 0) + 1
        if not extra:
            return emitted
        merged: list[FindingTuple] = []
        pending = sorted(extra)
        at = 0
        for f in emitted:
            while at < len(pending) and pending[at] < f[0]:
                merged.append(extra[pending[at]])
                at += 1
            if at < len(pending) and pending[at] == f[0] and f[1] == "malformed" and f[7] == "too_many_ids":
                merged.append(extra[pending[at]])
                at += 1
            merged.append(f)
        merged.extend(extra[i] for i in pending[at:])
        return merged
