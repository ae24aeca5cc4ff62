"""The native engine behind `Checker.check_batch`: one chunk to the compiled core, its result
turned into exactly what the Python path produces.

The core (`id_monitor.native.engine.NativeChecker`) decodes, extracts, classifies and judges a
whole chunk with the GIL released and returns aggregated counts; this module makes the pipeline's
`BatchResult` of them:

- metrics: IDs by field and format, findings by field/rule/severity and the ID-age histograms are
  taken as the core counted them (one merge per chunk, no per-ID Python work); messages by result;
- violations as `(Finding, Where)` and `unknown_format` findings for shape tracking, in message
  order, with the same `IdInfo` the Python engine attaches (from the engine's classifier, whose
  cache the core's values hit) and, for `not_a_string`, the raw non-string value (the message is
  decoded again in Python, which only findings of that rule need);
- a message's trace exemplar (`traceparent` header) on every series it touched, as
  `MetricsBatch.record` does: such chunks ask the core for each message's IDs;
- unreadable records (a source's `problem`, or a message the core found malformed) go through the
  Checker's own `_malformed`, so their count, finding and throttled log line are the Python path's.

Owner-collision tracking stays in Python (`judge.owners`, shared with the engine's Judge, so
`id-monitor check`'s per-line path and the batch path count one set of owners).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from prometheus_client.samples import Exemplar

from id_monitor.extract import Extractor, MalformedMessage, decode_message
from id_monitor.model import Finding, Where
from id_monitor.pipeline.traceparent import exemplar_from_headers
from id_monitor.sinks.metrics import AGE_BUCKETS, NO_FORMAT

if TYPE_CHECKING:
    from collections.abc import Callable

    from id_monitor.logs import Throttle
    from id_monitor.pipeline.engine import Engine
    from id_monitor.sources.batch import Chunk

    BatchResult = Any  # checker.BatchResult (the Checker owns this module, not the other way round)

# Findings about an ID string: they carry the ID's IdInfo (rules.py).
_ID_RULES = frozenset(("unknown_format", "legacy_id", "unexpected_type", "isolation_breach", "timestamp_skew",
                       "mismatched_reference"))


_PLAIN = frozenset((bytes, str, type(None)))


class NativeChunks:
    """Checks chunks on the native core for one Checker (see the module docstring): `malformed`
    is the Checker's way to count an unreadable record, `fallback` its Python path for a chunk,
    `throttle` its throttled log."""

    def __init__(self, engine: Engine, *, malformed: Callable[..., None], fallback: Callable[..., None],
                 throttle: Throttle) -> None:
        from id_monitor.native.engine import NativeChecker

        config = engine.config
        self._malformed = malformed
        self._fallback = fallback
        self._throttle = throttle
        self._core = NativeChecker(config, engine.schema, track_owners=False)
        self._core.owners = engine.judge.owners
        self._classify = engine.classifier.classify
        self._limits = config.limits
        self._extractor = Extractor({name: spec.paths for name, spec in config.fields.items()},
                                    owner_paths=config.owner.paths, type_paths=config.message.type_paths,
                                    max_values=config.limits.max_ids_per_message)

    def check_chunk(self, chunk: Chunk, observed_ms: int, result: BatchResult) -> None:
        source, topic, partition, records = chunk
        # list comprehensions and C-level checks: this runs once per record of every batch
        values: list[Any] = [item.value for item in records]
        problems: dict[int, str] = {}
        if None in values:
            for index, value in enumerate(values):
                if value is None:
                    problem = getattr(records[index], "problem", None)
                    if problem is not None:
                        problems[index] = problem
        if not set(map(type, values)) <= _PLAIN:
            values = [bytes(v) if isinstance(v, (bytearray, memoryview)) else v for v in values]
        exemplars: dict[int, dict[str, str]] = {}
        if any([item.headers for item in records]):  # noqa: C419  (a list comprehension is faster here)
            for index, item in enumerate(records):
                headers = item.headers
                if headers and values[index] is not None:
                    exemplar = exemplar_from_headers(headers)
                    if exemplar:
                        exemplars[index] = exemplar
        try:
            core = self._core.check_batch(values, observed_ms, with_ids=bool(exemplars), plain=True)
        except Exception as exc:  # noqa: BLE001  (a bug in the core must not cost the chunk: the reference checks it)
            self._throttle.log(logging.ERROR, "native_check_failed", key="native_check_failed",
                               error=type(exc).__name__, topic=topic, partition=partition)
            self._fallback(chunk, observed_ms, result)
            return
        metrics, totals = result.metrics, result.totals
        ok = core.messages["ok"]
        skipped = core.messages["skipped"] - len(problems)  # a source's problem reached the core as None
        unreadable: list[int] = []
        if core.messages["malformed"] or problems:
            unreadable = [index for index, outcome in enumerate(core.results)
                          if outcome == "malformed" or index in problems]
        if ok:
            metrics.message(source, "ok", ok)
            totals.ok += ok
        if skipped:
            metrics.message(source, "skipped", skipped)
            totals.skipped += skipped
        self._merge_counts(source, core, unreadable, metrics)
        if exemplars:
            self._exemplars(source, core, exemplars, observed_ms, metrics)
        self._findings(chunk, core, values, problems, unreadable, observed_ms, result)

    @staticmethod
    def _merge_counts(source: str, core: Any, unreadable: list[int], metrics: Any) -> None:
        """The core's aggregates into the MetricsBatch, less the findings of unreadable messages
        (those are counted again by the Checker's `_malformed`, as on the Python path)."""
        ids = metrics.ids
        for (field, fmt), count in core.ids.items():
            key = (source, field, fmt)
            ids[key] = ids.get(key, 0) + count
        dropped: dict[tuple[str, str, str | None], int] = {}
        if unreadable:
            marked = set(unreadable)
            for f in core.emitted:
                if f[0] in marked and f[1] == "malformed":
                    key3 = (f[2], f[1], f[3])
                    dropped[key3] = dropped.get(key3, 0) + 1
        findings = metrics.findings
        for (field, rule, severity), count in core.findings.items():
            count -= dropped.get((field, rule, severity), 0)
            if count:
                fkey = (source, field, rule, severity)
                findings[fkey] = findings.get(fkey, 0) + count
        ages = metrics.ages
        for field, (counts, total) in core.ages.items():
            hist = ages.get((source, field))
            if hist is None:
                hist = ages[(source, field)] = [[0] * len(AGE_BUCKETS), 0.0, {}]
            bucket_counts = hist[0]
            for index, count in enumerate(counts):
                bucket_counts[index] += count
            hist[1] += total

    @staticmethod
    def _exemplars(source: str, core: Any, exemplars: dict[int, dict[str, str]], observed_ms: int,
                   metrics: Any) -> None:
        """Every series a message with a trace touched remembers its exemplar (the last such
        message wins, as with `MetricsBatch.record` in message order)."""
        from bisect import bisect_left

        results = core.results  # an unreadable message is counted without its trace, as on the Python path
        touched: dict[int, list[Any]] = {index: [] for index in exemplars if results[index] == "ok"}
        for index, field, info in core.message_ids or ():
            if index in touched:
                touched[index].append(("id", field, info))
        for f in core.emitted:
            if f[0] in touched:
                touched[f[0]].append(("finding", f[2], f))
        now = time.time()
        for index in sorted(touched):
            ex = Exemplar(dict(exemplars[index]), 1.0, now)
            for kind, field, item in touched[index]:
                if kind == "id":
                    metrics.exemplars[(source, field, item.format or NO_FORMAT)] = ex
                    ts = item.timestamp_ms
                    if ts is not None:
                        age = max((observed_ms - ts) / 1000.0, 0.0)
                        hist = metrics.ages[(source, field)]
                        hist[2][bisect_left(AGE_BUCKETS, age)] = Exemplar(ex.labels, age, ex.timestamp)
                else:
                    metrics.exemplars[(source, field, item[1], item[3])] = ex

    def _findings(self, chunk: Chunk, core: Any, values: list[Any], problems: dict[int, str],
                  unreadable: list[int], observed_ms: int, result: BatchResult) -> None:
        """Violations and unknown_format findings in message order; unreadable messages through
        the Checker's `_malformed` at their place in that order."""
        source, topic, partition, records = chunk
        classify = self._classify
        pending = iter(unreadable)
        next_unreadable = next(pending, None)
        not_strings: dict[int, dict[str, list[Any]]] = {}
        for f in core.emitted:
            index = f[0]
            while next_unreadable is not None and next_unreadable <= index:
                self._unreadable(next_unreadable, chunk, values, problems, observed_ms, result)
                next_unreadable = next(pending, None)
            if index in problems or core.results[index] == "malformed":
                continue  # counted by _unreadable
            rule, severity = f[1], f[3]
            if severity != "violation" and rule != "unknown_format":
                continue
            value: Any = f[4]
            info = None
            if rule in _ID_RULES:
                info = classify(value)
            elif rule == "not_a_string":
                value = self._non_string(index, f[2], values, not_strings)
            finding = Finding(rule, f[2], severity, value, info, f[7])
            if severity == "violation":
                result.totals.violations += 1
                result.violations.append((finding, Where(source, topic, partition, records[index].offset,
                                                         observed_ms)))
            if rule == "unknown_format":
                result.unknown.append(finding)
        while next_unreadable is not None:
            self._unreadable(next_unreadable, chunk, values, problems, observed_ms, result)
            next_unreadable = next(pending, None)

    def _unreadable(self, index: int, chunk: Chunk, values: list[Any], problems: dict[int, str],
                    observed_ms: int, result: BatchResult) -> None:
        reason = problems.get(index)
        if reason is None:
            try:
                decode_message(values[index], self._limits.max_message_bytes, self._limits.max_depth)
                reason = "check_failed"  # the core could not read what Python can: never seen in tests
            except MalformedMessage as exc:
                reason = exc.reason
        self._malformed(reason, chunk, chunk.records[index].offset, observed_ms, result)

    def _non_string(self, index: int, field: str, values: list[Any],
                    seen: dict[int, dict[str, list[Any]]]) -> Any:
        """The next non-string value of `field` in message `index` (the core reports its type only)."""
        remaining = seen.get(index)
        if remaining is None:
            message = decode_message(values[index], self._limits.max_message_bytes, self._limits.max_depth)
            found = self._extractor.collect(message)[0]
            remaining = seen[index] = {name: [v for v in vs if type(v) is not str] for name, vs in found.items()}
        items = remaining.get(field)
        return items.pop(0) if items else None
