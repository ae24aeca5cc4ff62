"""Writes the Grafana dashboards (classic JSON model) from one description of their panels.

Run `python dashboards/generate.py` after editing this file; tests/test_dashboards.py fails when the
committed JSON and this file disagree. Generating keeps every panel consistent: the same datasource
reference, the same job/instance matchers, a unit and a description on each, `$__rate_interval`
in every rate.

The metric names are the contract of docs/design.md; the alert names and runbook anchors those of
alerts/id-monitor.rules.yml and docs/runbooks.md.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RUNBOOKS = "https://github.com/id-monitor/id-monitor/blob/main/docs/runbooks.md"
DATASOURCE_UID = "id-monitor-prometheus"  # dashboards/provisioning/datasources/prometheus.yml
DS = {"type": "prometheus", "uid": "${datasource}"}
BUDGET = 0.0001  # 99.99% of checked IDs valid

AGENT = 'job=~"$job", instance=~"$instance"'
AGENT_FIELD = AGENT + ', field=~"$field"'
SCAN = 'job=~"$scan_job", service=~"$service"'

ALERTS = (
    ("IdMonitorIsolationBreach", "an ID owned by another user"),
    ("IdMonitorViolationBurnRateFast", "invalid IDs burn the budget 14.4x"),
    ("IdMonitorViolationBurnRateSlow", "invalid IDs burn the budget 6x"),
    ("IdMonitorViolationBurnRateTicket", "invalid IDs above 0.01% for 3 days"),
    ("IdMonitorAgentDown", "the agent cannot be scraped"),
    ("IdMonitorAgentAbsent", "no agent is scraped at all"),
    ("IdMonitorNoIdsChecked", "messages flow, no IDs found"),
    ("IdMonitorMalformedMessagesRising", "unreadable messages"),
    ("IdMonitorConsumerLagHigh", "the agent falls behind"),
    ("IdMonitorLegacyShareRising", "legacy IDs coming back"),
    ("IdMonitorIdAgeHigh", "IDs arrive late"),
)


def runbook(alert: str) -> str:
    return f"{RUNBOOKS}#{alert.lower()}"


# -- variables -----------------------------------------------------------------------------


def datasource_variable() -> dict[str, Any]:
    return {
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": "prometheus",
        "current": {"text": "Prometheus", "value": DATASOURCE_UID},
        "hide": 0,
        "refresh": 1,
        "regex": "",
        "options": [],
    }


def query_variable(name: str, label: str, query: str, *, multi: bool = True) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DS,
        "definition": query,
        "query": {"query": query, "refId": f"{name}-variable"},
        "current": {"text": ["All"], "value": ["$__all"]} if multi else {},
        "includeAll": multi,
        "multi": multi,
        "refresh": 2,
        "sort": 1,
        "hide": 0,
        "regex": "",
        "options": [],
    }


AGENT_VARIABLES = [
    datasource_variable(),
    query_variable("job", "Job", "label_values(id_monitor_ids_total, job)"),
    query_variable("instance", "Instance", 'label_values(id_monitor_ids_total{job=~"$job"}, instance)'),
    query_variable("field", "Field", 'label_values(id_monitor_ids_total{job=~"$job"}, field)'),
]
SCAN_VARIABLES = [
    query_variable("scan_job", "Scan job", "label_values(id_monitor_scan_call_sites, job)"),
    query_variable("service", "Service", 'label_values(id_monitor_scan_call_sites{job=~"$scan_job"}, service)'),
]


# -- panels ----------------------------------------------------------------------------------


class Layout:
    """Places panels left to right on Grafana's 24-column grid and numbers them."""

    def __init__(self) -> None:
        self.x = 0
        self.y = 0
        self.row_height = 0
        self.next_id = 1
        self.panels: list[dict[str, Any]] = []

    def add(self, panel: dict[str, Any], w: int, h: int) -> None:
        if self.x + w > 24:
            self.x, self.y, self.row_height = 0, self.y + self.row_height, 0
        panel["id"] = self.next_id
        panel["gridPos"] = {"x": self.x, "y": self.y, "w": w, "h": h}
        self.next_id += 1
        self.x += w
        self.row_height = max(self.row_height, h)
        self.panels.append(panel)

    def row(self, title: str) -> None:
        self.x, self.y = 0, self.y + self.row_height
        self.row_height = 0
        self.add({"type": "row", "title": title, "collapsed": False, "panels": []}, 24, 1)
        self.x, self.y, self.row_height = 0, self.y + 1, 0


