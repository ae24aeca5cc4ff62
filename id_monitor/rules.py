"""The policy rules, each a small pure function of (field, ID, context) -> Finding | None.

A rule knows nothing about where the ID came from (Kafka, a file, a span): `policy.Judge`
extracts values, classifies them once and calls only the rules that can apply, so each rule
here stays a few lines long and is tested on its own with hand-built `IdInfo` values.

Severity is decided by configuration (`policy.severity`, `policy.legacy` and per-field
`legacy`), never by the rule; a rule switched `off` is never called.
"""

from __future__ import annotations

from typing import Any

from id_monitor.model import Finding, IdInfo, Severity
from id_monitor.redact import redact, shape

# Every rule name the engine can report (DESIGN section 4, plus owner_collision).
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
)

# Severity of each rule unless `policy.severity` says otherwise. legacy_id is absent on purpose:
# its severity comes from the legacy policy (allow / warn / violation), globally or per field.
DEFAULT_SEVERITY: dict[str, Severity] = {
    "unknown_format": "violation",
    "unexpected_type": "violation",
    "isolation_breach": "violation",
    "mismatched_reference": "violation",
    "timestamp_skew": "warning",
    "missing_id": "violation",
    "not_a_string": "violation",
    "malformed": "violation",
    "owner_collision": "warning",
}

LEGACY_SEVERITY: dict[str, Severity | None] = {"allow": None, "warn": "warning", "violation": "violation"}

# How isolation was judged for one owner-bearing ID (Report.isolation): the rule cannot judge
# an ID when the message has no owner, and that is counted rather than guessed.
ISOLATION_OUTCOMES: tuple[str, ...] = ("match", "breach", "no_owner")

# Field name of findings about the message as a whole (malformed) and about its owner
# (owner_collision): metrics count them under this label next to the configured fields.
MESSAGE_FIELD = "message"


class TypeMatcher:
    """A field's `expect` list as a predicate on id_type.

    Entries are exact id_types (`thread`) or prefixes ending in `*` (`evt_*`), because base-form
    id_types carry the event name (`evt_agent_started`) and cannot all be listed.
    """

    __slots__ = ("exact", "prefixes", "text")

    def __init__(self, expect: list[str] | tuple[str, ...]) -> None:
        self.exact = frozenset(e for e in expect if not e.endswith("*"))
        self.prefixes = tuple(e[:-1] for e in expect if e.endswith("*"))
        self.text = ", ".join(expect)

    def __call__(self, id_type: str | None) -> bool:
        if id_type is None:
            return False
        return id_type in self.exact or (bool(self.prefixes) and id_type.startswith(self.prefixes))


def type_matcher(expect: list[str] | tuple[str, ...]) -> TypeMatcher | None:
    """None when the field accepts any id_type (an empty `expect`)."""
    return TypeMatcher(expect) if expect else None


# Findings are immutable values, and under `mask` a legacy or unknown ID's finding is the same for
# every ID of that shape (`********-****-…` for any uuid), so equal findings are shared rather
# than rebuilt: building a frozen dataclass costs ~10x a dict hit, and legacy IDs are common while
# a migration runs. Bounded; once full, findings are simply built.
_SHARED_FINDINGS: dict[tuple[Any, ...], Finding] = {}
_SHARED_MAX = 4096


def _finding(
    rule: str, field: str, severity: Severity, info: IdInfo, value: str, mode: str, detail: str | None = None
) -> Finding:
    """Findings are built only when a rule fires, so redaction costs nothing on clean traffic."""
    shown = redact(value, mode, info)
    if mode != "mask" or info.status == "target":  # the shown ID is (nearly) unique: nothing to share
        return Finding(rule, field, severity, info.format, info.id_type, shown, detail)
    key = (rule, field, severity, info.format, info.id_type, shown, detail)
    finding = _SHARED_FINDINGS.get(key)
    if finding is None:
        finding = Finding(*key)
        if len(_SHARED_FINDINGS) < _SHARED_MAX:
            _SHARED_FINDINGS[key] = finding
    return finding


def unknown_format(field: str, value: str, info: IdInfo, severity: Severity, mode: str) -> Finding | None:
    """No format of the schema matched (reason: no_match, too_long, empty)."""
    if info.status != "unknown":
        return None
    return _finding("unknown_format", field, severity, info, value, mode, info.reason)


