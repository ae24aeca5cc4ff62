"""`IdSpanProcessor`: tags every span that carries IDs with what those IDs are.

At span start it reads the configured attribute keys (`enduser.id`, `session.id`,
`messaging.message.id`, ... plus any `app.*` keys from config), classifies and judges their values
and writes `id_monitor.<field>.status|format|type|reason` and `id_monitor.findings` (rule names).
Attributes set after the span started are not seen: OpenTelemetry hands processors the span at
start and a read-only view at end, so pass ID attributes to `start_span` / `start_as_current_span`.

The work for one combination of values is done once: the resulting attribute dict is cached by
the values themselves (bounded, first-in first-out), so a hot span costs a tuple, a dict lookup
and the one `set_attributes` call any processor writing these attributes needs. A cached result
is reused for `reuse_ms` of span time only, because `timestamp_skew` depends on the clock.

A processor runs inside the caller's code path, so nothing here may raise: every failure is
counted in `internal_errors` and logged once, and the span goes on untagged.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.trace import SpanProcessor

from id_monitor.classify import BoundedCache
from id_monitor.pipeline import Engine, build_engine
from id_monitor.sinks.spans import FINDINGS_KEY, exemplar_of, id_attributes, rule_names, worst_by_field

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import ReadableSpan, Span

    from id_monitor.config import Config, HttpSpec
    from id_monitor.judge import Report
    from id_monitor.sinks.metrics import IdMetrics

logger = logging.getLogger(__name__)

SOURCE = "span"
# Span attribute values are str, bool, int, float, bytes or sequences of them (tuples once the SDK
# has cleaned them). A tuple is a list of IDs; short lists of short strings are cache keys as they
# are, anything bigger is judged without the cache so hostile lists never pile up in it.
_SCALARS = frozenset({int, float, bool, type(None)})
_MAX_CACHED_LIST = 16


class _NotAnId:
    """Stands in for a value of no ID-like type (bytes, a mapping): judged as not_a_string."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<not an id>"


_NOT_AN_ID = _NotAnId()


class _Entry:
    """A cached verdict: the attributes to write, the report to count, and the span-time window
    (start +- reuse) in which it may be reused."""

    __slots__ = ("attributes", "fresh_from", "fresh_until", "report")

    def __init__(self, attributes: dict[str, Any], report: Report | None, at_ns: int, reuse_ns: int) -> None:
        self.attributes = attributes
        self.report = report
        self.fresh_from = at_ns - reuse_ns
        self.fresh_until = at_ns + reuse_ns


