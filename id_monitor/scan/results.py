"""Per-file scans grouped into what the migration plan asks: per service and scope, how many
files, how many with sites, how many sites by pattern, and which were suppressed or allowed.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field

from id_monitor.scan.config import ScanConfig
from id_monitor.scan.detect import Site
from id_monitor.scan.paths import GlobSet, service_for
from id_monitor.scan.read import FileScan
from id_monitor.scan.walk import Skipped

SCOPES: tuple[str, ...] = ("production", "test")
FILE_STATES: tuple[str, ...] = ("clean", "hits", "skipped")
SKIP_REASONS: tuple[str, ...] = (
    "syntax_error", "decode_error", "too_large", "too_complex", "unreadable", "not_a_file",
    "symlink_loop", "symlink_duplicate",
)
_SPACES = re.compile(r"\s+")


def fingerprint(path: str, site: Site) -> str:
    """Identity of a site that survives edits elsewhere in the file (no line numbers): used by the
    baseline to name new sites, and as the SARIF partial fingerprint."""
    code = _SPACES.sub(" ", site.code.split("#", 1)[0]).strip()
    raw = "\0".join((path, site.function or "", site.target, site.pattern, code))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:20]


@dataclass(frozen=True, slots=True)
class SiteRecord:
    path: str
    service: str
    scope: str
    status: str  # active | suppressed | allowed
    site: Site
    fingerprint: str

    def as_dict(self) -> dict[str, object]:
        return {"path": self.path, "service": self.service, "scope": self.scope, "status": self.status,
                **self.site.as_dict(), "fingerprint": self.fingerprint}


@dataclass(frozen=True, slots=True)
class FileRecord:
    path: str
    service: str
    scope: str
    state: str  # clean | hits | skipped
    parsed: bool
    reason: str | None = None
    detail: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {"path": self.path, "service": self.service, "scope": self.scope, "state": self.state,
                "reason": self.reason, "detail": self.detail}


@dataclass(slots=True)
class ServiceSummary:
    name: str
    files: Counter[tuple[str, str]] = field(default_factory=Counter)  # (scope, state) -> files
    patterns: Counter[tuple[str, str]] = field(default_factory=Counter)  # (scope, pattern) -> active sites
    suppressed: int = 0
    allowed: int = 0

    @property
    def active(self) -> int:
        return sum(self.patterns.values())

    def files_in(self, state: str | None = None, scope: str | None = None) -> int:
        return sum(n for (sc, st), n in self.files.items() if (state is None or st == state) and (scope is None or sc == scope))

    def sites_in(self, scope: str) -> int:
        return sum(n for (sc, _), n in self.patterns.items() if sc == scope)

    def by_pattern(self) -> Counter[str]:
        out: Counter[str] = Counter()
        for (_, pattern), n in self.patterns.items():
            out[pattern] += n
        return out


@dataclass(slots=True)
class ScanResult:
    root: str
    config: ScanConfig
    files: list[FileRecord]
    sites: list[SiteRecord]
    services: dict[str, ServiceSummary]
    elapsed_seconds: float = 0.0

    @property
    def active_sites(self) -> list[SiteRecord]:
        return [s for s in self.sites if s.status == "active"]

    def count(self, status: str) -> int:
        return sum(1 for s in self.sites if s.status == status)

    @property
    def skipped(self) -> list[FileRecord]:
        return [f for f in self.files if f.state == "skipped"]

    @property
    def parsed_files(self) -> int:
        return sum(1 for f in self.files if f.parsed)


def build_result(root: str, config: ScanConfig, scans: list[FileScan], skipped: list[Skipped], elapsed: float = 0.0) -> ScanResult:
    files: list[FileRecord] = []
    sites: list[SiteRecord] = []
    services: dict[str, ServiceSummary] = {}

    def summary(name: str) -> ServiceSummary:
        if name not in services:
            services[name] = ServiceSummary(name)
        return services[name]

    tests, allowlist = GlobSet(config.test_globs), GlobSet(config.allow_globs)
    for scan in scans:
        service = service_for(scan.rel, config.services)
        scope = "test" if tests.match(scan.rel) else "production"
        allowed = allowlist.match(scan.rel)
        group = summary(service)
        active = 0
        for site in scan.sites:
            status = "allowed" if allowed else "suppressed" if site.suppressed else "active"
            sites.append(SiteRecord(scan.rel, service, scope, status, site, fingerprint(scan.rel, site)))
            if status == "active":
                active += 1
                group.patterns[(scope, site.pattern)] += 1
            elif status == "allowed":
                group.allowed += 1
            else:
                group.suppressed += 1
        state = "skipped" if scan.reason else "hits" if active else "clean"
        files.append(FileRecord(scan.rel, service, scope, state, scan.parsed, scan.reason, scan.detail))
        group.files[(scope, state)] += 1
    for skip in skipped:
        service = service_for(skip.rel, config.services)
        scope = "test" if tests.match(skip.rel) else "production"
        files.append(FileRecord(skip.rel, service, scope, "skipped", False, skip.reason, skip.detail))
        summary(service).files[(scope, "skipped")] += 1
    files.sort(key=lambda f: f.path)
    sites.sort(key=lambda s: (s.service, s.path, s.site.line, s.site.column))
    return ScanResult(root, config, files, sites, dict(sorted(services.items())), elapsed)