def target(expr: str, legend: str, ref: str, *, instant: bool = False) -> dict[str, Any]:
    return {
        "datasource": DS,
        "refId": ref,
        "expr": expr,
        "legendFormat": legend,
        "range": not instant,
        "instant": instant,
        "editorMode": "code",
    }


def _thresholds(steps: list[tuple[float | None, str]]) -> dict[str, Any]:
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for v, c in steps]}


def timeseries(
    title: str,
    description: str,
    queries: list[tuple[str, str]],
    unit: str,
    *,
    stack: bool = False,
    bars: bool = False,
    minimum: float | None = 0,
    maximum: float | None = None,
    thresholds: list[tuple[float | None, str]] | None = None,
    links: list[dict[str, str]] | None = None,
    interval: str | None = None,
) -> dict[str, Any]:
    custom: dict[str, Any] = {
        "drawStyle": "bars" if bars else "line",
        "lineWidth": 1,
        "fillOpacity": 80 if bars else (30 if stack else 10),
        "stacking": {"mode": "normal" if stack else "none", "group": "A"},
        "showPoints": "never",
        "spanNulls": False,
        "thresholdsStyle": {"mode": "line" if thresholds else "off"},
    }
    defaults: dict[str, Any] = {
        "unit": unit,
        "custom": custom,
        "thresholds": _thresholds(thresholds or [(None, "green")]),
        "color": {"mode": "palette-classic"},
    }
    if minimum is not None:
        defaults["min"] = minimum
    if maximum is not None:
        defaults["max"] = maximum
    panel: dict[str, Any] = {
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": DS,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "legend": {"displayMode": "table", "placement": "bottom", "calcs": ["lastNotNull", "max"]},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        "targets": [target(e, legend, chr(ord("A") + i)) for i, (e, legend) in enumerate(queries)],
    }
    if links:
        panel["links"] = links
    if interval:
        panel["interval"] = interval
    return panel


def stat(
    title: str,
    description: str,
    expr: str,
    unit: str,
    *,
    legend: str = "",
    thresholds: list[tuple[float | None, str]],
    reduce: str = "lastNotNull",
    mappings: list[dict[str, Any]] | None = None,
    links: list[dict[str, str]] | None = None,
    instant: bool = True,
) -> dict[str, Any]:
    panel: dict[str, Any] = {
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": DS,
        "fieldConfig": {
            "defaults": {
                "unit": unit,
                "thresholds": _thresholds(thresholds),
                "mappings": mappings or [],
                "color": {"mode": "thresholds"},
            },
            "overrides": [],
        },
        "options": {
            "reduceOptions": {"calcs": [reduce], "fields": "", "values": False},
            "colorMode": "background",
            "graphMode": "none" if instant else "area",
            "textMode": "auto",
            "justifyMode": "auto",
            "orientation": "auto",
        },
        "targets": [target(expr, legend, "A", instant=instant)],
    }
    if links:
        panel["links"] = links
    return panel


def bargauge(
    title: str,
    description: str,
    expr: str,
    legend: str,
    unit: str,
    *,
    maximum: float | None = None,
    thresholds: list[tuple[float | None, str]] | None = None,
) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "unit": unit,
        "min": 0,
        "thresholds": _thresholds(thresholds or [(None, "blue")]),
        "color": {"mode": "thresholds"},
    }
    if maximum is not None:
        defaults["max"] = maximum
    return {
        "type": "bargauge",
        "title": title,
        "description": description,
        "datasource": DS,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "orientation": "horizontal",
            "displayMode": "gradient",
            "showUnfilled": True,
        },
        "targets": [target(expr, legend, "A", instant=True)],
    }


def table(title: str, description: str, expr: str, unit: str, columns: list[str]) -> dict[str, Any]:
    return {
        "type": "table",
        "title": title,
        "description": description,
        "datasource": DS,
        "fieldConfig": {"defaults": {"unit": unit, "custom": {"align": "auto"}}, "overrides": []},
        "options": {"showHeader": True, "sortBy": [{"displayName": "Value", "desc": True}]},
        "targets": [{**target(expr, "", "A", instant=True), "format": "table"}],
        "transformations": [
            {
                "id": "organize",
                "options": {
                    "excludeByName": {"Time": True},
                    "indexByName": {name: i for i, name in enumerate([*columns, "Value"])},
                },
            }
        ],
    }


