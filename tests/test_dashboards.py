"""Lint of the Grafana dashboards, and a parse of every PromQL expression in dashboards and rules.

grafana's dashboard-linter cannot be fetched here, so `lint()` enforces the same rules it would,
plus ours: a `datasource` variable of type prometheus used by every panel and target, job and
instance variables and matchers on every id-monitor selector, a unit and a description on every
panel, `$__rate_interval` in every rate (`$__range` only for totals over the dashboard range), no
counter shown without rate()/increase(), stable uid, `editable: false`. Each rule is shown to
fire on a deliberately broken copy.

PromQL: promtool checks expressions only inside rule files, so every panel and variable query is
written, with template variables substituted, into a temporary rule file and `promtool check rules`
parses it.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.prometheus_server import (
    LABEL_VALUES,
    dashboard_queries,
    iter_panels,
    load_dashboard,
    substitute,
    variable_query,
)

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD_DIR = ROOT / "dashboards"
DASHBOARD_FILES = sorted(DASHBOARD_DIR.glob("*.json"))
PROVISIONING = DASHBOARD_DIR / "provisioning"
DOCS = ROOT / "docs" / "dashboards.md"
RUNBOOKS = ROOT / "docs" / "runbooks.md"
PROMTOOL = shutil.which("promtool")

EXPECTED_UIDS = {"id-monitor-overview.json": "id-monitor-overview", "id-monitor-migration.json": "id-monitor-migration"}
DATASOURCE_REF = {"type": "prometheus", "uid": "${datasource}"}
AGENT_METRICS = {
    "id_monitor_ids_total",
    "id_monitor_findings_total",
    "id_monitor_messages_total",
    "id_monitor_id_age_seconds_bucket",
    "id_monitor_id_age_seconds_count",
    "id_monitor_id_age_seconds_sum",
    "id_monitor_consumer_lag_messages",
    "id_monitor_build_info",
    "id_monitor_unknown_shapes",
    "id_monitor_mapping_legacy_ids_total",
    "id_monitor_mapping_coverage_ratio",
}
SCAN_METRICS = {"id_monitor_scan_call_sites", "id_monitor_scan_files"}
COUNTER_SUFFIXES = ("_total", "_bucket", "_count", "_sum")
RATE_FUNCTIONS = {"rate", "irate", "increase"}
SELECTOR = re.compile(r"(?<![\w:$])(id_monitor_\w+|up)(?![\w:(])\s*(\{[^}]*\})?(\s*\[[^\]]*\])?")
# Values to substitute when only the syntax matters.
PARSE_VALUES = {"datasource": "prometheus", "job": ["id-monitor"], "instance": ["127.0.0.1:9464"],
                "field": ["thread_id"], "scan_job": ["scan"], "service": ["api"]}
PARSE_INTERVALS = {"$__rate_interval": "1m", "$__range": "1h", "$__interval": "15s"}


# -- the lint -----------------------------------------------------------------------------------


def enclosing_function(expr: str, pos: int) -> str | None:
    """Name of the innermost function call whose parentheses enclose `pos`."""
    depth = 0
    for i in range(pos - 1, -1, -1):
        char = expr[i]
        if char == ")":
            depth += 1
        elif char == "(":
            if depth == 0:
                name = re.search(r"(\w+)\s*$", expr[:i])
                return name.group(1) if name else None
            depth -= 1
    return None


def lint_expr(where: str, expr: str) -> list[str]:
    problems: list[str] = []
    selectors = list(SELECTOR.finditer(expr))
    if not selectors:
        problems.append(f"{where}: no id_monitor_* or up selector in {expr!r}")
    for match in selectors:
        metric, matchers, window = match.group(1), match.group(2) or "", (match.group(3) or "").strip()
        scan = metric in SCAN_METRICS
        if metric not in AGENT_METRICS | SCAN_METRICS | {"up"}:
            problems.append(f"{where}: unknown metric {metric}")
        wanted = ['job=~"$scan_job"'] if scan else ['job=~"$job"', 'instance=~"$instance"']
        for matcher in wanted:
            if matcher not in matchers:
                problems.append(f"{where}: {metric} lacks the matcher {matcher}")
        function = enclosing_function(expr, match.start())
        if metric.endswith(COUNTER_SUFFIXES) and (not window or function not in RATE_FUNCTIONS):
            problems.append(f"{where}: counter {metric} shown without rate()/increase()")
        if window:
            duration = window[1:-1].strip()
            if function not in RATE_FUNCTIONS:
                problems.append(f"{where}: range {window} outside rate()/increase()")
            elif duration == "$__range" and function == "increase":
                pass  # a total over the dashboard's time range (stat, table)
            elif duration != "$__rate_interval":
                problems.append(f"{where}: {function}() over {window}, not [$__rate_interval]")
    return problems


def lint(dashboard: dict[str, Any], filename: str) -> list[str]:
    """Every problem with one dashboard, as readable strings (empty list: clean)."""
    problems: list[str] = []
    if dashboard.get("uid") != EXPECTED_UIDS.get(filename):
        problems.append(f"uid {dashboard.get('uid')!r} is not the stable {EXPECTED_UIDS.get(filename)!r}")
    if dashboard.get("editable") is not False:
        problems.append("editable must be false (provisioned, changes go through dashboards/generate.py)")
    variables = {v["name"]: v for v in dashboard.get("templating", {}).get("list", [])}
    ds = variables.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        problems.append("no `datasource` variable of type datasource/prometheus")
    for name in ("job", "instance"):
        if variables.get(name, {}).get("type") != "query":
            problems.append(f"no `{name}` query variable")
    for variable in variables.values():
        if variable.get("type") == "query" and variable.get("datasource") != DATASOURCE_REF:
            problems.append(f"variable {variable['name']} does not use ${{datasource}}")
    ids = [p.get("id") for p in iter_panels(dashboard)]
    if len(ids) != len(set(ids)):
        problems.append("duplicate panel ids")
    for panel in iter_panels(dashboard):
        if panel.get("type") == "row":
            continue
        title = panel.get("title") or f"panel {panel.get('id')}"
        if not panel.get("description", "").strip():
            problems.append(f"{title}: no description")
        grid = panel.get("gridPos", {})
        if grid.get("x", 0) + grid.get("w", 0) > 24:
            problems.append(f"{title}: wider than the grid")
        targets = panel.get("targets", [])
        if panel.get("type") == "text":
            continue
        if not targets:
            problems.append(f"{title}: no queries")
        if not panel.get("fieldConfig", {}).get("defaults", {}).get("unit"):
            problems.append(f"{title}: no unit")
        if panel.get("datasource") != DATASOURCE_REF:
            problems.append(f"{title}: panel datasource is not ${{datasource}}")
        for target in targets:
            where = f"{title} [{target.get('refId')}]"
            if target.get("datasource") != DATASOURCE_REF:
                problems.append(f"{where}: target datasource is not ${{datasource}}")
            problems += lint_expr(where, target.get("expr", ""))
    return problems


# -- the dashboards as committed --------------------------------------------------------------


@pytest.fixture(params=DASHBOARD_FILES, ids=[p.name for p in DASHBOARD_FILES])
def dashboard_file(request: pytest.FixtureRequest) -> Path:
    return request.param


def test_both_dashboards_exist() -> None:
    assert sorted(p.name for p in DASHBOARD_FILES) == sorted(EXPECTED_UIDS)


def test_dashboards_match_their_generator() -> None:
    done = subprocess.run(
        [sys.executable, str(DASHBOARD_DIR / "generate.py"), "--check"], check=False, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_dashboard_passes_lint(dashboard_file: Path) -> None:
    assert lint(load_dashboard(dashboard_file), dashboard_file.name) == []


def test_dashboard_panels_are_documented(dashboard_file: Path) -> None:
    docs = DOCS.read_text(encoding="utf-8")
    dashboard = load_dashboard(dashboard_file)
    assert dashboard["title"] in docs
    missing = [p["title"] for p in iter_panels(dashboard) if p["type"] != "row" and f"**{p['title']}**" not in docs]
    assert missing == [], f"panels not described in docs/dashboards.md: {missing}"


def links_of(dashboard: dict[str, Any]) -> Iterable[str]:
    for panel in iter_panels(dashboard):
        for link in panel.get("links", []):
            yield link["url"]
        yield from re.findall(r"\]\(([^)]+)\)", panel.get("options", {}).get("content", ""))
    for link in dashboard.get("links", []):
        yield link["url"]


def test_runbook_links_point_at_existing_sections(dashboard_file: Path) -> None:
    headings = {
        re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in RUNBOOKS.read_text(encoding="utf-8").splitlines()
        if line.startswith("#")
    }
    anchors = [u.split("#", 1)[1] for u in links_of(load_dashboard(dashboard_file)) if "runbooks.md#" in u]
    assert anchors
    assert [a for a in anchors if a not in headings] == []


def test_dashboard_links_name_existing_dashboards(dashboard_file: Path) -> None:
    uids = set(EXPECTED_UIDS.values())
    for url in links_of(load_dashboard(dashboard_file)):
        if url.startswith("/d/"):
            assert url.split("/")[2] in uids, url


def test_overview_covers_the_on_call_questions() -> None:
    """The overview shows what the issue lists: each metric family in at least one panel."""
    exprs = " ".join(q.expr for q in dashboard_queries(load_dashboard(DASHBOARD_DIR / "id-monitor-overview.json")))
    for needle in ('rule="isolation_breach"', 'severity="violation"', 'status="target"', "id_age_seconds_bucket",
                   "id_monitor_messages_total", "id_monitor_consumer_lag_messages", "up{", "topk(",
                   "id_monitor_unknown_shapes"):
        assert needle in exprs, needle


def test_migration_dashboard_shows_static_call_sites() -> None:
    exprs = " ".join(q.expr for q in dashboard_queries(load_dashboard(DASHBOARD_DIR / "id-monitor-migration.json")))
    for needle in ("id_monitor_scan_call_sites", "id_monitor_scan_files", 'status="legacy"', 'status="unknown"'):
        assert needle in exprs, needle


def test_agent_metric_names_exist_in_the_metrics_module() -> None:
    """The dashboards' names are the ones id_monitor/sinks/metrics.py defines (histogram series from the
    family name)."""
    source = "".join((ROOT / "id_monitor" / module).read_text(encoding="utf-8")
                     for module in ("sinks/metrics.py", "discover/metrics.py"))
    used = {m.group(1) for f in DASHBOARD_FILES for q in dashboard_queries(load_dashboard(f))
            for m in SELECTOR.finditer(q.expr)} - SCAN_METRICS - {"up"}
    for name in used:
        family = re.sub(r"_(bucket|count|sum)$", "", name) if "_seconds_" in name else name
        assert f'"{family}"' in source, f"{name} is not defined in id_monitor/sinks/metrics.py"


# -- the lint catches what it should ----------------------------------------------------------


def broken_copy(edit) -> list[str]:
    dashboard = copy.deepcopy(load_dashboard(DASHBOARD_DIR / "id-monitor-overview.json"))
    edit(dashboard)
    return lint(dashboard, "id-monitor-overview.json")


def first_target(dashboard: dict[str, Any], title: str) -> dict[str, Any]:
    return next(p for p in iter_panels(dashboard) if p["title"] == title)["targets"][0]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda d: d.update(uid="renamed"), "stable"),
        (lambda d: d.update(editable=True), "editable"),
        (lambda d: d["templating"]["list"].pop(0), "datasource"),
        (lambda d: d["templating"]["list"].pop(1), "`job` query variable"),
        (lambda d: d["panels"][1].pop("description"), "no description"),
        (lambda d: d["panels"][1]["fieldConfig"]["defaults"].pop("unit"), "no unit"),
        (lambda d: first_target(d, "Messages by result").update(datasource={"type": "prometheus", "uid": "abc"}),
         "target datasource"),
        (lambda d: first_target(d, "Messages by result").update(
            expr=first_target(d, "Messages by result")["expr"].replace("$__rate_interval", "5m")),
         "not [$__rate_interval]"),
        (lambda d: first_target(d, "Consumer lag").update(expr='id_monitor_messages_total{job=~"$job", instance=~"$instance"}'),
         "without rate()"),
        (lambda d: first_target(d, "Consumer lag").update(expr='sum(id_monitor_consumer_lag_messages{job=~"$job"})'),
         'lacks the matcher instance=~"$instance"'),
        (lambda d: first_target(d, "Consumer lag").update(expr="sum(vector(1))"), "no id_monitor_* or up selector"),
        (lambda d: first_target(d, "Consumer lag").update(expr='id_monitor_consumer_lag{job=~"$job", instance=~"$instance"}'),
         "unknown metric"),
    ],
    ids=["uid", "editable", "datasource-var", "job-var", "description", "unit", "target-ds", "fixed-window",
         "raw-counter", "instance-matcher", "no-selector", "unknown-metric"],
)
def test_lint_catches_a_broken_copy(edit, expected: str) -> None:
    problems = broken_copy(edit)
    assert any(expected in p for p in problems), problems


# -- PromQL parses ------------------------------------------------------------------------------


def all_expressions() -> list[tuple[str, str]]:
    """(where, expr) for every panel target and every variable query, variables substituted."""
    found: list[tuple[str, str]] = []
    for path in DASHBOARD_FILES:
        dashboard = load_dashboard(path)
        for query in dashboard_queries(dashboard):
            found.append((query.name, substitute(query.expr, PARSE_VALUES, PARSE_INTERVALS)))
        for variable in dashboard["templating"]["list"]:
            query = variable_query(variable)
            if query is None:
                continue
            match = LABEL_VALUES.match(query.strip())
            assert match, f"{path.name}: variable {variable['name']}: not a label_values() query: {query}"
            if match.group("selector"):
                found.append((f"{path.name} ${variable['name']}", substitute(match.group("selector"), PARSE_VALUES, {})))
    return found


def promtool_parse(expressions: list[tuple[str, str]], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    rules = [{"record": f"dashboard:query_{i}:check", "expr": expr} for i, (_, expr) in enumerate(expressions)]
    path = tmp_path / "dashboard-queries.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard-queries", "rules": rules}]}, sort_keys=False))
    return subprocess.run([PROMTOOL, "check", "rules", str(path)], check=False, capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (Debian package prometheus; scripts/bootstrap installs it)")
def test_every_dashboard_query_parses(tmp_path: Path) -> None:
    expressions = all_expressions()
    assert len(expressions) >= 25
    done = promtool_parse(expressions, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(expressions)} rules found" in done.stdout


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (Debian package prometheus; scripts/bootstrap installs it)")
def test_parse_check_rejects_a_broken_query(tmp_path: Path) -> None:
    expressions = all_expressions()
    where, expr = expressions[0]
    expressions[0] = (where, expr.replace(")", "", 1))
    done = promtool_parse(expressions, tmp_path)
    assert done.returncode != 0
    assert "parse error" in (done.stdout + done.stderr)


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (Debian package prometheus; scripts/bootstrap installs it)")
def test_rule_file_expressions_parse() -> None:
    """Rules parse too (test_alert_rules.py runs the full check; this keeps the PromQL check whole)."""
    done = subprocess.run(
        [PROMTOOL, "check", "rules", str(ROOT / "alerts" / "id-monitor.rules.yml")],
        check=False, capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


# -- provisioning --------------------------------------------------------------------------------


def test_provisioned_datasource_uid_is_the_dashboards_default() -> None:
    datasources = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yml").read_text())["datasources"]
    assert [d["type"] for d in datasources] == ["prometheus"]
    uid = datasources[0]["uid"]
    for path in DASHBOARD_FILES:
        ds = next(v for v in load_dashboard(path)["templating"]["list"] if v["name"] == "datasource")
        assert ds["current"]["value"] == uid


def test_dashboard_provider_is_file_based_and_read_only() -> None:
    providers = yaml.safe_load((PROVISIONING / "dashboards" / "id-monitor.yml").read_text())["providers"]
    assert len(providers) == 1
    provider = providers[0]
    assert provider["type"] == "file"
    assert provider["allowUiUpdates"] is False
    assert provider["options"]["path"].startswith("/")


def test_dashboard_json_is_plain_json(dashboard_file: Path) -> None:
    """No trailing garbage, UTF-8, ends with a newline (what Grafana's file provider reads)."""
    text = dashboard_file.read_text(encoding="utf-8")
    assert text.endswith("\n")
    json.loads(text)
