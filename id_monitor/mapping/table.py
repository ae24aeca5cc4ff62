"""TableCheck: a whole mapping table checked exactly, in bounded memory, however large it is.

A table is read in two ordered passes (and one for rows with an empty side), which is what makes
the conflict checks exact without remembering every pair:

1. ordered by the legacy column: the rows of one legacy ID are adjacent, so "one legacy ID, two
   targets" is seen within one group; each row is also checked on its own (malformed sides, owner);
2. ordered by the target column: "one target, two legacy IDs" is seen within one group;
3. rows whose legacy or target column is NULL: each is `mapping_malformed`.

Across time, each group is compared with the previous complete scan's pairs in the `PairStore`
(namespace `table:<mapping>`): a legacy ID whose target changed, or a target whose legacy ID
changed, since then. The pairs of this scan go into a new generation that becomes current only when
all passes finished; a scan that fails leaves the previous state and gives no verdict. When the
store is full the remaining pairs are not remembered (counted in `TableReport.unremembered`); the
in-table findings stay exact.

Memory: one group of rows at a time (at most `max_group` distinct partners are kept per ID, which
is enough to know there is a conflict) and the first `keep_findings` findings for display; every
finding is counted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from id_monitor.mapping.checks import PairRules, Severities
from id_monitor.mapping.state import PairStore, id_key
from id_monitor.model import MAPPING_RULES, Finding

Row = tuple[object, object, object]  # legacy, target, owner


class MappingRows(Protocol):
    """What a table source gives TableCheck (id_monitor.sources.tables implements it)."""

    def by_legacy(self) -> Iterable[Row]:
        """Rows with both sides set, ordered by the legacy column."""

    def by_target(self) -> Iterable[Row]:
        """Rows with both sides set, ordered by the target column."""

    def with_null(self) -> Iterable[Row]:
        """Rows whose legacy or target column is NULL."""


@dataclass
class TableReport:
    """The verdict of one complete scan: rows read, findings counted per rule, the first ones kept."""

    mapping: str
    rows: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(MAPPING_RULES, 0))
    findings: list[Finding] = field(default_factory=list)
    remembered: int = 0
    unremembered: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def clean(self) -> bool:
        return self.total == 0


class TableCheck:
    def __init__(self, rules: PairRules, store: PairStore | None, severity: Severities, *,
                 max_group: int = 16, keep_findings: int = 1000) -> None:
        self.rules = rules
        self.store = store
        self.conflict = severity.get("mapping_conflict")
        self.ns = f"table:{rules.name}"
        self.max_group = max(2, max_group)
        self.keep_findings = keep_findings

    def _add(self, report: TableReport, finding: Finding) -> None:
        report.counts[finding.rule] = report.counts.get(finding.rule, 0) + 1
        if len(report.findings) < self.keep_findings:
            report.findings.append(finding)

    def run(self, rows: MappingRows) -> TableReport:
        """Scan everything; raises whatever the source raises (then no report, state untouched)."""
        report = TableReport(self.rules.name)
        store, ns = self.store, self.ns
        previous = store.generation(ns) if store is not None else 0
        has_previous = store is not None and store.pairs(ns, previous) > 0
        gen = store.begin_generation(ns) if store is not None else 0
        try:
            self._by_legacy(rows.by_legacy(), report, store, previous if has_previous else None, gen)
            self._by_target(rows.by_target(), report, store, previous if has_previous else None)
            for legacy, target, owner in rows.with_null():
                report.rows += 1
                for finding in self.rules(legacy, target, owner)[0]:
                    self._add(report, finding)
        except BaseException:
            if store is not None:
                store.discard()
            raise
        if store is not None:
            store.promote(ns, gen)
            report.remembered = store.pairs(ns, gen)
        return report

    def _by_legacy(self, rows: Iterable[Row], report: TableReport, store: PairStore | None,
                   previous: int | None, gen: int) -> None:
        rules, conflict, cap = self.rules, self.conflict, self.max_group
        current: object = None
        current_info = None
        targets: dict[object, None] = {}
        started = False
        pending: list[tuple[int, int]] = []

        def close_group() -> None:
            first_target = next(iter(targets))
            if conflict is not None:
                if len(targets) > 1:
                    more = "+" if len(targets) >= cap else ""
                    self._add(report, Finding("mapping_conflict", rules.name, conflict, current, current_info,
                                              f"legacy ID has {len(targets)}{more} targets"))
                elif store is not None and previous is not None:
                    before = store.target_of(self.ns, id_key(current), previous)
                    if before is not None and before != id_key(first_target):
                        self._add(report, Finding("mapping_conflict", rules.name, conflict, current, current_info,
                                                  "legacy ID's target changed since the last scan"))
            if store is not None:
                pending.append((id_key(current), id_key(first_target)))
                if len(pending) >= 10_000:
                    report.unremembered += store.put_many(self.ns, pending, gen)
                    pending.clear()

        for legacy, target, owner in rows:
            report.rows += 1
            findings, legacy_info, _target_info = rules(legacy, target, owner)
            for finding in findings:
                self._add(report, finding)
            if not started or legacy != current:
                if started:
                    close_group()
                started, current, current_info, targets = True, legacy, legacy_info, {}
            if len(targets) < cap:
                targets[target] = None
        if started:
            close_group()
        if store is not None and pending:
            report.unremembered += store.put_many(self.ns, pending, gen)

    def _by_target(self, rows: Iterable[Row], report: TableReport, store: PairStore | None,
                   previous: int | None) -> None:
        rules, conflict, cap = self.rules, self.conflict, self.max_group
        if conflict is None:
            return
        current: object = None
        legacies: dict[object, None] = {}
        started = False

        def close_group() -> None:
            if len(legacies) > 1:
                more = "+" if len(legacies) >= cap else ""
                self._add(report, Finding("mapping_conflict", rules.name, conflict, current,
                                          rules.classify(current), f"target ID has {len(legacies)}{more} legacy IDs"))
            elif store is not None and previous is not None:
                before = store.legacy_of(self.ns, id_key(current), previous)  # type: ignore[arg-type]
                if before is not None and before != id_key(next(iter(legacies))):
                    self._add(report, Finding("mapping_conflict", rules.name, conflict, current,
                                              rules.classify(current), "target ID's legacy ID changed since the last scan"))

        for legacy, target, _owner in rows:
            if not started or target != current:
                if started:
                    close_group()
                started, current, legacies = True, target, {}
            if len(legacies) < cap:
                legacies[legacy] = None
        if started:
            close_group()
