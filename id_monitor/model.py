"""The values that flow between stages, and the names every stage agrees on.

`IdInfo` is what classify says about one string; `Finding` is one judgement the judge made. Both
are plain named tuples: immutable (a cached IdInfo is handed to many callers), cheap to build (one
C-level tuple construction, no generated code) and picklable for worker processes.

A Finding carries the raw value and its IdInfo *inside* the process. Nothing here is redacted:
each sink (log, violation record, span, CLI output, HTTP body) redacts in its own configured mode
before anything leaves the process (`id_monitor.sinks.redact`).

The name tuples below are the project's contract with dashboards, alerts and users (see
docs/design.md): rule names, statuses, severities, isolation outcomes, message results.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Literal, Mapping, NamedTuple

Status = Literal["target", "legacy", "unknown"]
Severity = Literal["violation", "warning"]

STATUSES: tuple[str, ...] = ("target", "legacy", "unknown")
SEVERITIES: tuple[str, ...] = ("violation", "warning")

# Every rule name the judge can report.
RULES: tuple[str, ...] = (
    "unknown_format",
    "unexpected_type",
    "legacy_id",
    "isolation_breach",
    "mismatched_reference",
    "timestamp_skew",
    "missing_id",
    "not_a_string",
    "malformed",
    "owner_collision",
    "mapping_conflict",
    "mapping_malformed",
    "mapping_owner_mismatch",
)

# The rules of legacy <-> target mapping verification (`id_monitor.mapping`): their `field` is the
# mapping's configured name.
MAPPING_RULES: tuple[str, ...] = ("mapping_conflict", "mapping_malformed", "mapping_owner_mismatch")

# How isolation was judged for one owner-bearing ID (Report.isolation): the rule cannot judge an ID
# when the message has no owner, and that is counted rather than guessed.
ISOLATION_OUTCOMES: tuple[str, ...] = ("match", "breach", "no_owner")

# What became of one message (id_monitor_messages_total{result}).
MESSAGE_RESULTS: tuple[str, ...] = ("ok", "malformed", "skipped")

# Field name of findings about the message as a whole (malformed) and about its owner
# (owner_collision): metrics count them under this label next to the configured fields.
MESSAGE_FIELD = "message"

EMPTY_PARTS: Mapping[str, Any] = MappingProxyType({})


class IdInfo(NamedTuple):
    """What one string is, as far as the schema can tell.

    `format` is the winning format's name (None when unknown); `id_type` is what the ID names
    (`thread`, `ws_conn`, `user`, ...). `owner` is the embedded owner prefix (`user_id[:8]`) when the
    format carries one. `parts` holds every other named segment the format captured (e.g. `op`,
    `thread8`, `agent8`, `hex`, `uuid`, `typeid_prefix`, `version`), values as parsed.
    `reason` explains an `unknown`: `no_match`, `not_a_string`, `too_long`, `empty`, `error`.
    """

    status: str
    format: str | None = None
    id_type: str | None = None
    owner: str | None = None
    timestamp_ms: int | None = None
    counter: int | None = None
    reason: str | None = None
    parts: Mapping[str, Any] = EMPTY_PARTS

    def __reduce__(self) -> tuple[Any, ...]:
        # parts is a read-only mapping proxy, which pickle cannot take: send a dict instead
        return (_restore_info, (*self[:7], dict(self.parts)))

    def as_dict(self) -> dict[str, Any]:
        """The classify JSON contract (`id-monitor classify --json`): every key, parts as a dict."""
        out = self._asdict()
        out["parts"] = dict(self.parts)
        return out


def _restore_info(*fields: Any) -> IdInfo:
    parts = fields[7]
    return IdInfo(*fields[:7], MappingProxyType(parts) if parts else EMPTY_PARTS)


class Finding(NamedTuple):
    """One judgement about one ID (or one message).

    `rule` is one of RULES, `field` a configured field name (or MESSAGE_FIELD). `value` is what the
    judgement is about, unredacted: the ID string, the non-string value of `not_a_string`, the
    shared owner prefix of `owner_collision`, None for `missing_id` and `malformed`. `info` is the
    value's classification when it is an ID. `location` says where in the input the value was
    (`path`, `header`, `query`, `body` for HTTP requests), when the source knows.
    """

    rule: str
    field: str
    severity: str
    value: object = None
    info: IdInfo | None = None
    detail: str | None = None
    location: str | None = None

    @property
    def format(self) -> str | None:
        return self.info.format if self.info is not None else None

    @property
    def id_type(self) -> str | None:
        return self.info.id_type if self.info is not None else None


_new_tuple = tuple.__new__


def finding(rule: str, field: str, severity: str, value: object = None, info: IdInfo | None = None,
            detail: str | None = None, location: str | None = None) -> Finding:
    """`Finding(...)` for the judge's hot path: one C-level tuple construction, where calling the
    class runs the named tuple's Python `__new__` from C (a frame the interpreter cannot inline)."""
    return _new_tuple(Finding, (rule, field, severity, value, info, detail, location))  # type: ignore[no-any-return]


class Where(NamedTuple):
    """Where a finding was seen, for violation records: the source label, the topic, partition and
    offset (a stream's line number as the offset), and when (epoch ms)."""

    source: str
    topic: str | None
    partition: int | None
    offset: int | None
    observed_ms: int
