"""The policy rules as data: each rule is a small unit that owns its cannot-fire guard.

A rule that judges one classified ID (`IdRule`) has two guards:

- `applies(field, facts)`: decided once per (field, format) when the Judge is built, from the
  field's policy and what the format can carry (a fixed id_type, an owner, a timestamp, reference
  parts). The judge keeps, per field and format, only the rules that can fire there, so a clean
  ID of a format no rule can fault costs one dict look-up and no call.
- `__call__(message, field, value, info)`: the part of the guard that depends on the ID's own
  values (its timestamp against the clock, its owner against the message's user); it appends a
  Finding to the message when the rule fires.

Message-level rules (`MessageRule`: missing_id, owner_collision) run once per message after its
IDs. Severity is decided by configuration (`policy.severity`, `policy.legacy` and per-field
`legacy`), never by the rule; a rule switched `off` is never built.

Findings carry the raw value and its IdInfo; nothing here redacts (sinks do).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from id_monitor.model import MESSAGE_FIELD, Finding, IdInfo, Severity, finding

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
    "mapping_conflict": "violation",
    "mapping_malformed": "violation",
    "mapping_owner_mismatch": "violation",
}

LEGACY_SEVERITY: dict[str, Severity | None] = {"allow": None, "warn": "warning", "violation": "violation"}


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


class FormatFacts(NamedTuple):
    """What IDs of one format can carry, as far as the rules' static guards need to know.

    `id_type` is the fixed id_type (None when it is taken from the ID, or unknown); `parts` the
    part names its IDs may carry (None: any, e.g. a standard segment's decoder adds its own)."""

    name: str | None
    status: str
    id_type: str | None
    owner_bearing: bool
    timestamped: bool
    parts: frozenset[str] | None

    @classmethod
    def anything(cls, name: str | None, status: str) -> FormatFacts:
        """Facts of a format the judge knows nothing about: every guard must stay open."""
        return cls(name, status, None, True, True, None)


class FieldPolicy(NamedTuple):
    """A field's own settings, as the static guards read them."""

    name: str
    accepts: TypeMatcher | None
    legacy: Severity | None


class Message:
    """The message being judged: where rules put their findings, and what they compare against.

    Built by `new_message`. `skew_window` is the (earliest, latest) creation time an ID may carry,
    worked out by TimestampSkew at the message's first timestamped ID."""

    __slots__ = ("findings", "isolation", "observed_ms", "owner_prefix", "skew_window", "values")

    values: Mapping[str, list[Any]]
    owner_prefix: str | None
    observed_ms: int
    findings: list[Finding]
    isolation: list[tuple[str, str]]
    skew_window: tuple[int, int] | None


_new_object = object.__new__


def new_message(values: Mapping[str, list[Any]], owner_prefix: str | None, observed_ms: int) -> Message:
    """A Message to judge. A function, not `Message.__init__`: calling a class runs its `__init__`
    from C, a frame the interpreter cannot inline, and this runs once per message."""
    message = _new_object(Message)
    message.values = values
    message.owner_prefix = owner_prefix
    message.observed_ms = observed_ms
    message.findings = []
    message.isolation = []
    message.skew_window = None
    return message


class IdRule:
    """Base of the per-ID rules (see the module docstring)."""

    __slots__ = ("severity",)
    name = ""

    def __init__(self, severity: Severity) -> None:
        self.severity = severity

    def applies(self, field: FieldPolicy, facts: FormatFacts) -> bool:
        raise NotImplementedError

    def __call__(self, message: Message, field: str, value: str, info: IdInfo) -> None:
        raise NotImplementedError


class UnknownFormat(IdRule):
    """No format of the schema matched (reason: no_match, too_long, empty)."""

    __slots__ = ()
    name = "unknown_format"

    def applies(self, field: FieldPolicy, facts: FormatFacts) -> bool:
        return facts.status == "unknown"

    def __call__(self, message: Message, field: str, value: str, info: IdInfo) -> None:
        message.findings.append(finding("unknown_format", field, self.severity, value, info, info.reason))


class LegacyId(IdRule):
    """A known old format. Its severity is the field's legacy policy, so the rule is built per
    policy level and applies only to the fields with that level."""

    __slots__ = ()
    name = "legacy_id"

    def applies(self, field: FieldPolicy, facts: FormatFacts) -> bool:
        return facts.status == "legacy" and field.legacy == self.severity

    def __call__(self, message: Message, field: str, value: str, info: IdInfo) -> None:
        message.findings.append(finding("legacy_id", field, self.severity, value, info))


class UnexpectedType(IdRule):
    """A well-formed ID of a type this field must not carry (a run id in `thread_id`).

    IDs whose id_type names only a shape (`uuid`, `hex8`: `shape_only`) or nothing say nothing
    about what they identify, so they are never unexpected; legacy_id speaks for them. A format
    with a fixed id_type is decided once; one that takes its id_type from the ID is checked per ID.
    """

    __slots__ = ("accepts", "accepts_type", "quiet", "shape_only")
    name = "unexpected_type"

    def __init__(self, severity: Severity, accepts: TypeMatcher, shape_only: frozenset[str]) -> None:
        super().__init__(severity)
        self.accepts = accepts
        self.accepts_type = accepts.__call__  # a bound method: its call is specialised, a call through __call__ is not
        self.shape_only = shape_only
        # id_types that are never unexpected here, in one set: most IDs pass on a look-up, and
        # only an id_type outside it costs the matcher's call (its `*` prefixes)
        self.quiet = shape_only | accepts.exact

    def applies(self, field: FieldPolicy, facts: FormatFacts) -> bool:
        if field.accepts is not self.accepts or facts.status == "unknown":
            return False
        if facts.id_type is None:
            return True  # taken from the ID: judged per ID
        return facts.id_type not in self.shape_only and not self.accepts(facts.id_type)

    def __call__(self, message: Message, field: str, value: str, info: IdInfo) -> None:
        id_type = info.id_type
        if id_type is None or id_type in self.quiet or self.accepts_type(id_type):
            return
        message.findings.append(
            finding("unexpected_type", field, self.severity, value, info, f"expected {self.accepts.text}"))


class IsolationBreach(IdRule):
    """Compare an owner-bearing ID's embedded owner with the message owner's prefix.

    Every owner-bearing ID gets an isolation outcome (ISOLATION_OUTCOMES): `match`, `breach`, or
    `no_owner` when the message has no owner, so the rule cannot judge and says so instead of
    guessing.
    """

    __slots__ = ()
    name = "isolation_breach"

    def applies(self, field: FieldPolicy, facts: FormatFacts) -> bool:
        return facts.status != "unknown" and facts.owner_bearing

    def __call__(self, message: Message, field: str, value: str, info: IdInfo) -> None:
        owner = info.owner
        if owner is None:
            return
        prefix = message.owner_prefix
        if owner == prefix:
            message.isolation.append((field, "match"))
        elif prefix is None:
            message.isolation.append((field, "no_owner"))
        else:
            message.isolation.append((field, "breach"))
            message.findings.append(finding("isolation_breach", field, self.severity, value, info,
                                            "owner differs from message user"))


class TimestampSkew(IdRule):
    """The embedded creation time lies too far ahead of the observation time, or is too old."""

    __slots__ = ("max_age_ms", "max_future_ms")
    name = "timestamp_skew"

    def __init__(self, severity: Severity, max_future_ms: int, max_age_ms: int) -> None:
        super().__init__(severity)
        self.max_future_ms = max_future_ms
        self.max_age_ms = max_age_ms

    def applies(self, field: FieldPolicy, facts: FormatFacts) -> bool:
        return facts.status != "unknown" and facts.timestamped

    def __call__(self, message: Message, field: str, value: str, info: IdInfo) -> None:
        ts = info.timestamp_ms
        if ts is None:
            return
        # comparisons against the creation times (earliest, latest) an ID may carry, worked out
        # once per message: epoch milliseconds are multi-digit ints, whose arithmetic allocates
        window = message.skew_window
        if window is None:
            observed = message.observed_ms
            window = message.skew_window = (observed - self.max_age_ms, observed + self.max_future_ms)
        if ts > window[1]:
            message.findings.append(finding("timestamp_skew", field, self.severity, value, info, "future"))
        elif ts < window[0]:
            message.findings.append(finding("timestamp_skew", field, self.severity, value, info, "too_old"))


class MismatchedReference(IdRule):
    """An embedded reference must point at the referenced field in the same message: equal the
    whole value (a run that carries its thread id), its last `_` segment, or that segment's first
    8 characters, as the generator cuts it (`thread8`, `agent8`; of a `_`-less value such as a
    uuid, its first 8). No referenced value (or no reference part): no judgement. When the
    referenced field holds several IDs, matching any of them is enough.
    """

    __slots__ = ("parts", "references")
    name = "mismatched_reference"

    def __init__(self, severity: Severity, references: Iterable[tuple[str, str]]) -> None:
        super().__init__(severity)
        self.references = tuple(references)
        self.parts = frozenset(part for part, _ in self.references)

    def applies(self, field: FieldPolicy, facts: FormatFacts) -> bool:
        if facts.status == "unknown":
            return False
        return facts.parts is None or not self.parts.isdisjoint(facts.parts)

    def __call__(self, message: Message, field: str, value: str, info: IdInfo) -> None:
        parts = info.parts
        if self.parts.isdisjoint(parts):
            return
        for part, target in self.references:
            ref = parts.get(part)
            referenced = message.values.get(target) if ref is not None else None
            if not referenced:
                continue
            texts = [v for v in referenced if isinstance(v, str)]
            if texts and not any(ref == v or ref == tail or ref == tail[:8]
                                 for v in texts for tail in (v.rpartition("_")[2],)):
                message.findings.append(finding("mismatched_reference", field, self.severity, value, info,
                                                f"{part} does not match {target}"))


class MissingId:
    """A required field had no value in the message (absent or null): fields required always, and
    fields required for some message types (value at `message.type_paths`, `*` suffix allowed)."""

    __slots__ = ("always", "by_type", "required_for", "severity")
    name = "missing_id"

    def __init__(self, severity: Severity, always: tuple[str, ...],
                 by_type: tuple[tuple[str, TypeMatcher], ...]) -> None:
        from id_monitor.classify import BoundedCache

        self.severity = severity
        self.always = always
        self.by_type = by_type
        # message types come from input: the memo is bounded and stops learning when full
        self.required_for: BoundedCache[str, tuple[str, ...]] = BoundedCache(1024, "refuse")

    def __call__(self, message: Message, message_type: str | None) -> None:
        values = message.values
        for name in self.always:
            if name not in values:
                message.findings.append(finding("missing_id", name, self.severity))
        if message_type is not None and self.by_type:
            required = self.required_for.get(message_type)
            if required is None:
                required = tuple(name for name, types in self.by_type if types(message_type))
                self.required_for.offer(message_type, required)
            for name in required:
                if name not in values:
                    message.findings.append(finding("missing_id", name, self.severity))


def not_a_string(field: str, value: object, severity: Severity) -> Finding:
    """The field holds a number, list, object or boolean where an ID string belongs."""
    return finding("not_a_string", field, severity, value)


def malformed(reason: str, severity: Severity, field: str = MESSAGE_FIELD) -> Finding:
    """The message itself could not be read (reason: not_utf8, not_json, not_object, too_large,
    too_deep, truncated, check_failed) or carried more IDs than the limit (too_many_ids)."""
    return finding("malformed", field, severity, None, None, reason)


def owner_collision(prefix: str, distinct: int, severity: Severity) -> Finding:
    """Several distinct owners share one owner prefix: isolation checks cannot tell them apart.
    The finding's value is the shared prefix (sinks show it as character classes under `mask`)."""
    return finding("owner_collision", MESSAGE_FIELD, severity, prefix, None, f"{distinct} owners share this prefix")
