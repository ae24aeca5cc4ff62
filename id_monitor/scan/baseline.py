"""The ratchet: a saved count of active sites per service, and the comparison against it.

Migrated share per service = 1 - remaining / baseline. Sites are matched to the baseline by
fingerprint (path, function, target, pattern, code text - no line numbers), so adding lines above
a site does not make it "new"; a service fails the ratchet only when its count grows, and then the
sites whose fingerprints are not (or more often than) in the baseline are named.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from id_monitor.scan.results import ScanResult, SiteRecord

BASELINE_VERSION = 1


class BaselineError(ValueError):
    """The baseline file is missing or not one this tool wrote."""


@dataclass(frozen=True, slots=True)
class Baseline:
    services: dict[str, int]
    fingerprints: Counter[str]
    targets: tuple[str, ...] = ()
    created: str = ""


@dataclass(frozen=True, slots=True)
class ServiceProgress:
    service: str
    baseline: int | None  # None: the service is not in the baseline
    remaining: int

    @property
    def increase(self) -> int:
        return max(0, self.remaining - (self.baseline or 0))

    @property
    def migrated(self) -> float | None:
        """1 - remaining / baseline, clamped at 0 when sites were added; None without a baseline
        count (a service that had none and still has none is trivially done: 1.0)."""
        if self.baseline is None or self.baseline == 0:
            return 1.0 if self.remaining == 0 else None
        return max(0.0, 1.0 - self.remaining / self.baseline)


@dataclass(frozen=True, slots=True)
class Comparison:
    services: dict[str, ServiceProgress]
    new_sites: list[SiteRecord] = field(default_factory=list)

    @property
    def failed_services(self) -> list[str]:
        return [name for name, p in self.services.items() if p.increase > 0]

    @property
    def failed(self) -> bool:
        return bool(self.failed_services)


def baseline_document(result: ScanResult) -> dict[str, object]:
    services = {name: s.active for name, s in result.services.items()}
    return {
        "version": BASELINE_VERSION,
        "tool": "id-monitor scan",
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "targets": sorted(result.config.targets.names),
        "services": services,
        "total": sum(services.values()),
        "sites": [
            {"fingerprint": r.fingerprint, "service": r.service, "path": r.path, "line": r.site.line,
             "pattern": r.site.pattern, "target": r.site.target}
            for r in result.active_sites
        ],
    }


def write_baseline(result: ScanResult, path: Path) -> None:
    text = json.dumps(baseline_document(result), indent=1, sort_keys=False) + "\n"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def read_baseline(path: Path) -> Baseline:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BaselineError(f"baseline {path} does not exist (create it with --write-baseline {path})") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BaselineError(f"baseline {path} cannot be read: {exc}") from None
    if not isinstance(document, dict) or document.get("version") != BASELINE_VERSION:
        raise BaselineError(f"baseline {path} is not an id-monitor scan baseline (version {BASELINE_VERSION})")
    services = document.get("services")
    sites = document.get("sites")
    if not isinstance(services, dict) or not isinstance(sites, list):
        raise BaselineError(f"baseline {path}: 'services' must be an object and 'sites' a list")
    try:
        counts = {str(k): int(v) for k, v in services.items()}
        prints = Counter(str(s["fingerprint"]) for s in sites)
    except (TypeError, ValueError, KeyError) as exc:
        raise BaselineError(f"baseline {path}: malformed entry ({exc})") from None
    return Baseline(counts, prints, tuple(document.get("targets") or ()), str(document.get("created", "")))


def compare(result: ScanResult, baseline: Baseline) -> Comparison:
    names = sorted(set(baseline.services) | {n for n, s in result.services.items() if s.active or n in baseline.services})
    progress = {
        name: ServiceProgress(name, baseline.services.get(name),
                              result.services[name].active if name in result.services else 0)
        for name in names
    }
    budget = Counter(baseline.fingerprints)
    new_sites: list[SiteRecord] = []
    for record in result.active_sites:
        if budget[record.fingerprint] > 0:
            budget[record.fingerprint] -= 1
        else:
            new_sites.append(record)
    return Comparison(progress, new_sites)