def text(title: str, description: str, markdown: str) -> dict[str, Any]:
    return {
        "type": "text",
        "title": title,
        "description": description,
        "options": {"mode": "markdown", "content": markdown},
    }


def dashboard(uid: str, title: str, description: str, layout: Layout, variables: list, time_from: str,
              tags: list[str], links: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": tags,
        "editable": False,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "1m",
        "time": {"from": time_from, "to": "now"},
        "timepicker": {},
        "timezone": "utc",
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "links": links,
        "templating": {"list": variables},
        "panels": layout.panels,
    }


# -- shared expressions ----------------------------------------------------------------------

RATE = "$__rate_interval"


def ids_rate(by: str, extra: str = "") -> str:
    return f"sum by ({by}) (rate(id_monitor_ids_total{{{AGENT_FIELD}{extra}}}[{RATE}]))"


def share(status: str, by: str) -> str:
    """Share of IDs with `status` among all IDs checked, per `by`."""
    selected = ids_rate(by, f', status="{status}"')
    return f"{selected}\n/\n{ids_rate(by)}"


VIOLATION_RATIO = (
    f'sum by (job) (rate(id_monitor_findings_total{{{AGENT_FIELD}, severity="violation", rule!="malformed"}}[{RATE}]))\n'
    f"/\n{ids_rate('job')}"
)


# -- overview ----------------------------------------------------------------------------------


