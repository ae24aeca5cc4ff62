"""The judge: one message (or one request's ID values) in, a Report of IDs and findings out.

`Judge` is shared unchanged by the Kafka agent, `id-monitor check` and the OpenTelemetry layer.
Everything that depends only on configuration (path trie, expected types, severities, which
rules are on, references) is compiled at construction; `check` then extracts, classifies each
value once (the classifier caches) and calls only the rules that can apply to that ID, so the
cost on clean traffic is a few dict lookups and comparisons per ID.

Judging is pure apart from owner-collision tracking (`owners.OwnerCollisions`), which by nature
looks across messages; pass `track_owners=False` for fully stateless judging.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from id_monitor import rules
from id_monitor.config import Config, FieldSpec
from id_monitor.extract import Extractor
from id_monitor.model import Finding, IdInfo, Severity
from id_monitor.owners import OwnerCollisions
from id_monitor.redact import REDACT_MODES
from id_monitor.rules import ISOLATION_OUTCOMES, MESSAGE_FIELD, RULES, TypeMatcher

if TYPE_CHECKING:
    from id_monitor.classify import Classifier

__all__ = ["ISOLATION_OUTCOMES", "MESSAGE_FIELD", "RULES", "Judge", "Report"]


@dataclass(slots=True)
class Report:
    """What judging one message found.

    `ids`: (field, IdInfo) for every ID string checked (non-strings are findings, not IDs).
    `findings`: every finding, IDs already redacted. `owner`: the message owner (user id) or None.
    `isolation`: (field, outcome) for every owner-bearing ID, outcome in ISOLATION_OUTCOMES
    (`no_owner` = the message had no owner, so isolation could not be judged).
    """

    ids: list[tuple[str, IdInfo]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    owner: str | None = None
    isolation: list[tuple[str, str]] = field(default_factory=list)
    message_type: str | None = None

    @property
    def violations(self) -> int:
        return sum(1 for f in self.findings if f.severity == "violation")

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity == "warning")


class _FieldPlan:
    """A field's spec compiled for the hot path: the expected types as a set and prefixes, so the
    common case (an expected type) costs a set lookup instead of a call."""

    __slots__ = ("accepts", "exact", "legacy", "prefixes")

    def __init__(self, spec: FieldSpec | None, global_legacy: str) -> None:
        self.accepts: TypeMatcher | None = rules.type_matcher(spec.expect) if spec else None
        self.exact = self.accepts.exact if self.accepts else frozenset()
        self.prefixes = self.accepts.prefixes if self.accepts else ()
        policy = (spec.legacy if spec and spec.legacy else None) or global_legacy
        self.legacy: Severity | None = rules.LEGACY_SEVERITY[policy]


class _AnyFormat:
    """Stands for "every format" where the classifier has no schema to say which formats may
    carry reference parts."""

    def __contains__(self, item: object) -> bool:
        return True


def _formats_with_parts(classifier: object, parts: frozenset[str]) -> frozenset[str] | _AnyFormat:
    """Names of the formats whose IDs may carry one of `parts`: those with a segment of that name,
    and (conservatively) those with a standard-format segment, whose decoder adds parts of its own.

    Most IDs then skip the reference rule on one set look-up of their format name instead of a
    walk over their parts."""
    formats = getattr(getattr(classifier, "schema", None), "formats", None)
    if formats is None:
        return _AnyFormat()
    return frozenset(
        f.name
        for f in formats
        if not parts.isdisjoint(f.segment_names)
        or any(segment.role == "standard" for variant in f.variants for segment in variant.segments)
    )


class Judge:
    """Apply the configured policy to messages. Thread-safe for concurrent `check` calls."""

    def __init__(
        self,
        config: Config,
        classifier: Classifier | None = None,
        *,
        redact_mode: str | None = None,
        track_owners: bool = True,
    ) -> None:
        if classifier is None:
            from id_monitor.classify import Classifier

            classifier = Classifier(
                config.schema, cache_size=config.limits.cache_size, max_length=config.limits.max_id_length
            )
        self.config = config
        self.classifier = classifier
        self._classify = classifier.classify
        mode = redact_mode or (config.violations.redact if config.violations else "mask")
        if mode not in REDACT_MODES:
            raise ValueError(f"unknown redact mode {mode!r} (modes: {', '.join(REDACT_MODES)})")
        self.redact_mode = mode

        policy = config.policy
        severity: dict[str, Severity | None] = dict(rules.DEFAULT_SEVERITY)
        for rule, level in policy.severity.items():
            severity[rule] = None if level == "off" else level  # type: ignore[assignment]
        self.severity = severity
        self._max_future_ms = int(policy.max_future_skew.total_seconds() * 1000)
        self._max_age_ms = int(policy.max_age.total_seconds() * 1000)
        self._references = tuple(policy.references.items())
        self._reference_parts = frozenset(policy.references)
        self._reference_formats = _formats_with_parts(classifier, self._reference_parts)
        self._shape_only = frozenset(policy.shape_only_types)
        self._width = config.owner.width

        self._plans = {name: _FieldPlan(spec, policy.legacy) for name, spec in config.fields.items()}
        self._default_plan = _FieldPlan(None, policy.legacy)
        self._always_required = tuple(n for n, s in config.fields.items() if s.required is True)
        self._required_by_type = tuple(
            (n, TypeMatcher(s.required)) for n, s in config.fields.items() if isinstance(s.required, list)
        )
        self._required_for: dict[str, tuple[str, ...]] = {}
        self._extractor = Extractor(
            {name: spec.paths for name, spec in config.fields.items()},
            owner_paths=config.owner.paths,
            type_paths=config.message.type_paths,
            max_values=config.limits.max_ids_per_message,
        )
        self._collect = self._extractor.collect
        self.owners: OwnerCollisions | None = None
        if track_owners and severity["owner_collision"] is not None:
            self.owners = OwnerCollisions(config.owner.width, config.limits.max_tracked_owners)

    def field_names(self) -> list[str]:
        """Every `field` a finding or ID of this judge can carry: the configured fields, then
        `message` (message-level findings). A bounded label set for metrics."""
        return [*self.config.fields, MESSAGE_FIELD]

    def check(self, message: Mapping[str, Any], observed_ms: int) -> Report:
        """Judge one decoded message; `observed_ms` is when it was seen (epoch ms)."""
        values, owner, message_type, dropped = self._collect(message)
        report = self._judge(values, owner, message_type, observed_ms, True)
        if dropped:
            sev = self.severity["malformed"]
            if sev is not None:
                report.findings.append(rules.malformed("too_many_ids", sev))
        return report

    def check_fields(
        self,
        values: Mapping[str, object],
        owner: str | None,
        observed_ms: int,
        *,
        message_type: str | None = None,
        check_required: bool = False,
    ) -> Report:
        """Judge ID values already keyed by field name (spans, HTTP requests).

        A value may be one ID or a list/tuple of IDs; None means absent. Fields not in the
        configuration are judged with no type expectation. `missing_id` applies only with
        `check_required=True`, since a span or request rarely carries the whole envelope.
        """
        normalised: dict[str, list[Any]] = {}
        for name, value in values.items():
            if value is None:
                continue
            if isinstance(value, (list, tuple)):
                items = [v for v in value if v is not None]
                if items:
                    normalised[name] = (
                        list(dict.fromkeys(items)) if all(isinstance(v, str) for v in items) else items
                    )
            else:
                normalised[name] = [value]
        if owner is not None and type(owner) is not str:
            owner = str(owner) if isinstance(owner, int) and not isinstance(owner, bool) else None
        return self._judge(normalised, owner or None, message_type, observed_ms, check_required)

    def _judge(
        self,
        values: dict[str, list[Any]],
        owner: str | None,
        message_type: str | None,
        observed_ms: int,
        check_required: bool,
    ) -> Report:
        ids: list[tuple[str, IdInfo]] = []
        findings: list[Finding] = []
        isolation: list[tuple[str, str]] = []
        sev = self.severity
        mode = self.redact_mode
        classify = self._classify
        plans, default_plan = self._plans, self._default_plan
        owner_prefix = owner[: self._width] if owner else None
        sev_unknown = sev["unknown_format"]
        sev_type = sev["unexpected_type"]
        sev_iso = sev["isolation_breach"]
        sev_skew = sev["timestamp_skew"]
        references = self._references if sev["mismatched_reference"] is not None else ()
        reference_parts, reference_formats = self._reference_parts, self._reference_formats
        shape_only = self._shape_only
        max_future, max_age = self._max_future_ms, self._max_age_ms
        if sev_skew is not None:
            earliest, latest = observed_ms - max_age, observed_ms + max_future
        else:
            earliest, latest = -(1 << 62), 1 << 62
        # Each rule's cheap "cannot fire" test is inlined here; the rule itself is called only
        # when it may fire, so clean IDs cost no calls beyond classify.
        for name, found in values.items():
            plan = plans.get(name) or default_plan
            accepts = plan.accepts if sev_type is not None else None
            exact, prefixes = plan.exact, plan.prefixes
            for value in found:
                if type(value) is not str:
                    if sev["not_a_string"] is not None:
                        findings.append(rules.not_a_string(name, value, sev["not_a_string"]))
                    continue
                info = classify(value)
                ids.append((name, info))
                status = info.status
                if status != "target":
                    if status == "unknown":
                        if sev_unknown is not None:
                            findings.append(rules.unknown_format(name, value, info, sev_unknown, mode))
                        continue
                    if plan.legacy is not None:
                        findings.append(rules.legacy_id(name, value, info, plan.legacy, mode))  # type: ignore[arg-type]
                id_type = info.id_type
                if (
                    accepts is not None
                    and id_type not in exact
                    and id_type not in shape_only
                    and not (prefixes and id_type is not None and id_type.startswith(prefixes))
                ):
                    finding = rules.unexpected_type(name, value, info, sev_type, mode, accepts, shape_only)  # type: ignore[arg-type]
                    if finding is not None:
                        findings.append(finding)
                id_owner = info.owner
                if id_owner is not None and sev_iso is not None:
                    if id_owner == owner_prefix:
                        isolation.append((name, "match"))
                    else:
                        outcome, finding = rules.isolation_breach(
                            name, value, info, sev_iso, mode, owner_prefix
                        )
                        isolation.append((name, outcome))
                        if finding is not None:
                            findings.append(finding)
                ts = info.timestamp_ms
                if ts is not None and not earliest <= ts <= latest:
                    finding = rules.timestamp_skew(
                        name, value, info, sev_skew, mode, observed_ms, max_future, max_age
                    )
                    if finding is not None:
                        findings.append(finding)
                if (
                    references
                    and info.format in reference_formats
                    and not reference_parts.isdisjoint(info.parts)
                ):
                    parts = info.parts
                    for part, target in references:
                        if part in parts:
                            finding = rules.mismatched_reference(
                                name,
                                value,
                                info,
                                sev["mismatched_reference"],
                                mode,
                                part,
                                target,  # type: ignore[arg-type]
                                values.get(target),
                            )
                            if finding is not None:
                                findings.append(finding)
        if check_required and sev["missing_id"] is not None:
            for name in self._always_required:
                if name not in values:
                    findings.append(rules.missing_id(name, sev["missing_id"]))
            if message_type is not None and self._required_by_type:
                required = self._required_for.get(message_type)
                if required is None:
                    required = tuple(name for name, types in self._required_by_type if types(message_type))
                    if len(self._required_for) < 1024:  # message types come from input: bound the memo
                        self._required_for[message_type] = required
                for name in required:
                    if name not in values:
                        findings.append(rules.missing_id(name, sev["missing_id"]))
        if owner is not None and self.owners is not None:
            distinct = self.owners.observe(owner)
            if distinct:
                findings.append(
                    rules.owner_collision(owner_prefix or owner, distinct, sev["owner_collision"], mode)
                )  # type: ignore[arg-type]
        return Report(ids, findings, owner, isolation, message_type)

    def malformed(self, reason: str) -> Report:
        """The report for a message that could not be decoded (reason from MalformedMessage)."""
        sev = self.severity["malformed"]
        findings = [rules.malformed(reason, sev)] if sev is not None else []
        return Report([], findings, None, [], None)
