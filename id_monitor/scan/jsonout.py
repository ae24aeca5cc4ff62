"""The `--json` document: everything the table shows, machine-readable and stable.

Top-level keys: version, root, config, summary, services, sites, skipped, baseline (null without
--baseline). Each site carries path, service, scope, status (active | suppressed | allowed),
line/column (1-based), target, pattern, truncation, function, assigned_to, code, fingerprint.
"""

from __future__ import annotations

from id_monitor.scan.baseline import Comparison
from id_monitor.scan.results import FILE_STATES, SCOPES, ScanResult

JSON_VERSION = 1


def to_json(result: ScanResult, comparison: Comparison | None = None) -> dict[str, object]:
    services: dict[str, object] = {}
    for name, summary in result.services.items():
        progress = comparison.services.get(name) if comparison else None
        services[name] = {
            "files": {scope: {state: summary.files.get((scope, state), 0) for state in FILE_STATES} for scope in SCOPES},
            "sites": {scope: {p: n for (sc, p), n in sorted(summary.patterns.items()) if sc == scope} for scope in SCOPES},
            "remaining": summary.active,
            "suppressed": summary.suppressed,
            "allowed": summary.allowed,
            "baseline": progress.baseline if progress else None,
            "migrated": progress.migrated if progress else None,
        }
    baseline: dict[str, object] | None = None
    if comparison is not None:
        baseline = {
            "failed": comparison.failed,
            "failed_services": comparison.failed_services,
            "services": {n: {"baseline": p.baseline, "remaining": p.remaining, "increase": p.increase,
                             "migrated": p.migrated} for n, p in comparison.services.items()},
            "new_sites": [r.as_dict() for r in comparison.new_sites],
        }
    config = result.config
    return {
        "version": JSON_VERSION,
        "root": result.root,
        "config": {
            "source": config.source,
            "targets": sorted(config.targets.names),
            "services": [{"glob": g, "service": s} for g, s in config.services],
            "test": list(config.test_globs),
            "allow": list(config.allow_globs),
            "exclude": list(config.exclude_globs),
            "max_file_bytes": config.max_file_bytes,
        },
        "summary": {
            "files": len(result.files),
            "parsed": result.parsed_files,
            "with_hits": sum(1 for f in result.files if f.state == "hits"),
            "skipped": len(result.skipped),
            "sites": len(result.active_sites),
            "suppressed": result.count("suppressed"),
            "allowed": result.count("allowed"),
            "elapsed_seconds": round(result.elapsed_seconds, 3),
        },
        "services": services,
        "sites": [r.as_dict() for r in result.sites],
        "skipped": [f.as_dict() for f in result.skipped],
        "baseline": baseline,
    }
