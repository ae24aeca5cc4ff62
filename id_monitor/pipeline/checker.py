"""The pipeline for a batch: decode -> extract -> classify -> judge -> counted, in one call.

    records of a batch ──▶ Checker.check_batch ──▶ BatchResult
                            (decode, judge,          metrics counts (a MetricsBatch),
                             count per message)      totals, violations to emit

On the native engine (`engine.name == "native"`) a chunk goes to the compiled core in one call
(`pipeline.native_batch`), with the same BatchResult as a result.

`Checker` knows nothing about where records come from (a Kafka poll, lines of stdin, a slice
handed to a worker process) nor where results go: the caller merges the batch's metrics into the
served ones once, hands the violations to the violation sink, and only then commits. A record is
anything with `.value` (bytes, or None), `.headers` and `.offset`; a source that found a record
unreadable before decoding sets `.problem` (e.g. `too_large`) with `.value` None.

Nothing a message contains can stop the loop: unreadable input is counted as `malformed`, null
values (tombstones) as `skipped`, and an unexpected error in checking one message is logged
(throttled) and counted as `malformed` too.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING

from id_monitor.extract import MalformedMessage, decode_message
from id_monitor.logs import Throttle, get_logger
from id_monitor.model import Finding, Where
from id_monitor.pipeline.revision import RevisionOf
from id_monitor.pipeline.traceparent import exemplar_from_headers
from id_monitor.sinks.metrics import MetricsBatch
from id_monitor.sources.batch import Chunk

if TYPE_CHECKING:
    from id_monitor.judge import Report
    from id_monitor.pipeline.engine import Engine

log = get_logger("pipeline")


@dataclass
class Totals:
    """What was checked, for the closing log line and tests. `violations` counts findings of
    severity violation, whether or not a violation sink is configured."""

    ok: int = 0
    malformed: int = 0
    skipped: int = 0
    violations: int = 0
    errors: int = 0

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def add(self, other: Totals) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


@dataclass
class BatchResult:
    """What checking a batch produced; everything the caller needs, nothing it must recompute."""

    metrics: MetricsBatch = field(default_factory=MetricsBatch)
    totals: Totals = field(default_factory=Totals)
    violations: list[tuple[Finding, Where]] = field(default_factory=list)
    unknown: list[Finding] = field(default_factory=list)  # unknown_format findings: for shape tracking

    def add(self, other: BatchResult) -> None:
        self.metrics.add(other.metrics)
        self.totals.add(other.totals)
        self.violations.extend(other.violations)
        self.unknown.extend(other.unknown)


class Checker:
    """Checks batches of raw records with one engine (see the module docstring)."""

    def __init__(self, engine: Engine, *, throttle: Throttle | None = None) -> None:
        self.engine = engine
        self.judge = engine.judge
        self.throttle = throttle or Throttle(log)
        limits = engine.config.limits
        self._max_bytes = limits.max_message_bytes
        self._max_depth = limits.max_depth
        spec = engine.config.revision
        self.revision_of = RevisionOf(spec) if spec is not None else None
        # a record that cannot be read has no revision of its own: the process's, else `other`
        self._unread_revision = (spec.own or "other") if spec is not None else None
        self._native = None
        if engine.name == "native":  # build_engine chose it only for configs the core judges exactly
            from id_monitor.pipeline.native_batch import NativeChunks

            self._native = NativeChunks(engine, malformed=self._malformed, fallback=self._check_plain,
                                        throttle=self.throttle)

    def _check_chunk(self, chunk: Chunk, observed_ms: int, result: BatchResult) -> None:
        if self._native is not None:
            self._native.check_chunk(chunk, observed_ms, result)
        elif self.revision_of is None:
            self._check_plain(chunk, observed_ms, result)
        else:
            self._check_revisions(chunk, observed_ms, result, self.revision_of)

    def check_batch(self, chunks: Sequence[Chunk], observed_ms: int) -> BatchResult:
        """Check every record of every chunk; `observed_ms` is when the batch was seen."""
        result = BatchResult()
        for chunk in chunks:
            self._check_chunk(chunk, observed_ms, result)
        try:
            self.judge.flush()  # the mapping pairs of this batch, before its offsets are committed
        except Exception as exc:  # the state file: losing it only delays a conflict finding
            self.throttle.log(logging.ERROR, "state_flush_failed", key="state_flush_failed",
                              error=f"{type(exc).__name__}: {exc}")
        return result

    def _check_plain(self, chunk: Chunk, observed_ms: int, result: BatchResult) -> None:
        source, topic, partition, records = chunk
        metrics, totals = result.metrics, result.totals
        decode, max_bytes, max_depth = decode_message, self._max_bytes, self._max_depth
        check, record = self.judge.check, metrics.record
        ok = 0
        for item in records:
            value = item.value
            if value is None:
                problem = getattr(item, "problem", None)
                if problem is None:
                    metrics.message(source, "skipped")
                    totals.skipped += 1
                else:
                    self._malformed(problem, chunk, item.offset, observed_ms, result)
                continue
            try:
                message = decode(value, max_bytes, max_depth)
            except MalformedMessage as exc:
                self._malformed(exc.reason, chunk, item.offset, observed_ms, result)
                continue
            headers = item.headers
            try:
                report = check(message, observed_ms)
                record(source, report, observed_ms, exemplar_from_headers(headers) if headers else None)
            except Exception as exc:  # a bug must cost one message, not the agent
                self._failed(exc, chunk, item.offset, observed_ms, result)
                continue
            ok += 1
            if report.findings:
                self._found(report.findings, chunk, item.offset, observed_ms, result)
        if ok:
            metrics.message(source, "ok", ok)
            totals.ok += ok

    def _check_revisions(self, chunk: Chunk, observed_ms: int, result: BatchResult,
                         revision_of: RevisionOf) -> None:
        """`_check_plain` with the revision label on: each message counted under its revision."""
        source, topic, partition, records = chunk
        metrics, totals = result.metrics, result.totals
        decode, max_bytes, max_depth = decode_message, self._max_bytes, self._max_depth
        check, record = self.judge.check, metrics.record_as
        ok: dict[str, int] = {}
        for item in records:
            value = item.value
            if value is None:
                problem = getattr(item, "problem", None)
                if problem is None:
                    metrics.message(source, "skipped", 1, revision_of(item.headers, None))
                    totals.skipped += 1
                else:
                    self._malformed(problem, chunk, item.offset, observed_ms, result)
                continue
            try:
                message = decode(value, max_bytes, max_depth)
            except MalformedMessage as exc:
                self._malformed(exc.reason, chunk, item.offset, observed_ms, result)
                continue
            headers = item.headers
            try:
                revision = revision_of(headers, message)
                report = check(message, observed_ms)
                record(revision, source, report, observed_ms, exemplar_from_headers(headers) if headers else None)
            except Exception as exc:  # a bug must cost one message, not the agent
                self._failed(exc, chunk, item.offset, observed_ms, result)
                continue
            ok[revision] = ok.get(revision, 0) + 1
            if report.findings:
                self._found(report.findings, chunk, item.offset, observed_ms, result)
        for revision, count in ok.items():
            metrics.message(source, "ok", count, revision)
            totals.ok += count

    def _malformed(self, reason: str, chunk: Chunk, offset: int | None, observed_ms: int,
                   result: BatchResult) -> None:
        """Count an unreadable message: messages_total{result=malformed} and a `malformed` finding."""
        source = chunk.source
        revision = self._unread_revision
        result.metrics.message(source, "malformed", 1, revision)
        result.totals.malformed += 1
        self.throttle.log(logging.WARNING, "malformed_message", key=f"malformed:{source}", source=source,
                          reason=reason, topic=chunk.topic, partition=chunk.partition, offset=offset)
        report = self.judge.malformed(reason)
        if report.findings:
            if revision is None:
                result.metrics.record(source, report, observed_ms)
            else:
                result.metrics.record_as(revision, source, report, observed_ms)
            self._found(report.findings, chunk, offset, observed_ms, result)

    @staticmethod
    def _found(findings: list[Finding], chunk: Chunk, offset: int | None, observed_ms: int,
               result: BatchResult) -> None:
        """One message's findings into the batch result: violations (to emit, with where they
        were seen) and unknown_format findings (for shape tracking)."""
        for finding in findings:
            if finding.severity == "violation":
                result.totals.violations += 1
                result.violations.append((finding, Where(chunk.source, chunk.topic, chunk.partition, offset,
                                                         observed_ms)))
            if finding.rule == "unknown_format":
                result.unknown.append(finding)

    def _failed(self, exc: Exception, chunk: Chunk, offset: int | None, observed_ms: int,
                result: BatchResult) -> None:
        """Judging one message raised (a bug): counted as an error and as malformed. The
        exception's text may quote the message: only its type leaves the process."""
        result.totals.errors += 1
        self.throttle.log(logging.ERROR, "check_failed", key="check_failed", error=type(exc).__name__,
                          topic=chunk.topic, partition=chunk.partition, offset=offset)
        self._malformed("check_failed", chunk, offset, observed_ms, result)

    def check_message(self, raw: bytes | str, observed_ms: int) -> tuple[Report, bool]:
        """One raw message to its Report (decode + judge) and whether it could be decoded, for
        callers that show reports one by one (`id-monitor check`)."""
        try:
            message = decode_message(raw, self._max_bytes, self._max_depth)
        except MalformedMessage as exc:
            return self.judge.malformed(exc.reason), False
        return self.judge.check(message, observed_ms), True
