"""Every Prometheus metric id-monitor exports, defined in one place.

The names and labels are a contract with the dashboards and alert rules (see README.md):

- ``id_monitor_ids_total{source, field, status, format}``: every ID checked
- ``id_monitor_findings_total{source, field, rule, severity}``: every finding
- ``id_monitor_messages_total{source, result}``: result is ok | malformed | skipped
- ``id_monitor_id_age_seconds{source, field}``: observed time minus the ID's embedded timestamp
- ``id_monitor_consumer_lag_messages{topic, partition}``
- ``id_monitor_build_info{version, engine}``: engine is native | python
- ``id_monitor_mapping_legacy_ids_total{mapping, covered}``: legacy IDs seen in a mapping's
  ``covers`` fields, by whether the mapping knows them (covered is true | false)
- ``id_monitor_mapping_coverage_ratio{mapping}``: covered / seen of the above since start (1 before
  any is seen)

With a `revision` section in the configuration, the per-ID families get one more label,
``revision`` (the configured values and ``other``), and every key tuple one more element; without
it nothing changes (no label, no series, the same key tuples).

Label values come only from bounded sets known up front (configured sources and fields, the schema's
format names, the rule names); anything else is counted under ``other``, so a hostile input can never
grow the number of series. Every known combination exists at zero from the start, so an alert's
``increase()`` sees the very first event.

The per-ID families are counted in plain dicts keyed by label tuples and exposed by a collector at
scrape time, instead of one prometheus-client child per series. A pipeline counts each batch of
messages into a ``MetricsBatch`` (plain dicts, no lock, only the keys it touched) and merges it
into the served ``IdMetrics`` once per batch, under one lock; a worker process sends its batch
over a pipe the same way. The exposition is the same (``_total``, ``_created``, exemplars in
OpenMetrics, cumulative histogram buckets).
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from operator import add
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.samples import Exemplar
from prometheus_client.utils import floatToGoString

from id_monitor import __version__
from id_monitor.classify import BoundedCache
from id_monitor.model import MESSAGE_FIELD, MESSAGE_RESULTS, RULES, SEVERITIES, STATUSES

if TYPE_CHECKING:
    from id_monitor.config import Config
    from id_monitor.judge import Report
    from id_monitor.schema import Schema

OTHER = "other"
NO_FORMAT = "none"
ENGINES = ("native", "python")  # the engine label of id_monitor_build_info
__all__ = ["AGE_BUCKETS", "MESSAGE_FIELD", "MESSAGE_RESULTS", "NO_FORMAT", "OTHER", "SEVERITIES", "STATUSES",
           "IdMetrics", "MetricsBatch"]

# Delivery latency is usually milliseconds, but legacy or replayed IDs can be days old.
AGE_BUCKETS = (
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    300.0, 900.0, 3600.0, 21600.0, 86400.0, 604800.0, float("inf"),
)
_BUCKET_LABELS = tuple(floatToGoString(b) for b in AGE_BUCKETS)


class _Histogram:
    """Bucket counts (not cumulative), sum and the last exemplar per bucket of one series."""

    __slots__ = ("counts", "exemplars", "sum")

    def __init__(self) -> None:
        self.counts = [0] * len(AGE_BUCKETS)
        self.sum = 0.0
        self.exemplars: dict[int, Exemplar] = {}


class MetricsBatch:
    """What one batch of messages adds to the per-ID families: plain dicts keyed by raw label
    tuples, only the keys touched, no lock (one thread fills it). `IdMetrics.merge` adds it to the
    served counts (bucketing unknown label values as `other`). Picklable, for worker processes."""

    __slots__ = ("ages", "coverage", "exemplars", "findings", "ids", "messages")

    def __init__(self) -> None:
        self.ids: dict[tuple[str, str, str], int] = {}
        self.findings: dict[tuple[str, str, str, str], int] = {}
        self.messages: dict[tuple[str, str], int] = {}
        self.ages: dict[tuple[str, str], list[Any]] = {}  # [bucket counts, sum, {bucket: exemplar}]
        self.exemplars: dict[tuple[str, ...], Exemplar] = {}
        self.coverage: dict[tuple[str, bool], int] = {}

    def __getstate__(self) -> tuple:
        return (self.ids, self.findings, self.messages, self.ages, self.exemplars, self.coverage)

    def __setstate__(self, state: tuple) -> None:
        self.ids, self.findings, self.messages, self.ages, self.exemplars, self.coverage = state

    def __bool__(self) -> bool:
        return bool(self.ids or self.findings or self.messages or self.coverage)

    def record(self, source: str, report: Report, observed_ms: int,
               exemplar: Mapping[str, str] | None = None) -> None:
        """Count one judged message (or request, or span): its IDs, their ages and its findings.

        With an exemplar (the trace of a sampled span or message) every series this call touches
        remembers it, so a dashboard can jump from a spike to a trace.
        """
        ids, ages = self.ids, self.ages
        ex = Exemplar(dict(exemplar), 1.0, time.time()) if exemplar else None
        for field, info in report.ids:
            key = (source, field, info.format or NO_FORMAT)
            ids[key] = ids.get(key, 0) + 1
            if ex is not None:
                self.exemplars[key] = ex
            ts = info.timestamp_ms
            if ts is not None:
                hist = ages.get((source, field))
                if hist is None:
                    hist = ages[(source, field)] = [[0] * len(AGE_BUCKETS), 0.0, {}]
                age = (observed_ms - ts) / 1000.0
                age = max(age, 0.0)
                index = bisect_left(AGE_BUCKETS, age)
                hist[0][index] += 1
                hist[1] += age
                if ex is not None:
                    hist[2][index] = Exemplar(ex.labels, age, ex.timestamp)
        if report.findings:
            findings = self.findings
            for finding in report.findings:
                fkey = (source, finding.field, finding.rule, finding.severity)
                findings[fkey] = findings.get(fkey, 0) + 1
                if ex is not None:
                    self.exemplars[fkey] = ex
        if report.coverage:
            coverage = self.coverage
            for ckey in report.coverage:
                coverage[ckey] = coverage.get(ckey, 0) + 1

    def record_as(self, revision: str, source: str, report: Report, observed_ms: int,
                  exemplar: Mapping[str, str] | None = None) -> None:
        """`record` with the revision label on: every key gets `revision` as its last element.
        A method of its own so that `record`, the path without revisions, stays as it was."""
        ids, ages = self.ids, self.ages
        ex = Exemplar(dict(exemplar), 1.0, time.time()) if exemplar else None
        for field, info in report.ids:
            key = (source, field, info.format or NO_FORMAT, revision)
            ids[key] = ids.get(key, 0) + 1  # type: ignore[index]
            if ex is not None:
                self.exemplars[key] = ex
            ts = info.timestamp_ms
            if ts is not None:
                akey = (source, field, revision)
                hist = ages.get(akey)  # type: ignore[call-overload]
                if hist is None:
                    hist = ages[akey] = [[0] * len(AGE_BUCKETS), 0.0, {}]  # type: ignore[index]
                age = (observed_ms - ts) / 1000.0
                if age < 0.0:
                    age = 0.0
                index = bisect_left(AGE_BUCKETS, age)
                hist[0][index] += 1
                hist[1] += age
                if ex is not None:
                    hist[2][index] = Exemplar(ex.labels, age, ex.timestamp)
        if report.findings:
            findings = self.findings
            for finding in report.findings:
                fkey = (source, finding.field, finding.rule, finding.severity, revision)
                findings[fkey] = findings.get(fkey, 0) + 1  # type: ignore[index]
                if ex is not None:
                    self.exemplars[fkey] = ex

    def message(self, source: str, result: str, count: int = 1, revision: str | None = None) -> None:
        """Count messages by outcome (ok | malformed | skipped), of one revision when it is on."""
        key = (source, result) if revision is None else (source, result, revision)
        self.messages[key] = self.messages.get(key, 0) + count  # type: ignore[index]

    def add(self, other: MetricsBatch) -> None:
        """Add another batch's counts to this one (results of several workers for one batch)."""
        for mine, theirs in ((self.ids, other.ids), (self.findings, other.findings),
                             (self.messages, other.messages), (self.coverage, other.coverage)):
            for key, value in theirs.items():
                mine[key] = mine.get(key, 0) + value  # type: ignore[index]
        for akey, (counts, total, exemplars) in other.ages.items():
            hist = self.ages.get(akey)
            if hist is None:
                self.ages[akey] = [list(counts), total, dict(exemplars)]
                continue
            for index, count in enumerate(counts):
                hist[0][index] += count
            hist[1] += total
            hist[2].update(exemplars)
        self.exemplars.update(other.exemplars)


