"""The per-pair mapping rules: malformed sides, owner mismatch, and conflicts against memory.

`pair_findings` is pure: it judges one pair on its own (does the legacy side classify as legacy,
is the target a target of the expected id_type, does the target's embedded owner match the user).
`PairCheck` adds what needs memory, the `mapping_conflict` rule: a legacy ID seen earlier with
another target, or a target seen earlier with another legacy ID (also across time and restarts,
through its `PairStore`).

Every finding's `field` is the mapping's name (a bounded label: names come from configuration).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from id_monitor.mapping.state import PairStore, id_key
from id_monitor.model import Finding, IdInfo

if TYPE_CHECKING:
    from id_monitor.model import Severity

Classify = Callable[[object], IdInfo]
Severities = dict[str, "Severity | None"]


def _expects(expect: Sequence[str]) -> Callable[[str | None], bool]:
    exact = frozenset(e for e in expect if not e.endswith("*"))
    prefixes = tuple(e[:-1] for e in expect if e.endswith("*"))
    if not expect:
        return lambda _id_type: True
    return lambda id_type: id_type is not None and (id_type in exact or id_type.startswith(prefixes or ("\0",)))


class PairRules:
    """The stateless rules of one mapping, compiled from its spec."""

    def __init__(self, name: str, classify: Classify, severity: Severities, expect: Sequence[str] = (),
                 owner_width: int = 8) -> None:
        self.name = name
        self.classify = classify
        self.malformed = severity.get("mapping_malformed")
        self.mismatch = severity.get("mapping_owner_mismatch")
        self.accepts = _expects(expect)
        self.expect_text = ", ".join(expect) or "any"
        self.owner_width = owner_width

    def __call__(self, legacy: object, target: object, owner: object = None) -> tuple[list[Finding], IdInfo | None, IdInfo | None]:
        """Findings of one pair on its own, and the two sides' classifications (None: not a string)."""
        return pair_findings(self, legacy, target, owner)


def _not_an_id(side: str, value: object) -> str:
    return f"{side} side is missing" if value is None else f"{side} side is not a string"


def pair_findings(rules: PairRules, legacy: object, target: object,
                  owner: object = None) -> tuple[list[Finding], IdInfo | None, IdInfo | None]:
    findings: list[Finding] = []
    name = rules.name
    legacy_info = rules.classify(legacy) if isinstance(legacy, str) else None
    target_info = rules.classify(target) if isinstance(target, str) else None
    sev = rules.malformed
    if sev is not None:
        if legacy_info is None:
            findings.append(Finding("mapping_malformed", name, sev, legacy, None, _not_an_id("legacy", legacy)))
        elif legacy_info.status != "legacy":
            findings.append(Finding("mapping_malformed", name, sev, legacy, legacy_info,
                                    f"legacy side is {legacy_info.status}, not legacy"))
        if target_info is None:
            findings.append(Finding("mapping_malformed", name, sev, target, None, _not_an_id("target", target)))
        elif target_info.status != "target":
            findings.append(Finding("mapping_malformed", name, sev, target, target_info,
                                    f"target side is {target_info.status}, not target"))
        elif not rules.accepts(target_info.id_type):
            findings.append(Finding("mapping_malformed", name, sev, target, target_info,
                                    f"target id_type is not one of: {rules.expect_text}"))
    sev = rules.mismatch
    if (sev is not None and target_info is not None and target_info.owner is not None
            and isinstance(owner, str) and owner and target_info.owner != owner[: rules.owner_width]):
        findings.append(Finding("mapping_owner_mismatch", name, sev, target, target_info,
                                "target's embedded owner differs from the user"))
    return findings, legacy_info, target_info


class PairCheck:
    """One mapping checked pair by pair with memory (in-message pairs in live traffic)."""

    def __init__(self, rules: PairRules, store: PairStore | None, severity: Severities) -> None:
        self.rules = rules
        self.store = store
        self.conflict = severity.get("mapping_conflict")
        self.ns = f"live:{rules.name}"
        self.table_ns = f"table:{rules.name}"

    def check(self, legacy: object, target: object, owner: object = None) -> list[Finding]:
        findings, legacy_info, target_info = self.rules(legacy, target, owner)
        store = self.store
        if store is not None and isinstance(legacy, str) and isinstance(target, str):
            lkey, tkey = id_key(legacy), id_key(target)
            known_target = store.target_of(self.ns, lkey)
            known_legacy = store.legacy_of(self.ns, tkey)
            if self.conflict is not None:
                if known_target is not None and known_target != tkey:
                    findings.append(Finding("mapping_conflict", self.rules.name, self.conflict, legacy,
                                            legacy_info, "legacy ID seen with another target"))
                if known_legacy is not None and known_legacy != lkey:
                    findings.append(Finding("mapping_conflict", self.rules.name, self.conflict, target,
                                            target_info, "target ID seen with another legacy ID"))
            if known_target is None or known_legacy is None:
                store.put(self.ns, lkey, tkey)
        return findings

    def covers(self, legacy: str) -> bool:
        """Whether a legacy ID has a mapping: seen in a live pair, or in the last complete table scan."""
        store = self.store
        if store is None:
            return False
        key = id_key(legacy)
        return store.target_of(self.ns, key) is not None or store.target_of(self.table_ns, key) is not None
