"""Report: what judging one message found."""

from __future__ import annotations

from dataclasses import dataclass, field

from id_monitor.model import Finding, IdInfo


@dataclass(slots=True)
class Report:
    """What judging one message found.

    `ids`: (field, IdInfo) for every ID string checked (non-strings are findings, not IDs).
    `findings`: every finding, with raw values (sinks redact). `owner`: the message owner (user
    id) or None. `isolation`: (field, outcome) for every owner-bearing ID, outcome in
    ISOLATION_OUTCOMES (`no_owner` = the message had no owner, so isolation could not be judged).
    `coverage`: (mapping, covered) for each legacy ID in a mapping's `covers` fields.
    """

    ids: list[tuple[str, IdInfo]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    owner: str | None = None
    isolation: list[tuple[str, str]] = field(default_factory=list)
    message_type: str | None = None
    coverage: list[tuple[str, bool]] = field(default_factory=list)

    @property
    def violations(self) -> int:
        return sum(1 for f in self.findings if f.severity == "violation")

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity == "warning")


_new_object = object.__new__


def new_report(ids: list[tuple[str, IdInfo]], findings: list[Finding], owner: str | None,
               isolation: list[tuple[str, str]], message_type: str | None) -> Report:
    """`Report(...)` for the judge's hot path: calling the class runs the generated `__init__` from C
    (a frame the interpreter cannot inline); this builds the same object in this frame."""
    report = _new_object(Report)
    report.ids = ids
    report.findings = findings
    report.owner = owner
    report.isolation = isolation
    report.message_type = message_type
    report.coverage = []
    return report
