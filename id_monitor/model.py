"""The values that flow between stages: IdInfo (classify's output) and Finding (judge's output).

They are plain frozen dataclasses so every stage (agent, CLI, OpenTelemetry layer) shares them
unchanged, and so cached IdInfo objects can be handed out to many callers safely.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, Mapping

Status = Literal["target", "legacy", "unknown"]
Severity = Literal["violation", "warning"]

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class IdInfo:
    """What one string is, as far as the schema can tell.

    `format` is the winning format's name (None when unknown); `id_type` is what the ID names
    (`thread`, `ws_conn`, `user`, ...). `owner` is the embedded owner prefix (`user_id[:8]`) when the
    format carries one. `parts` holds every other named segment the format captured (e.g. `op`,
    `thread8`, `agent8`, `hex`, `uuid`, `typeid_prefix`, `version`), values as parsed.
    `reason` explains an `unknown`: `no_match`, `not_a_string`, `too_long`, `empty`.
    """

    status: Status
    format: str | None = None
    id_type: str | None = None
    owner: str | None = None
    timestamp_ms: int | None = None
    counter: int | None = None
    reason: str | None = None
    parts: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "format": self.format,
            "id_type": self.id_type,
            "owner": self.owner,
            "timestamp_ms": self.timestamp_ms,
            "counter": self.counter,
            "reason": self.reason,
            "parts": dict(self.parts),
        }


@dataclass(frozen=True, slots=True)
class Finding:
    """One judgement about one ID (or one message). `id` is already redacted.

    `rule` is one of the names in docs (unknown_format, unexpected_type, legacy_id,
    isolation_breach, mismatched_reference, timestamp_skew, missing_id, not_a_string, malformed,
    owner_collision). `field` is the configured field name (or `message` for message-level rules).
    """

    rule: str
    field: str
    severity: Severity
    format: str | None = None
    id_type: str | None = None
    id: str | None = None
    detail: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "field": self.field,
            "severity": self.severity,
            "format": self.format,
            "id_type": self.id_type,
            "id": self.id,
            "detail": self.detail,
        }