class IdMetrics:
    """The metric families for one process, bound to one config and schema.

    ``sources`` are the source label values this process will use (``kafka:<topic>`` per topic for
    the agent, ``http`` for the FastAPI layer, ``span`` for the span processor). ``record`` and
    ``message`` may be called from several threads.
    """

    def __init__(
        self,
        config: Config,
        schema: Schema,
        sources: Iterable[str],
        registry: CollectorRegistry | None = None,
        *,
        rules: Iterable[str] | None = None,
        engine: str = "python",
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self.sources = tuple(dict.fromkeys([*sources, OTHER]))
        self.fields = tuple(dict.fromkeys([*config.fields, *config.mappings, MESSAGE_FIELD, OTHER]))
        self.mappings = tuple(name for name, spec in config.mappings.items() if spec.covers)
        self.rules = tuple(dict.fromkeys([*(rules if rules is not None else RULES), OTHER]))
        self._status_of_format: dict[str, str] = {
            name: schema.format(name).status for name in schema.format_names()
        }
        self._status_of_format[NO_FORMAT] = "unknown"
        self._status_of_format[OTHER] = OTHER
        spec = config.revision
        # () when off: every key tuple below gets `tails` appended, i.e. nothing.
        self.revisions: tuple[str, ...] = spec.labels if spec is not None else ()
        self.own_revision: str | None = (spec.own or OTHER) if spec is not None else None
        tails: list[tuple[str, ...]] = [(r,) for r in self.revisions] or [()]
        self.created = time.time()
        self._lock = threading.Lock()
        # A recorded key outside the label sets is re-bucketed on every merge (a span or request
        # field the config does not name, say): the served key of each is remembered. Recorded
        # keys can carry caller-chosen field names, so the memo stops learning when full.
        self._served: BoundedCache[tuple[Any, ...], tuple[str, ...]] = BoundedCache(4096, "refuse")

        self._ids: dict[tuple[str, str, str], int] = {}
        self._findings: dict[tuple[str, str, str, str], int] = {}
        self._messages: dict[tuple[str, str], int] = {}
        self._ages: dict[tuple[str, str], _Histogram] = {}
        self._exemplars: dict[tuple[str, ...], Exemplar] = {}
        self._coverage: dict[tuple[str, bool], int] = {
            (name, covered): 0 for name in self.mappings for covered in (True, False)
        }
        for tail in tails:
            for source in self.sources:
                for result in MESSAGE_RESULTS:
                    self._messages[(source, result, *tail)] = 0  # type: ignore[index]
                for field in self.fields:
                    self._ages[(source, field, *tail)] = _Histogram()  # type: ignore[index]
                    for fmt in self._status_of_format:
                        self._ids[(source, field, fmt, *tail)] = 0  # type: ignore[index]
                    for rule in self.rules:
                        for severity in SEVERITIES:
                            self._findings[(source, field, rule, severity, *tail)] = 0  # type: ignore[index]

        self.registry.register(_Collector(self))
        self.consumer_lag = Gauge(
            "id_monitor_consumer_lag_messages",
            "Messages between the consumer's position and the end of each assigned partition.",
            ["topic", "partition"],
            registry=self.registry,
        )
        self.kafka_assigned_partitions = Gauge(
            "id_monitor_kafka_assigned_partitions",
            "Partitions of each topic this consumer group member owns now (0 during a rebalance or "
            "while more replicas than partitions run).",
            ["topic"],
            registry=self.registry,
        )
        self.kafka_broker_reachable = Gauge(
            "id_monitor_kafka_broker_reachable",
            "1 while the last broker round trip (poll, commit, lag query or violation records) "
            "succeeded, else 0. Kafka mode only.",
            registry=self.registry,
        )
        self.build_info = Gauge(
            "id_monitor_build_info",
            "Always 1; the labels say which id-monitor build runs and which engine checks (native | python).",
            ["version", "engine"],
            registry=self.registry,
        )
        self.build_info.labels(version=__version__, engine=engine if engine in ENGINES else OTHER).set(1)

    # -- label bucketing -------------------------------------------------------------------

    def _source(self, source: str) -> str:
        return source if source in self.sources else OTHER

    def _field(self, field: str) -> str:
        return field if field in self.fields else OTHER

    def _revision(self, rest: tuple[str, ...]) -> tuple[str, ...]:
        """The key's revision element: none when off; a configured value, else `other`; this
        process's own revision for a key recorded without one."""
        if not self.revisions:
            return ()
        if not rest:
            return (self.own_revision,)  # type: ignore[return-value]
        return (rest[0] if rest[0] in self.revisions else OTHER,)

    def _ids_key(self, source: str, field: str, fmt: str, *rest: str) -> tuple[str, ...]:
        return (self._source(source), self._field(field), fmt if fmt in self._status_of_format else OTHER,
                *self._revision(rest))

    def _findings_key(self, source: str, field: str, rule: str, severity: str, *rest: str) -> tuple[str, ...]:
        return (
            self._source(source),
            self._field(field),
            rule if rule in self.rules else OTHER,
            severity if severity in SEVERITIES else "violation",
            *self._revision(rest),
        )

    def _served_key(self, key: tuple[Any, ...], of_ids: bool) -> tuple[str, ...]:
        """The served key of a recorded ids (or findings) key that is not served as it is."""
        memo_key = (of_ids, key)
        served = self._served.get(memo_key)
        if served is None:
            served = self._ids_key(*key) if of_ids else self._findings_key(*key)
            self._served.offer(memo_key, served)
        return served

    # -- recording -----------------------------------------------------------------------

    def record(self, source: str, report: Report, observed_ms: int,
               exemplar: Mapping[str, str] | None = None) -> None:
        """Count one judged message right away (a request, a span), exactly as merging a batch of
        that one message would. Without revisions the counts go straight into the served series:
        a batch's six dicts and its merge (every age bucket added) cost twice the counting."""
        if self.own_revision is not None:
            batch = MetricsBatch()
            batch.record_as(self.own_revision, source, report, observed_ms, exemplar)
            self.merge(batch)
            return
        ex = Exemplar(dict(exemplar), 1.0, time.time()) if exemplar else None
        ids, findings, ages, exemplars = self._ids, self._findings, self._ages, self._exemplars
        with self._lock:
            for field, info in report.ids:
                key = (source, field, info.format or NO_FORMAT)
                if key not in ids:
                    key = self._served_key(key, True)
                ids[key] += 1
                if ex is not None:
                    exemplars[key] = ex
                ts = info.timestamp_ms
                if ts is not None:
                    hist = ages.get((source, field)) or ages[(self._source(source), self._field(field))]
                    age = (observed_ms - ts) / 1000.0
                    age = max(age, 0.0)
                    index = bisect_left(AGE_BUCKETS, age)
                    hist.counts[index] += 1
                    hist.sum += age
                    if ex is not None:
                        hist.exemplars[index] = Exemplar(ex.labels, age, ex.timestamp)
            for finding in report.findings:
                fkey = (source, finding.field, finding.rule, finding.severity)
                if fkey not in findings:
                    fkey = self._served_key(fkey, False)
                findings[fkey] += 1
                if ex is not None:
                    exemplars[fkey] = ex
            if report.coverage:
                coverage = self._coverage
                for ckey in report.coverage:
                    if ckey in coverage:
                        coverage[ckey] += 1

    def message(self, source: str, result: str, count: int = 1) -> None:
        """Count messages by outcome (ok | malformed | skipped) right away."""
        batch = MetricsBatch()
        batch.message(source, result, count, self.own_revision)
        self.merge(batch)

    def merge(self, batch: MetricsBatch) -> None:
        """Add a batch's counts under one lock (label values outside this one's label sets are
        counted as `other`)."""
        with self._lock:
            ids, findings, messages = self._ids, self._findings, self._messages
            for key, value in batch.ids.items():
                if key not in ids:
                    key = self._served_key(key, True)  # type: ignore[assignment]
                ids[key] += value
            for fkey, value in batch.findings.items():
                if fkey not in findings:
                    fkey = self._served_key(fkey, False)  # type: ignore[assignment]
                findings[fkey] += value
            for mkey, value in batch.messages.items():
                if mkey not in messages:
                    mkey = (self._source(mkey[0]), mkey[1] if mkey[1] in MESSAGE_RESULTS else "skipped",
                            *self._revision(mkey[2:]))  # type: ignore[assignment]
                messages[mkey] += value
            for akey, (counts, total, exemplars) in batch.ages.items():
                hist = self._ages.get(akey) or self._ages[
                    (self._source(akey[0]), self._field(akey[1]), *self._revision(akey[2:]))]  # type: ignore[index]
                hist.counts = [*map(add, hist.counts, counts)]  # one C-level pass, not a loop per bucket
                hist.sum += total
                hist.exemplars.update(exemplars)
            coverage = self._coverage
            for ckey, value in batch.coverage.items():
                if ckey in coverage:  # a mapping this process's config does not cover is not a label
                    coverage[ckey] += value
            ids_key_length = 4 if self.revisions else 3
            for ekey, exemplar in batch.exemplars.items():
                if ekey not in ids and ekey not in findings:
                    ekey = self._served_key(ekey, len(ekey) == ids_key_length)
                self._exemplars[ekey] = exemplar

    def set_kafka_state(self, topics: Iterable[str], assigned: Iterable[Any], reachable: bool) -> None:
        """The consumer's assignment per configured topic, and whether the broker answers: the
        state a sidecar's readiness probe must not report (it would take the application's pod
        out of service), shown here for alerts instead."""
        per_topic = dict.fromkeys(topics, 0)
        for tp in assigned:
            if tp.topic in per_topic:
                per_topic[tp.topic] += 1
        for topic, count in per_topic.items():
            self.kafka_assigned_partitions.labels(topic).set(count)
        self.kafka_broker_reachable.set(1 if reachable else 0)

    def set_lag(self, topic: str, partition: int, lag: int) -> None:
        self.consumer_lag.labels(topic, str(partition)).set(max(0, lag))

    def forget_partition(self, topic: str, partition: int) -> None:
        """Drop the lag series of a partition this process no longer owns (after a rebalance)."""
        try:
            self.consumer_lag.remove(topic, str(partition))
        except KeyError:
            pass

    # -- exposition -----------------------------------------------------------------------

    def collect(self) -> Iterator[Metric]:
        """The per-ID families as they stand now (a consistent snapshot: taken under the lock)."""
        with self._lock:
            ids = dict(self._ids)
            findings = dict(self._findings)
            messages = dict(self._messages)
            exemplars = dict(self._exemplars)
            ages = {key: (list(h.counts), h.sum, dict(h.exemplars)) for key, h in self._ages.items()}
            coverage = dict(self._coverage)
        created = self.created
        revision = ["revision"] if self.revisions else []
        family = CounterMetricFamily(
            "id_monitor_ids_total", "IDs checked, by where they were seen and what they are.",
            labels=["source", "field", "status", "format", *revision],
        )
        status_of = self._status_of_format
        for key, value in ids.items():
            source, field, fmt = key[:3]
            family.add_metric([source, field, status_of[fmt], fmt, *key[3:]], value, created=created,
                              exemplar=exemplars.get(key))
        yield family
        family = CounterMetricFamily(
            "id_monitor_findings_total", "Policy findings, by rule and severity.",
            labels=["source", "field", "rule", "severity", *revision],
        )
        for fkey, value in findings.items():
            family.add_metric(list(fkey), value, created=created, exemplar=exemplars.get(fkey))
        yield family
        family = CounterMetricFamily(
            "id_monitor_messages_total",
            "Messages read, by outcome: ok (checked), malformed (unreadable, skipped), skipped.",
            labels=["source", "result", *revision],
        )
        for mkey, value in messages.items():
            family.add_metric(list(mkey), value, created=created)
        yield family
        histogram = HistogramMetricFamily(
            "id_monitor_id_age_seconds",
            "Observed time minus the timestamp embedded in the ID (delivery latency), in seconds.",
            labels=["source", "field", *revision],
        )
        for akey, (counts, total, bucket_exemplars) in ages.items():
            buckets: list[tuple] = []
            cumulative = 0
            for index, count in enumerate(counts):
                cumulative += count
                ex = bucket_exemplars.get(index)
                buckets.append((_BUCKET_LABELS[index], cumulative, ex) if ex else (_BUCKET_LABELS[index], cumulative))
            histogram.add_metric(list(akey), buckets, total)
            histogram.samples.append(
                histogram.samples[-1]._replace(name="id_monitor_id_age_seconds_created", value=created)
            )
        yield histogram
        if not self.mappings:
            return
        family = CounterMetricFamily(
            "id_monitor_mapping_legacy_ids_total",
            "Legacy IDs seen in a mapping's covered fields, by whether the mapping knows them.",
            labels=["mapping", "covered"],
        )
        for (name, covered), value in coverage.items():
            family.add_metric([name, "true" if covered else "false"], value, created=created)
        yield family
        ratio = GaugeMetricFamily(
            "id_monitor_mapping_coverage_ratio",
            "Share of the legacy IDs seen in live traffic that have a mapping, since start (1 before any).",
            labels=["mapping"],
        )
        for name in self.mappings:
            seen = coverage[(name, True)] + coverage[(name, False)]
            ratio.add_metric([name], coverage[(name, True)] / seen if seen else 1.0)
        yield ratio


class _Collector:
    """Adapts IdMetrics to the registry (a registered object needs only `collect`)."""

    def __init__(self, metrics: IdMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        return self._metrics.collect()

    def describe(self) -> list[Metric]:
        return []  # names are fixed and unique; nothing to check at registration
