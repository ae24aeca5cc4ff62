"""Every Prometheus metric id-monitor exports, defined in one place.

The names and labels are a contract with the dashboards and alert rules (see docs/metrics.md):

- ``id_monitor_ids_total{source, field, status, format}``: every ID checked
- ``id_monitor_findings_total{source, field, rule, severity}``: every finding
- ``id_monitor_messages_total{source, result}``: result is ok | malformed | skipped
- ``id_monitor_id_age_seconds{source, field}``: observed time minus the ID's embedded timestamp
- ``id_monitor_consumer_lag_messages{topic, partition}``
- ``id_monitor_build_info{version}``

Label values come only from bounded sets known up front (configured sources and fields, the schema's
format names, the rule names); anything else is counted under ``other``, so a hostile input can never
grow the number of series. Every known combination is created at zero when ``IdMetrics`` is built, so
an alert's ``increase()`` sees the very first event.

Children are resolved once and kept in plain dicts keyed by label tuples: the hot path of ``record``
is a dict lookup and an ``inc`` per ID, not a ``labels()`` call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from id_monitor import __version__

if TYPE_CHECKING:
    from id_monitor.config import Config
    from id_monitor.policy import Report
    from id_monitor.schema import Schema

OTHER = "other"
NO_FORMAT = "none"
STATUSES = ("target", "legacy", "unknown")
SEVERITIES = ("violation", "warning")
MESSAGE_RESULTS = ("ok", "malformed", "skipped")
MESSAGE_FIELD = "message"

# Delivery latency is usually milliseconds, but legacy or replayed IDs can be days old.
AGE_BUCKETS = (
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    300.0, 900.0, 3600.0, 21600.0, 86400.0, 604800.0, float("inf"),
)


def _rule_names() -> tuple[str, ...]:
    from id_monitor.policy import RULES

    return tuple(RULES)


class IdMetrics:
    """The metric families for one process, bound to one config and schema.

    ``sources`` are the source label values this process will use (``kafka:<topic>`` per topic for
    the agent, ``http`` for the FastAPI layer, ``span`` for the span processor).
    """

    def __init__(
        self,
        config: Config,
        schema: Schema,
        sources: Iterable[str],
        registry: CollectorRegistry | None = None,
        *,
        rules: Iterable[str] | None = None,
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self.sources = tuple(dict.fromkeys([*sources, OTHER]))
        self.fields = tuple(dict.fromkeys([*config.fields, MESSAGE_FIELD, OTHER]))
        self.rules = tuple(dict.fromkeys([*(rules if rules is not None else _rule_names()), OTHER]))
        self._status_of_format: dict[str, str] = {
            name: schema.format(name).status for name in schema.format_names()
        }
        self._status_of_format[NO_FORMAT] = "unknown"
        self._status_of_format[OTHER] = OTHER

        self.ids_total = Counter(
            "id_monitor_ids_total",
            "IDs checked, by where they were seen and what they are.",
            ["source", "field", "status", "format"],
            registry=self.registry,
        )
        self.findings_total = Counter(
            "id_monitor_findings_total",
            "Policy findings, by rule and severity.",
            ["source", "field", "rule", "severity"],
            registry=self.registry,
        )
        self.messages_total = Counter(
            "id_monitor_messages_total",
            "Messages read, by outcome: ok (checked), malformed (unreadable, skipped), skipped.",
            ["source", "result"],
            registry=self.registry,
        )
        self.id_age_seconds = Histogram(
            "id_monitor_id_age_seconds",
            "Observed time minus the timestamp embedded in the ID (delivery latency), in seconds.",
            ["source", "field"],
            buckets=AGE_BUCKETS,
            registry=self.registry,
        )
        self.consumer_lag = Gauge(
            "id_monitor_consumer_lag_messages",
            "Messages between the consumer's position and the end of each assigned partition.",
            ["topic", "partition"],
            registry=self.registry,
        )
        self.build_info = Gauge(
            "id_monitor_build_info",
            "Always 1; the version label says which id-monitor build is running.",
            ["version"],
            registry=self.registry,
        )
        self.build_info.labels(version=__version__).set(1)

        self._ids: dict[tuple[str, str, str], Any] = {}
        self._findings: dict[tuple[str, str, str, str], Any] = {}
        self._messages: dict[tuple[str, str], Any] = {}
        self._ages: dict[tuple[str, str], Any] = {}
        for source in self.sources:
            for result in MESSAGE_RESULTS:
                self._messages[(source, result)] = self.messages_total.labels(source, result)
            for field in self.fields:
                self._ages[(source, field)] = self.id_age_seconds.labels(source, field)
                for fmt, status in self._status_of_format.items():
                    self._ids[(source, field, fmt)] = self.ids_total.labels(source, field, status, fmt)
                for rule in self.rules:
                    for severity in SEVERITIES:
                        self._findings[(source, field, rule, severity)] = self.findings_total.labels(
                            source, field, rule, severity
                        )

    # -- label bucketing -------------------------------------------------------------------

    def _source(self, source: str) -> str:
        return source if source in self.sources else OTHER

    def _ids_child(self, source: str, field: str, fmt: str | None) -> Any:
        key = (source, field, fmt or NO_FORMAT)
        child = self._ids.get(key)
        if child is None:
            key = (
                self._source(source),
                field if field in self.fields else OTHER,
                key[2] if key[2] in self._status_of_format else OTHER,
            )
            child = self._ids[key]
        return child

    def _findings_child(self, source: str, field: str, rule: str, severity: str) -> Any:
        child = self._findings.get((source, field, rule, severity))
        if child is None:
            child = self._findings[
                (
                    self._source(source),
                    field if field in self.fields else OTHER,
                    rule if rule in self.rules else OTHER,
                    severity if severity in SEVERITIES else "violation",
                )
            ]
        return child

    # -- recording -----------------------------------------------------------------------

    def record(
        self,
        source: str,
        report: Report,
        observed_ms: int,
        exemplar: Mapping[str, str] | None = None,
    ) -> None:
        """Count one judged message (or request, or span): its IDs, their ages and its findings."""
        ex = dict(exemplar) if exemplar else None
        for field, info in report.ids:
            child = self._ids_child(source, field, info.format)
            if ex is None:
                child.inc()
            else:
                child.inc(1, ex)
            ts = info.timestamp_ms
            if ts is not None:
                age = self._ages.get((source, field)) or self._ages[
                    (self._source(source), field if field in self.fields else OTHER)
                ]
                age.observe(max(0.0, (observed_ms - ts) / 1000.0))
        for finding in report.findings:
            child = self._findings_child(source, finding.field, finding.rule, finding.severity)
            if ex is None:
                child.inc()
            else:
                child.inc(1, ex)

    def message(self, source: str, result: str, count: int = 1) -> None:
        """Count messages by outcome (ok | malformed | skipped)."""
        child = self._messages.get((source, result))
        if child is None:
            child = self._messages[(self._source(source), result if result in MESSAGE_RESULTS else "skipped")]
        child.inc(count)

    def set_lag(self, topic: str, partition: int, lag: int) -> None:
        self.consumer_lag.labels(topic, str(partition)).set(max(0, lag))

    def forget_partition(self, topic: str, partition: int) -> None:
        """Drop the lag series of a partition this process no longer owns (after a rebalance)."""
        try:
            self.consumer_lag.remove(topic, str(partition))
        except KeyError:
            pass