class IdSpanProcessor(SpanProcessor):
    """Adds ID metadata attributes to spans at start. Register it on an SDK `TracerProvider`.

    `config` defaults to the built-in configuration; its `http.span_attributes` maps attribute
    keys to field names and `http.span_owner_attribute` names the attribute holding the user id
    that owner-bearing IDs are checked against. `metrics`, when given, counts every tagged span's
    IDs and findings with `source="span"` (exemplars carry the trace id of sampled spans).
    """

    def __init__(
        self,
        config: Config | None = None,
        *,
        engine: Engine | None = None,
        metrics: IdMetrics | None = None,
        settings: HttpSpec | None = None,
        cache_size: int = 4096,
        reuse_ms: int = 60_000,
    ) -> None:
        if engine is None:
            if config is None:
                from id_monitor.config import load_config

                config = load_config()
            engine = build_engine(config, track_owners=False)
        self.engine = engine
        self._judge = engine.judge
        self._classifier = engine.classifier
        self._redactor = engine.redactor
        self.settings = settings if settings is not None else engine.config.http
        self.metrics = metrics
        self.internal_errors = 0
        # First in, first out: a hot combination stays while it keeps being reused.
        self._cache: BoundedCache[tuple[Any, ...], _Entry] = BoundedCache(max(1, cache_size), "fifo")
        self._reuse_ns = reuse_ms * 1_000_000
        pairs = list(self.settings.span_attributes.items())
        owner_key = self.settings.span_owner_attribute
        keys = [key for key, _ in pairs]
        if owner_key and owner_key not in keys:
            keys.append(owner_key)
        self._keys: tuple[str, ...] = tuple(keys)
        self._fields: tuple[str | None, ...] = tuple(field for _, field in pairs) + (None,) * (
            len(keys) - len(pairs)
        )
        self._owner_index = keys.index(owner_key) if owner_key else -1
        # One string longer than any ID stands in for every over-long value: same verdict
        # (too_long), and the cache never holds a hostile megabyte string.
        self._max_length = engine.config.limits.max_id_length
        self._too_long = "\x00" * (self._max_length + 1)

    # -- SpanProcessor ----------------------------------------------------------------------

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        try:
            # Hot path, kept inline: the raw values are the cache key. Only normalised keys are
            # ever stored, so a hostile value (a megabyte string, a long list) misses here and
            # is dealt with in _miss.
            try:
                # The SDK's public `attributes` is a proxy over a Python-level mapping whose
                # `get` raises and catches KeyError for every absent key; the plain dict behind
                # it answers in C. Other span implementations use the public interface.
                get = span._attributes._dict.get  # type: ignore[attr-defined]
                start_ns = span._start_time  # type: ignore[attr-defined]
            except AttributeError:
                get = (span.attributes or {}).get
                start_ns = span.start_time
            start_ns = start_ns or 0
            key = tuple(map(get, self._keys))
            try:
                entry = self._cache.get(key)
            except TypeError:  # an unhashable value from a non-SDK span
                entry = None
            if entry is None or not entry.fresh_from <= start_ns <= entry.fresh_until:
                entry = self._miss(key, start_ns)
            if entry.attributes:
                span.set_attributes(entry.attributes)
            if self.metrics is not None and entry.report is not None:
                self.metrics.record(SOURCE, entry.report, start_ns // 1_000_000, exemplar_of(span))
        except Exception:
            self.internal_errors += 1
            if self.internal_errors == 1:
                logger.warning("id-monitor span processor failed; span left untagged", exc_info=True)
            else:
                logger.debug("id-monitor span processor failed", exc_info=True)

    def on_end(self, span: ReadableSpan) -> None:
        return None

    def shutdown(self) -> None:
        self._cache.clear()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True

    # -- work ---------------------------------------------------------------------------------

    def _miss(self, raw: tuple[Any, ...], start_ns: int) -> _Entry:
        max_length = self._max_length
        cacheable = True
        values = []
        for value in raw:
            cls = value.__class__
            if cls is str:
                if len(value) > max_length:
                    value = self._too_long
            elif cls is tuple:
                if len(value) > _MAX_CACHED_LIST or any(
                    item.__class__ is str and len(item) > max_length for item in value
                ):
                    cacheable = False
            elif cls not in _SCALARS:
                value = _NOT_AN_ID
            values.append(value)
        key = tuple(values)
        if not cacheable:
            return self._evaluate(key, start_ns)
        entry = self._cache.get(key)
        if entry is None or not entry.fresh_from <= start_ns <= entry.fresh_until:
            entry = self._evaluate(key, start_ns)
            self._cache.offer(key, entry)
        return entry

    def _evaluate(self, values: tuple[Any, ...], start_ns: int) -> _Entry:
        observed_ms = start_ns // 1_000_000
        by_field: dict[str, Any] = {}
        for field, value in zip(self._fields, values):
            if field is not None and value is not None:
                by_field[field] = value
        if not by_field:
            return _Entry({}, None, start_ns, self._reuse_ns)
        owner = values[self._owner_index] if self._owner_index >= 0 else None
        if owner.__class__ is not str or owner is self._too_long:
            owner = None
        report = self._judge.check_fields(by_field, owner, observed_ms)
        # A list-valued attribute is several IDs: the field shows the worst of them.
        worst = worst_by_field(report.ids)
        attributes: dict[str, Any] = {}
        for field, value in by_field.items():
            info = worst.get(field) or self._classifier.classify(value)
            attributes.update(id_attributes(field, info, self._redactor))
        rules = rule_names(report.findings)
        if rules:
            attributes[FINDINGS_KEY] = rules
        return _Entry(attributes, report, start_ns, self._reuse_ns)
