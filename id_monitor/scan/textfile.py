"""`--prometheus FILE`: the scan as a node_exporter textfile-collector file, so the migration
dashboard can show static progress beside live traffic.

Series (label values come from the service map / directory names, the fixed pattern, scope and
state sets - never from code content):
  id_monitor_scan_call_sites{service, pattern, scope}     active (unsuppressed, not allowed) sites
  id_monitor_scan_files{service, scope, state}            files: clean | hits | skipped
  id_monitor_scan_exempt_call_sites{service, reason}      suppressed inline | allowed by config
  id_monitor_scan_baseline_call_sites{service}            with --baseline only
  id_monitor_scan_migrated_ratio{service}                 with --baseline only: 1 - remaining/baseline
Every pattern/scope/state combination is written for every service, zeros included, so a series
that drops to zero does not vanish from the dashboard.
"""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, write_to_textfile

from id_monitor.scan.baseline import Comparison
from id_monitor.scan.detect import PATTERNS
from id_monitor.scan.results import FILE_STATES, SCOPES, ScanResult


def build_registry(result: ScanResult, comparison: Comparison | None = None) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=True)
    sites = Gauge("id_monitor_scan_call_sites", "uuid4 (and other configured) generation sites left in code.",
                  ["service", "pattern", "scope"], registry=registry)
    files = Gauge("id_monitor_scan_files", "Python files scanned, by outcome.",
                  ["service", "scope", "state"], registry=registry)
    exempt = Gauge("id_monitor_scan_exempt_call_sites", "Sites not counted: suppressed inline or allowed by config.",
                   ["service", "reason"], registry=registry)
    for name, summary in result.services.items():
        for scope in SCOPES:
            for pattern in PATTERNS:
                sites.labels(name, pattern, scope).set(summary.patterns.get((scope, pattern), 0))
            for state in FILE_STATES:
                files.labels(name, scope, state).set(summary.files.get((scope, state), 0))
        exempt.labels(name, "suppressed").set(summary.suppressed)
        exempt.labels(name, "allowed").set(summary.allowed)
    if comparison is not None:
        baseline = Gauge("id_monitor_scan_baseline_call_sites", "Sites per service in the saved baseline.",
                         ["service"], registry=registry)
        migrated = Gauge("id_monitor_scan_migrated_ratio", "1 - remaining / baseline sites per service.",
                         ["service"], registry=registry)
        for name, progress in comparison.services.items():
            baseline.labels(name).set(progress.baseline or 0)
            if progress.migrated is not None:
                migrated.labels(name).set(progress.migrated)
    return registry


def write_textfile(result: ScanResult, path: Path, comparison: Comparison | None = None) -> None:
    """Written atomically (temp file + rename) by prometheus_client, as the collector requires."""
    write_to_textfile(str(path), build_registry(result, comparison))