def overview() -> dict[str, Any]:
    lay = Layout()
    lay.row("Objective: 99.99% of checked IDs valid")
    lay.add(
        stat(
            "Isolation breaches in range",
            "Answers: did any message or request carry an ID owned by another user in the selected time "
            "range? Any value above 0 pages (IdMonitorIsolationBreach). Sum over the jobs, instances and "
            "fields selected.",
            f'sum(increase(id_monitor_findings_total{{{AGENT_FIELD}, rule="isolation_breach"}}[$__range]))',
            "short",
            thresholds=[(None, "green"), (1, "red")],
            links=[{"title": "Runbook: isolation breach", "url": runbook("IdMonitorIsolationBreach")}],
        ),
        6,
        5,
    )
    lay.add(
        stat(
            "Violation ratio now",
            "Answers: what share of the IDs checked right now are violations? Violation findings "
            "(malformed messages excluded) per checked ID, over the last rate interval, worst job. "
            "Budget 0.01%; the fast page fires at 0.144% (14.4x) held for an hour.",
            f"max({VIOLATION_RATIO})",
            "percentunit",
            thresholds=[(None, "green"), (BUDGET, "yellow"), (14.4 * BUDGET, "red")],
            links=[{"title": "Runbook: fast burn", "url": runbook("IdMonitorViolationBurnRateFast")}],
        ),
        6,
        5,
    )
    lay.add(
        stat(
            "Budget burn rate now",
            "Answers: how many times faster than the objective allows is the error budget being spent? "
            "1x spends exactly the budget; 6x over 6h and 14.4x over 1h page. Worst job.",
            f"max({VIOLATION_RATIO}) / {BUDGET}",
            "suffix:x",
            thresholds=[(None, "green"), (1, "yellow"), (6, "orange"), (14.4, "red")],
        ),
        6,
        5,
    )
    lay.add(
        stat(
            "Agents up",
            "Answers: can Prometheus scrape every selected id-monitor process? Lowest `up` among the "
            "selected targets: 1 all up, 0 at least one down (IdMonitorAgentDown pages after 5 minutes).",
            f"min(up{{{AGENT}}})",
            "none",
            thresholds=[(None, "red"), (1, "green")],
            mappings=[{"type": "value", "options": {"0": {"text": "DOWN"}, "1": {"text": "UP"}}}],
            links=[{"title": "Runbook: agent down", "url": runbook("IdMonitorAgentDown")}],
        ),
        6,
        5,
    )
    lay.add(
        timeseries(
            "Violation ratio vs budget",
            "Answers: is the share of invalid IDs within the 99.99% objective, per job, over time? "
            "Violation findings per checked ID. Threshold lines: budget 0.01%, slow page 0.06% (6x), "
            "fast page 0.144% (14.4x).",
            [(VIOLATION_RATIO, "{{job}}")],
            "percentunit",
            thresholds=[(None, "green"), (BUDGET, "yellow"), (6 * BUDGET, "orange"), (14.4 * BUDGET, "red")],
            links=[{"title": "Runbook: slow burn", "url": runbook("IdMonitorViolationBurnRateSlow")}],
        ),
        12,
        8,
    )
    lay.add(
        timeseries(
            "Isolation breaches",
            "Answers: when, where and in which field did IDs of another user appear? Breaches per rate "
            "interval, by job and field. Every bar is a page.",
            [
                (
                    f'sum by (job, field) (increase(id_monitor_findings_total{{{AGENT_FIELD}, rule="isolation_breach"}}[{RATE}]))',
                    "{{job}} {{field}}",
                )
            ],
            "short",
            bars=True,
            links=[{"title": "Runbook: isolation breach", "url": runbook("IdMonitorIsolationBreach")}],
        ),
        12,
        8,
    )

    lay.row("IDs and findings")
    lay.add(
        timeseries(
            "IDs checked by status, per job and field",
            "Answers: how many IDs per second does each job check in each field, and are they target, "
            "legacy or unknown formats? Stacked per job, field and status.",
            [(ids_rate("job, field, status"), "{{job}} {{field}} {{status}}")],
            "cps",
            stack=True,
        ),
        12,
        9,
    )
    lay.add(
        timeseries(
            "Migration share (target / all), per job and field",
            "Answers: how far has each field moved to the target format, as seen in live traffic? "
            "Target-format IDs over all IDs checked, per job and field; 100% is migrated.",
            [(share("target", "job, field"), "{{job}} {{field}}")],
            "percentunit",
            maximum=1,
            links=[{"title": "Migration dashboard", "url": "/d/id-monitor-migration"}],
        ),
        12,
        9,
    )
    lay.add(
        table(
            "Top rules in range",
            "Answers: which policy rules produce the most findings in the selected time range, and with "
            "which severity? The ten largest counts over the range.",
            f"topk(10, sum by (rule, severity) (increase(id_monitor_findings_total{{{AGENT_FIELD}}}[$__range])))",
            "short",
            ["rule", "severity"],
        ),
        8,
        9,
    )
    lay.add(
        timeseries(
            "Findings by rule",
            "Answers: which rules fire, and since when? Findings per second by rule and severity.",
            [
                (
                    f"sum by (rule, severity) (rate(id_monitor_findings_total{{{AGENT_FIELD}}}[{RATE}]))",
                    "{{rule}} ({{severity}})",
                )
            ],
            "cps",
        ),
        16,
        9,
    )

    lay.row("Unknown IDs")
    lay.add(
        table(
            "Top unknown ID shapes",
            "Answers: what do the IDs the schema does not know look like? The agent's top shapes of "
            "unknown IDs per field (epoch times, counters, hex and words as classes; a literal word "
            "only when enough distinct IDs share it), as IDs seen since the agent started. Turn a "
            "legitimate shape into a schema format: docs/discover.md.",
            f'topk(10, sum by (field, shape) (id_monitor_unknown_shapes{{{AGENT_FIELD}, shape!="other"}}))',
            "short",
            ["field", "shape"],
        ),
        24,
        8,
    )

    lay.row("Delivery latency")
    for quantile, label in ((0.5, "p50"), (0.95, "p95")):
        lay.add(
            timeseries(
                f"ID age {label} by field",
                f"Answers: how long after an ID was minted does it reach the monitor ({label})? Observed "
                "time minus the timestamp embedded in the ID, per field. For per-message IDs (request, "
                "event, message, error, tool) this is delivery latency, target under 100 ms; thread, "
                "run, session and user IDs live long, so theirs is their age.",
                [
                    (
                        (
                            f"histogram_quantile({quantile}, sum by (field, le) "
                            f"(rate(id_monitor_id_age_seconds_bucket{{{AGENT_FIELD}}}[{RATE}])))"
                        ),
                        "{{field}}",
                    )
                ],
                "s",
                thresholds=[(None, "green"), (0.1, "red")] if quantile == 0.95 else None,
                links=[{"title": "Runbook: ID age", "url": runbook("IdMonitorIdAgeHigh")}],
            ),
            12,
            8,
        )

    lay.row("Agent health")
    lay.add(
        timeseries(
            "Messages by result",
            "Answers: is the agent reading traffic, and how much of it is unreadable? Messages per second "
            "by job, instance and result (ok, malformed, skipped).",
            [
                (
                    f"sum by (job, instance, result) (rate(id_monitor_messages_total{{{AGENT}}}[{RATE}]))",
                    "{{instance}} {{result}}",
                )
            ],
            "cps",
            stack=True,
            links=[{"title": "Runbook: malformed messages", "url": runbook("IdMonitorMalformedMessagesRising")}],
        ),
        8,
        8,
    )
    lay.add(
        timeseries(
            "Consumer lag",
            "Answers: how far behind the end of its Kafka partitions is each agent? Messages not yet "
            "read, summed per topic. Above 10000 for 15 minutes opens a ticket.",
            [
                (
                    f"sum by (instance, topic) (id_monitor_consumer_lag_messages{{{AGENT}}})",
                    "{{instance}} {{topic}}",
                )
            ],
            "short",
            thresholds=[(None, "green"), (10000, "red")],
            links=[{"title": "Runbook: consumer lag", "url": runbook("IdMonitorConsumerLagHigh")}],
        ),
        8,
        8,
    )
    lay.add(
        timeseries(
            "Scrape up",
            "Answers: which agent processes could Prometheus scrape, and when did one go away? `up` per "
            "instance: 1 scraped, 0 failed.",
            [(f"up{{{AGENT}}}", "{{instance}}")],
            "none",
            maximum=1,
            links=[{"title": "Runbook: agent down", "url": runbook("IdMonitorAgentDown")}],
        ),
        8,
        8,
    )

    lay.row("Rollout: revisions side by side")
    rollout_note = (
        " Split by the `revision` label: the agent's (its `revision` section) or one relabelled from "
        "a pod label (docs/rollout.md); without either, one unlabelled line. `id-monitor verdict` "
        "decides with the same counts."
    )
    lay.add(
        timeseries(
            "IDs checked by revision",
            "Answers: how is the traffic split between the revisions of a rollout (0 / 10 / 50 / 100 %)? "
            "IDs checked per second by revision." + rollout_note,
            [(ids_rate("revision"), "{{revision}}")],
            "cps",
            stack=True,
        ),
        6,
        8,
    )
    lay.add(
        timeseries(
            "Violation ratio by revision",
            "Answers: does the new revision emit more invalid IDs than the old one? Violation findings "
            "(malformed excluded) per checked ID, by revision." + rollout_note,
            [(
                f'sum by (revision) (rate(id_monitor_findings_total{{{AGENT_FIELD}, severity="violation", '
                f'rule!="malformed"}}[{RATE}]))\n/\n{ids_rate("revision")}',
                "{{revision}}",
            )],
            "percentunit",
            links=[{"title": "Runbook: verdict failed", "url": f"{RUNBOOKS}#a-rollout-verdict-failed"}],
        ),
        6,
        8,
    )
    lay.add(
        timeseries(
            "Unknown share by revision",
            "Answers: did the new revision start writing an ID format the schema does not know? Share "
            "of IDs with status unknown, by revision." + rollout_note,
            [(share("unknown", "revision"), "{{revision}}")],
            "percentunit",
            links=[{"title": "Runbook: verdict failed", "url": f"{RUNBOOKS}#a-rollout-verdict-failed"}],
        ),
        6,
        8,
    )
    lay.add(
        timeseries(
            "Isolation breaches by revision",
            "Answers: did any revision hand a user another user's ID? Breaches per rate window, by "
            "revision; one on the new revision fails its verdict at once." + rollout_note,
            [(
                f'sum by (revision) (increase(id_monitor_findings_total{{{AGENT_FIELD}, '
                f'rule="isolation_breach"}}[{RATE}]))',
                "{{revision}}",
            )],
            "short",
            bars=True,
            thresholds=[(None, "green"), (1, "red")],
            links=[{"title": "Runbook: isolation breach", "url": runbook("IdMonitorIsolationBreach")}],
        ),
        6,
        8,
    )
    lay.add(
        timeseries(
            "Legacy share by revision and field",
            "Answers: does the new revision bring legacy IDs back in a field? Share of legacy IDs per "
            "revision and field." + rollout_note,
            [(share("legacy", "revision, field"), "{{revision}} {{field}}")],
            "percentunit",
        ),
        24,
        8,
    )

    lay.row("Runbooks")
    lines = "\n".join(f"- [{name}]({runbook(name)}): {what}" for name, what in ALERTS)
    lay.add(
        text(
            "Runbooks",
            "Answers: what to do when an id-monitor alert fires. One link per alert to its runbook "
            "(meaning, first checks, likely causes, safe silencing).",
            lines,
        ),
        24,
        7,
    )
    return dashboard(
        "id-monitor-overview",
        "id-monitor / Overview",
        "On-call view of ID validity: the 99.99% objective, isolation breaches, formats, latency and "
        "agent health. Panel by panel: docs/dashboards.md.",
        lay,
        AGENT_VARIABLES,
        "now-6h",
        ["id-monitor"],
        [
            {"title": "Migration", "type": "link", "url": "/d/id-monitor-migration", "icon": "dashboard"},
            {"title": "Runbooks", "type": "link", "url": RUNBOOKS, "icon": "doc", "targetBlank": True},
        ],
    )


