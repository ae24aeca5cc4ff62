"""`--sarif`: SARIF 2.1.0 for code-scanning UIs (GitHub code scanning and others).

One rule, `uuid4-call-site`; one result per site. Suppressed sites carry an `inSource`
suppression, allowlisted ones an `external` suppression, so UIs show them as dismissed rather than
losing them. Skipped files become tool execution notifications. Paths are relative to the
`SRCROOT` base id, which points at the scan root. Columns are Unicode code points (columnKind).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from id_monitor import __version__
from id_monitor.scan.baseline import Comparison
from id_monitor.scan.results import ScanResult, SiteRecord

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
RULE_ID = "uuid4-call-site"
FINGERPRINT_KEY = "idMonitorSite/v1"


def _uri(rel: str) -> str:
    return quote(rel, safe="/")


def _message(record: SiteRecord) -> str:
    site = record.site
    shape = f"{site.pattern} (truncated to {site.truncation})" if site.truncation else site.pattern
    where = f" in {site.function}" if site.function else ""
    into = f", assigned to {site.assigned_to}" if site.assigned_to else ""
    verb = "is passed uncalled to generate IDs later" if site.pattern == "reference" else "generates an ID"
    return f"{site.target} {verb} outside the unified generator: pattern {shape}{where}{into}."


def _result(record: SiteRecord) -> dict[str, object]:
    site = record.site
    result: dict[str, object] = {
        "ruleId": RULE_ID,
        "ruleIndex": 0,
        "level": "warning",
        "message": {"text": _message(record)},
        "locations": [{
            "physicalLocation": {
                "artifactLocation": {"uri": _uri(record.path), "uriBaseId": "SRCROOT"},
                "region": {"startLine": site.line, "startColumn": site.column, "endLine": site.end_line,
                           "endColumn": site.end_column, "snippet": {"text": site.code}},
            },
            **({"logicalLocations": [{"fullyQualifiedName": site.function, "kind": "function"}]} if site.function else {}),
        }],
        "partialFingerprints": {FINGERPRINT_KEY: record.fingerprint},
        "properties": {
            "service": record.service, "scope": record.scope, "target": site.target, "pattern": site.pattern,
            "truncation": site.truncation, "assignedTo": site.assigned_to, "status": record.status,
        },
    }
    if record.status == "suppressed":
        result["suppressions"] = [{"kind": "inSource", "justification": "# id-monitor: ignore comment"}]
    elif record.status == "allowed":
        result["suppressions"] = [{"kind": "external", "justification": "path in the scan allowlist"}]
    return result


def to_sarif(result: ScanResult, comparison: Comparison | None = None) -> dict[str, object]:
    """With a baseline comparison, each result carries `baselineState` (new | unchanged) so
    code-scanning UIs can show only what a change introduced."""
    new_sites = {id(r) for r in comparison.new_sites} if comparison is not None else set()
    results = []
    for record in result.sites:
        item = _result(record)
        if comparison is not None and record.status == "active":
            item["baselineState"] = "new" if id(record) in new_sites else "unchanged"
        results.append(item)
    root_uri = Path(result.root).resolve().as_uri().rstrip("/") + "/"
    notifications = [
        {
            "level": "warning",
            "message": {"text": f"skipped ({f.reason}): {f.detail}"},
            "descriptor": {"id": f"skipped/{f.reason}"},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(f.path), "uriBaseId": "SRCROOT"}}}],
        }
        for f in result.skipped
    ]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "id-monitor",
                "semanticVersion": __version__,
                "informationUri": "https://pypi.org/project/id-monitor/",
                "rules": [{
                    "id": RULE_ID,
                    "name": "Uuid4CallSite",
                    "shortDescription": {"text": "uuid4 generated outside the unified ID generator"},
                    "fullDescription": {"text": "A call (or uncalled reference, e.g. a default_factory) of "
                                                "uuid.uuid4 or another configured target: an ID minted in a "
                                                "legacy format that the migration has yet to replace."},
                    "help": {"text": "Generate the ID with the unified generator. If this site must stay, "
                                     "add `# id-monitor: ignore[uuid4]` on its line or allowlist the file."},
                    "defaultConfiguration": {"level": "warning"},
                    "properties": {"tags": ["migration", "ids"]},
                }],
            }},
            "originalUriBaseIds": {"SRCROOT": {"uri": root_uri}},
            "columnKind": "unicodeCodePoints",
            "invocations": [{"executionSuccessful": True, "toolExecutionNotifications": notifications}],
            "results": results,
        }],
    }
