"""The span sink: how ID metadata is written onto spans (attribute keys, event attributes, exemplars).

Everything written here describes an ID (status, format, type, the rules it broke) and never
holds the ID itself, so traces can be shared as freely as the metrics; an id_type taken from the
ID itself is shown through the `Redactor` like everywhere else. Keys follow the
OpenTelemetry attribute naming rules under one namespace: `id_monitor.<field>.status`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from id_monitor.classify import BoundedCache
from id_monitor.sinks.redact import Redactor

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from id_monitor.model import Finding, IdInfo

NAMESPACE = "id_monitor"
FINDINGS_KEY = "id_monitor.findings"
EVENT_FIELD_KEY = "id_monitor.field"
EVENT_SEVERITY_KEY = "id_monitor.severity"
EVENT_LOCATION_KEY = "id_monitor.location"
EVENT_FORMAT_KEY = "id_monitor.format"
EVENT_TYPE_KEY = "id_monitor.type"
REJECTED_KEY = "id_monitor.rejected"


_NOT_SNAKE = re.compile(r"[^a-z0-9_]+")


_FIELD_KEYS: BoundedCache[str, tuple[str, str, str, str]] = BoundedCache(4096, "refuse")


def field_keys(field: str) -> tuple[str, str, str, str]:
    """The status, format, type and reason keys of one field (built once per field name).

    Config field names may contain `.`, `-` or capitals; attribute namespaces may not, so
    `payload.thread-id` is written as `id_monitor.payload_thread_id.status`.
    """
    keys = _FIELD_KEYS.get(field)
    if keys is None:
        base = f"{NAMESPACE}.{_NOT_SNAKE.sub('_', field.lower())}."
        keys = base + "status", base + "format", base + "type", base + "reason"
        _FIELD_KEYS.offer(field, keys)
    return keys


def id_attributes(field: str, info: IdInfo, redactor: Redactor) -> dict[str, str]:
    """Span attributes describing one classified ID; absent parts are left out, not empty."""
    status_key, format_key, type_key, reason_key = field_keys(field)
    attributes = {status_key: info.status}
    if info.format:
        attributes[format_key] = info.format
    id_type = redactor.id_type(info.id_type)
    if id_type:
        attributes[type_key] = id_type
    if info.reason:
        attributes[reason_key] = info.reason
    return attributes


_RANK = {"target": 0, "legacy": 1, "unknown": 2}


def worst_by_field(pairs: Iterable[tuple[str, IdInfo]]) -> dict[str, IdInfo]:
    """One IdInfo per field: when a field held several IDs (a list), the worst status shows."""
    worst: dict[str, IdInfo] = {}
    for field, info in pairs:
        shown = worst.get(field)
        if shown is None or _RANK[info.status] > _RANK[shown.status]:
            worst[field] = info
    return worst


def rule_names(findings: Iterable[Finding]) -> tuple[str, ...]:
    """The distinct rule names of some findings, in the order they first fired."""
    return tuple(dict.fromkeys(finding.rule for finding in findings))


def finding_event_attributes(finding: Finding, redactor: Redactor) -> dict[str, str]:
    """Attributes of the span event named after a finding's rule (no ID, no free text)."""
    attributes = {EVENT_FIELD_KEY: finding.field, EVENT_SEVERITY_KEY: finding.severity}
    if finding.location:
        attributes[EVENT_LOCATION_KEY] = finding.location
    if finding.format:
        attributes[EVENT_FORMAT_KEY] = finding.format
    id_type = redactor.id_type(finding.id_type)
    if id_type:
        attributes[EVENT_TYPE_KEY] = id_type
    return attributes


def exemplar_of(span: Span) -> dict[str, str] | None:
    """Exemplar labels linking a counter increment to `span`'s trace, if the span is sampled.

    Unsampled traces are never exported, so an exemplar pointing at one would lead nowhere.
    """
    context = span.get_span_context()
    if not context.is_valid or not context.trace_flags.sampled:
        return None
    return {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"}