def unexpected_type(
    field: str,
    value: str,
    info: IdInfo,
    severity: Severity,
    mode: str,
    accepts: TypeMatcher | None,
    shape_only: frozenset[str] = frozenset(),
) -> Finding | None:
    """A well-formed ID of a type this field must not carry (a run id in `thread_id`).

    IDs whose id_type names only a shape (`uuid`, `hex8`: listed in `shape_only`) or nothing say
    nothing about what they identify, so they are never unexpected; legacy_id speaks for them.
    """
    id_type = info.id_type
    if accepts is None or info.status == "unknown" or id_type is None or id_type in shape_only:
        return None
    if accepts(id_type):
        return None
    return _finding("unexpected_type", field, severity, info, value, mode, f"expected {accepts.text}")


def legacy_id(field: str, value: str, info: IdInfo, severity: Severity | None, mode: str) -> Finding | None:
    """A known old format; `severity` None means the legacy policy for this field is `allow`."""
    if info.status != "legacy" or severity is None:
        return None
    return _finding("legacy_id", field, severity, info, value, mode)


def isolation_breach(
    field: str, value: str, info: IdInfo, severity: Severity, mode: str, owner_prefix: str | None
) -> tuple[str, Finding | None]:
    """Compare an owner-bearing ID's embedded owner with the message owner's prefix.

    Returns (outcome, finding): outcome is one of ISOLATION_OUTCOMES, or "" when the ID carries
    no owner. `owner_prefix` is already cut to the configured width; with no owner the rule
    cannot judge and says so (`no_owner`) instead of guessing.
    """
    if info.owner is None:
        return "", None
    if owner_prefix is None:
        return "no_owner", None
    if info.owner == owner_prefix:
        return "match", None
    detail = "owner differs from message user"
    return "breach", _finding("isolation_breach", field, severity, info, value, mode, detail)


def mismatched_reference(
    field: str,
    value: str,
    info: IdInfo,
    severity: Severity,
    mode: str,
    part: str,
    referenced_field: str,
    referenced_values: list[object] | None,
) -> Finding | None:
    """An embedded reference must point at the referenced field in the same message: equal the
    whole value (a run that carries its thread id), its last `_` segment, or that segment's first
    8 characters, as the generator cuts it (`thread8`, `agent8`; of a `_`-less value such as a
    uuid, its first 8). No referenced value (or no reference part): no judgement. When the
    referenced field holds several IDs, matching any of them is enough.
    """
    ref = info.parts.get(part)
    if ref is None or not referenced_values:
        return None
    texts = [v for v in referenced_values if isinstance(v, str)]
    if not texts or any(ref == v or ref == tail or ref == tail[:8]
                        for v in texts for tail in (v.rpartition("_")[2],)):
        return None
    return _finding(
        "mismatched_reference",
        field,
        severity,
        info,
        value,
        mode,
        f"{part} does not match {referenced_field}",
    )


def timestamp_skew(
    field: str,
    value: str,
    info: IdInfo,
    severity: Severity,
    mode: str,
    observed_ms: int,
    max_future_ms: int,
    max_age_ms: int,
) -> Finding | None:
    """The embedded creation time lies too far ahead of the observation time, or is too old."""
    ts = info.timestamp_ms
    if ts is None:
        return None
    if ts - observed_ms > max_future_ms:
        return _finding("timestamp_skew", field, severity, info, value, mode, "future")
    if observed_ms - ts > max_age_ms:
        return _finding("timestamp_skew", field, severity, info, value, mode, "too_old")
    return None


def missing_id(field: str, severity: Severity) -> Finding:
    """A required field had no value in the message (absent or null)."""
    return Finding("missing_id", field, severity, None, None, None, None)


def not_a_string(field: str, value: object, severity: Severity) -> Finding:
    """The field holds a number, list, object or boolean where an ID string belongs.

    The finding shows only the JSON type name, never the value.
    """
    return Finding("not_a_string", field, severity, None, None, f"<{json_type(value)}>", None)


def malformed(reason: str, severity: Severity, field: str = MESSAGE_FIELD) -> Finding:
    """The message itself could not be read (reason: not_utf8, not_json, not_object, too_large,
    too_deep, truncated) or carried more IDs than the limit (too_many_ids)."""
    return Finding("malformed", field, severity, None, None, None, reason)


def owner_collision(prefix: str, distinct: int, severity: Severity, mode: str) -> Finding:
    """Several distinct owners share one owner prefix: isolation checks cannot tell them apart.

    In `mask` mode the prefix is shown as character classes (`user_175` -> `aaaa_999`).
    """
    shown = shape(prefix) if mode == "mask" else redact(prefix, mode)
    return Finding(
        "owner_collision",
        MESSAGE_FIELD,
        severity,
        None,
        None,
        shown,
        f"{distinct} owners share this prefix",
    )


def json_type(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "object"
    if value is None:
        return "null"
    return type(value).__name__
