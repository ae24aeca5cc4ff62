"""LivePairs: the mappings' checks on live messages, for the judge.

For every mapping with `legacy_paths` / `target_paths`, a message carrying both sides is one pair
(several values at `*` paths are paired in message order); it is judged by the mapping's
`PairCheck`, against the message's user (the mapping's `owner_paths`, else the `owner` section's).
A message is a pair when it carries the legacy side: without the target side it is
`mapping_malformed` (`target side is missing`, as for a table row with a NULL target), and so is
one with unequal numbers of each (`unpaired`). The target side alone is ordinary traffic (the
target path is usually a regular field) and no pair.

Coverage: for the legacy IDs seen in a mapping's `covers` fields, whether the mapping knows them
(`PairCheck.covers`), counted per mapping as covered / not covered.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from id_monitor.extract import Extractor
from id_monitor.mapping.checks import Classify, PairCheck, PairRules, Severities
from id_monitor.mapping.state import PairStore
from id_monitor.model import Finding

if TYPE_CHECKING:
    from id_monitor.config import Config

_SEP = "\x00"


def open_store(config: Config, *, persistent: bool = True) -> PairStore:
    """The configured state file (`mapping_state`), or an in-memory store for stateless runs.
    A file that cannot be opened is a configuration error (one line naming the key)."""
    import sqlite3

    from id_monitor.config import ConfigError

    state = config.mapping_state
    try:
        return PairStore(state.path if persistent else ":memory:", state.max_pairs)
    except (OSError, sqlite3.Error) as exc:
        raise ConfigError(f"mapping_state.path: cannot open {state.path}: {exc}") from None


class LivePairs:
    def __init__(self, config: Config, classify: Classify, severity: Severities, store: PairStore) -> None:
        self.store = store
        self.checks: dict[str, PairCheck] = {}
        fields: dict[str, list[str]] = {}
        self._own_owner: set[str] = set()
        for name, spec in config.mappings.items():
            rules = PairRules(name, classify, severity, spec.expect, config.owner.width)
            self.checks[name] = PairCheck(rules, store, severity)
            if spec.legacy_paths:
                fields[f"{name}{_SEP}legacy"] = spec.legacy_paths
                fields[f"{name}{_SEP}target"] = spec.target_paths
                if spec.owner_paths:
                    fields[f"{name}{_SEP}owner"] = spec.owner_paths
                    self._own_owner.add(name)
        self.paired = [name for name, spec in config.mappings.items() if spec.legacy_paths]
        self.covers = {name: tuple(spec.covers) for name, spec in config.mappings.items() if spec.covers}
        self._extractor = Extractor(fields, owner_paths=config.owner.paths,
                                    max_values=config.limits.max_ids_per_message) if fields else None
        self._unpaired = severity.get("mapping_malformed")
        self._classify = classify

    def __bool__(self) -> bool:
        return bool(self.paired or self.covers)

    def check(self, message: Mapping[str, Any]) -> list[Finding]:
        """The mapping findings of one decoded message."""
        if self._extractor is None:
            return []
        values, owner, _type, _dropped = self._extractor.collect(message)
        if not values:
            return []
        findings: list[Finding] = []
        for name in self.paired:
            legacies = values.get(f"{name}{_SEP}legacy")
            targets = values.get(f"{name}{_SEP}target")
            if not legacies:  # the target side alone is ordinary traffic, not a pair
                continue
            if not targets:
                if self._unpaired is not None:
                    findings.append(Finding("mapping_malformed", name, self._unpaired, None, None,
                                            "target side is missing"))
                continue
            if len(legacies) != len(targets):
                if self._unpaired is not None:
                    info = self._classify(legacies[0]) if isinstance(legacies[0], str) else None
                    findings.append(Finding("mapping_malformed", name, self._unpaired, legacies[0], info,
                                            f"unpaired: {len(legacies)} legacy, {len(targets)} target"))
                continue
            user: Any = owner
            if name in self._own_owner:
                found = values.get(f"{name}{_SEP}owner")
                user = found[0] if found else None
            check = self.checks[name].check
            for legacy, target in zip(legacies, targets):
                findings.extend(check(legacy, target, user))
        return findings

    def coverage(self, values: Mapping[str, list[Any]]) -> list[tuple[str, bool]]:
        """(mapping, covered) for each legacy ID in a mapping's `covers` fields."""
        out: list[tuple[str, bool]] = []
        classify = self._classify
        for name, fields in self.covers.items():
            check = self.checks[name]
            for field in fields:
                for value in values.get(field, ()):
                    if type(value) is str and classify(value).status == "legacy":
                        out.append((name, check.covers(value)))
        return out

    def flush(self) -> None:
        self.store.flush()