# -- migration ---------------------------------------------------------------------------------


def migration() -> dict[str, Any]:
    lay = Layout()
    lay.row("Live traffic: what the agents see")
    lay.add(
        bargauge(
            "Target share now, per job and field",
            "Answers: which fields are done and which lag behind? Share of target-format IDs over all IDs "
            "checked, per job and field, over the last rate interval.",
            share("target", "job, field"),
            "{{job}} {{field}}",
            "percentunit",
            maximum=1,
            thresholds=[(None, "red"), (0.5, "yellow"), (0.99, "green")],
        ),
        8,
        10,
    )
    lay.add(
        timeseries(
            "Migration progress per job and field",
            "Answers: how has the target-format share of each field moved over the days? Target IDs over "
            "all IDs checked, per job and field; it should only go up.",
            [(share("target", "job, field"), "{{job}} {{field}}")],
            "percentunit",
            maximum=1,
            interval="5m",
        ),
        16,
        10,
    )
    lay.add(
        timeseries(
            "Legacy share per job and field",
            "Answers: where are old-format IDs (uuid4, bare hex, old prefixes) still produced? Legacy IDs "
            "over all IDs checked, per job and field; a rise means a producer went back to them.",
            [(share("legacy", "job, field"), "{{job}} {{field}}")],
            "percentunit",
            maximum=1,
            interval="5m",
            links=[{"title": "Runbook: legacy share rising", "url": runbook("IdMonitorLegacyShareRising")}],
        ),
        12,
        9,
    )
    lay.add(
        timeseries(
            "Unknown share per job and field",
            "Answers: how many IDs match no known format at all (placeholders like `undefined`, typos, "
            "foreign IDs)? Unknown IDs over all IDs checked, per job and field.",
            [(share("unknown", "job, field"), "{{job}} {{field}}")],
            "percentunit",
            maximum=1,
            interval="5m",
        ),
        12,
        9,
    )
    lay.add(
        timeseries(
            "Legacy IDs by format",
            "Answers: which old formats remain, and how often? Legacy IDs per second by format and field: "
            "tells which producer pattern (uuid4, uuid4_hex, hex8, old prefixes) to chase next.",
            [(ids_rate("format, field", ', status="legacy"'), "{{format}} {{field}}")],
            "cps",
            stack=True,
            interval="5m",
        ),
        24,
        8,
    )

    lay.row("Mappings: legacy to target pairs (live)")
    lay.add(
        timeseries(
            "Mapping conflicts and owner mismatches",
            "Answers: is every mapping still 1:1 and owned? Per mapping (the finding's field) and rule: "
            "a legacy ID seen with two targets or a target with two legacy IDs (mapping_conflict), a "
            "target carrying another user's owner (mapping_owner_mismatch). Any point pages.",
            [(f'sum by (field, rule) (increase(id_monitor_findings_total{{{AGENT}, '
              f'rule=~"mapping_conflict|mapping_owner_mismatch"}}[{RATE}]))', "{{field}} {{rule}}")],
            "short",
            bars=True,
            interval="5m",
            links=[{"title": "Runbook: mapping conflict", "url": runbook("IdMonitorMappingConflict")}],
        ),
        8,
        8,
    )
    lay.add(
        timeseries(
            "Malformed mapping pairs",
            "Answers: are pairs well-formed? Pairs per second whose legacy side is not a legacy ID, "
            "whose target is not a target of the expected id_type, or whose target is missing, per mapping.",
            [(f'sum by (field) (rate(id_monitor_findings_total{{{AGENT}, rule="mapping_malformed"}}[{RATE}]))',
              "{{field}}")],
            "cps",
            interval="5m",
            links=[{"title": "Runbook: mapping malformed", "url": runbook("IdMonitorMappingMalformed")}],
        ),
        8,
        8,
    )
    lay.add(
        timeseries(
            "Mapping coverage",
            "Answers: do the legacy IDs still seen in live traffic have a mapping? Share of the legacy "
            "IDs in each mapping's covered fields that the mapping knows, over the rate interval (the "
            "alert judges the last hour).",
            [(f'sum by (mapping) (rate(id_monitor_mapping_legacy_ids_total{{{AGENT}, covered="true"}}[{RATE}]))'
              f' / sum by (mapping) (rate(id_monitor_mapping_legacy_ids_total{{{AGENT}}}[{RATE}]))', "{{mapping}}")],
            "percentunit",
            maximum=1,
            thresholds=[(None, "red"), (0.99, "green")],
            interval="5m",
            links=[{"title": "Runbook: mapping coverage low", "url": runbook("IdMonitorMappingCoverageLow")}],
        ),
        8,
        8,
    )

    lay.row("Code: uuid4 call sites left (id-monitor scan)")
    lay.add(
        bargauge(
            "Call sites left per service",
            "Answers: how many uuid4 call sites remain in each service's code? From `id-monitor scan "
            "--prometheus` (textfile collector), all scopes; production and test split in the next panel.",
            f"sum by (service) (id_monitor_scan_call_sites{{{SCAN}}})",
            "{{service}}",
            "short",
            thresholds=[(None, "green"), (1, "orange")],
        ),
        8,
        9,
    )
    lay.add(
        timeseries(
            "Call sites over time per service and scope",
            "Answers: is the code migration moving, per service, in production code and in tests? uuid4 "
            "call sites found by each scan run.",
            [
                (
                    f"sum by (service, scope) (id_monitor_scan_call_sites{{{SCAN}}})",
                    "{{service}} {{scope}}",
                )
            ],
            "short",
            interval="5m",
        ),
        16,
        9,
    )
    lay.add(
        bargauge(
            "Call sites by pattern",
            "Answers: what shape do the remaining call sites have (str(), .hex, truncated .hex[:N], "
            "f-string, bare)? Truncated hex needs the most care when migrating.",
            f"sum by (pattern) (id_monitor_scan_call_sites{{{SCAN}}})",
            "{{pattern}}",
            "short",
        ),
        8,
        8,
    )
    lay.add(
        timeseries(
            "Files per service by state",
            "Answers: how many files per service were scanned, still have call sites, or were skipped "
            "(unreadable, syntax errors)? From the scanner's file counts.",
            [
                (
                    f"sum by (service, state) (id_monitor_scan_files{{{SCAN}}})",
                    "{{service}} {{state}}",
                )
            ],
            "short",
            interval="5m",
        ),
        16,
        8,
    )
    return dashboard(
        "id-monitor-migration",
        "id-monitor / Migration",
        "Migration progress to the target ID formats: live share per service and field over days, "
        "legacy and unknown shares, legacy to target mappings, and uuid4 call sites left in the code. "
        "Panel by panel: "
        "docs/dashboards.md.",
        lay,
        AGENT_VARIABLES + SCAN_VARIABLES,
        "now-30d",
        ["id-monitor", "migration"],
        [
            {"title": "Overview", "type": "link", "url": "/d/id-monitor-overview", "icon": "dashboard"},
            {"title": "Runbooks", "type": "link", "url": RUNBOOKS, "icon": "doc", "targetBlank": True},
        ],
    )


DASHBOARDS = {"id-monitor-overview.json": overview, "id-monitor-migration.json": migration}


def render(build) -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for name, build in DASHBOARDS.items():
        path = HERE / name
        text_out = render(build)
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text_out:
                stale.append(name)
        else:
            path.write_text(text_out, encoding="utf-8")
    if stale:
        print(f"out of date, run python dashboards/generate.py: {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
