"""How ID metadata is written onto spans: attribute keys, event attributes and exemplars.

Everything written here describes an ID (status, format, type, the rules it broke) and never
holds the ID itself, so traces can be shared as freely as the metrics. Keys follow the
OpenTelemetry attribute naming rules under one namespace: `id_monitor.<field>.status`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING

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


@lru_cache(maxsize=4096)
def field_keys(field: str) -> tuple[str, str, str, str]:
    """The status, format, type and reason keys of one field (built once per field name).

    Config field names may contain `.`, `-` or capitals; attribute namespaces may not, so
    `payload.thread-id` is written as `id_monitor.payload_thread_id.status`.
    """
    base = f"{NAMESPACE}.{_NOT_SNAKE.sub('_', field.lower())}."
    return base + "status", base + "format", base + "type", base + "reason"


def id_attributes(field: str, info: IdInfo) -> dict[str, str]:
    """Span attributes describing one classified ID; absent parts are left out, not empty."""
    status_key, format_key, type_key, reason_key = field_keys(field)
    attributes = {status_key: info.status}
    if info.format:
        attributes[format_key] = info.format
    if info.id_type:
        attributes[type_key] = info.id_type
    if info.reason:
        attributes[reason_key] = info.reason
    return attributes


_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})((?:-.*)?)", re.DOTALL)
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


def finding_event_attributes(finding: Finding, location: str | None = None) -> dict[str, str]:
    """Attributes of the span event named after a finding's rule (no ID, no free text)."""
    attributes = {EVENT_FIELD_KEY: finding.field, EVENT_SEVERITY_KEY: finding.severity}
    if location:
        attributes[EVENT_LOCATION_KEY] = location
    if finding.format:
        attributes[EVENT_FORMAT_KEY] = finding.format
    if finding.id_type:
        attributes[EVENT_TYPE_KEY] = finding.id_type
    return attributes


def exemplar_of(span: Span) -> dict[str, str] | None:
    """Exemplar labels linking a counter increment to `span`'s trace, if the span is sampled.

    Unsampled traces are never exported, so an exemplar pointing at one would lead nowhere.
    """
    context = span.get_span_context()
    if not context.is_valid or not context.trace_flags.sampled:
        return None
    return {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"}


def exemplar_from_traceparent(traceparent: str | bytes | None) -> dict[str, str] | None:
    """Exemplar labels from a W3C `traceparent` header (e.g. a Kafka record header), if sampled.

    `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`; anything else, an all-zero id or an
    unsampled flag gives None, so a malformed header never becomes a label.
    """
    if traceparent is None:
        return None
    if isinstance(traceparent, bytes):
        try:
            traceparent = traceparent.decode("ascii")
        except UnicodeDecodeError:
            return None
    match = _TRACEPARENT.fullmatch(traceparent.strip())
    if match is None:
        return None
    version, trace_id, span_id, flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest):
        return None
    if trace_id == "0" * 32 or span_id == "0" * 16 or not int(flags, 16) & 0x01:
        return None
    return {"trace_id": trace_id, "span_id": span_id}
