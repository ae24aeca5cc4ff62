"""The alert rules and Alertmanager routing, checked by Prometheus' and Alertmanager's own tools.

- `promtool check rules` with the duplicate-rule lint fatal, and proof that the lint bites;
- `promtool test rules` on every unit-test file in alerts/tests (each alert firing and quiet,
  the low-traffic guard included), and proof that the guard test fails without the guard;
- conventions every alert must follow: severity page|ticket, summary, description, a runbook
  link to an anchor that exists in docs/runbooks.md;
- `amtool check-config` and `amtool config routes test` for every alert's labels: pages reach
  PagerDuty (and Slack), tickets only Slack; the inhibit rules name real alerts;
- a real Alertmanager running alerts/alertmanager.yml (secrets from temporary files, PagerDuty and
  Slack replaced by a local endpoint that records what it is sent): a page arrives at PagerDuty with
  the routing key from its file, a ticket only in Slack, and ratio alerts are inhibited while the
  agent of the same job is down.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.prometheus_server import (
    AlertmanagerServer,
    Capture,
    alertmanager_binary,
    start_alertmanager,
    start_capture,
)

ROOT = Path(__file__).resolve().parent.parent
ALERTS = ROOT / "alerts"
RULES = ALERTS / "id-monitor.rules.yml"
UNIT_TESTS = sorted((ALERTS / "tests").glob("*.yml"))
ALERTMANAGER = ALERTS / "alertmanager.yml"
RUNBOOKS = ROOT / "docs" / "runbooks.md"

pytestmark = pytest.mark.prometheus

PROMTOOL = shutil.which("promtool")
AMTOOL = shutil.which("amtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (Debian package prometheus; scripts/bootstrap installs it)")
needs_amtool = pytest.mark.skipif(AMTOOL is None, reason="amtool not installed (Debian package prometheus-alertmanager; scripts/bootstrap installs it)")


def run(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], check=False, capture_output=True, text=True, cwd=cwd, timeout=240)


def rule_groups() -> list[dict]:
    return yaml.safe_load(RULES.read_text())["groups"]


def alert_rules() -> list[dict]:
    return [rule for group in rule_groups() for rule in group["rules"] if "alert" in rule]


ALERT_NAMES = [rule["alert"] for rule in alert_rules()]


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lower case, punctuation dropped, spaces to -."""
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


def runbook_anchors() -> set[str]:
    return {
        github_anchor(line.lstrip("#"))
        for line in RUNBOOKS.read_text(encoding="utf-8").splitlines()
        if line.startswith("#")
    }


# -- promtool ---------------------------------------------------------------------------------


@needs_promtool
def test_rules_pass_promtool_check_with_fatal_duplicate_lint() -> None:
    done = run(PROMTOOL, "check", "rules", "--lint=duplicate-rules", "--lint-fatal", RULES)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


@needs_promtool
def test_duplicate_rule_lint_is_fatal(tmp_path: Path) -> None:
    """The same check fails on a copy with one recording rule duplicated: the lint is live."""
    doc = yaml.safe_load(RULES.read_text())
    doc["groups"][0]["rules"].append(dict(doc["groups"][0]["rules"][0]))
    broken = tmp_path / "rules.yml"
    broken.write_text(yaml.safe_dump(doc))
    done = run(PROMTOOL, "check", "rules", "--lint=duplicate-rules", "--lint-fatal", broken)
    assert done.returncode != 0
    assert "duplicate" in (done.stdout + done.stderr).lower()


@needs_promtool
@pytest.mark.parametrize("unit_test", UNIT_TESTS, ids=[p.name for p in UNIT_TESTS])
def test_promtool_unit_tests_pass(unit_test: Path) -> None:
    done = run(PROMTOOL, "test", "rules", unit_test, cwd=unit_test.parent)
    assert done.returncode == 0, done.stdout + done.stderr


@needs_promtool
@pytest.mark.slow
def test_low_traffic_guard_test_fails_without_the_guard(tmp_path: Path) -> None:
    """Remove the volume guard from the fast-burn page: the unit tests must catch it (the `tiny`
    job, 1 bad ID among 10, would page)."""
    doc = yaml.safe_load(RULES.read_text())
    fast = next(r for g in doc["groups"] for r in g["rules"] if r.get("alert") == "IdMonitorViolationBurnRateFast")
    kept, guard, _ = fast["expr"].partition(")\nand on (job)\n")
    assert guard, "the volume guard moved: update this test"
    fast["expr"] = kept + ")\n"
    alerts_copy = tmp_path / "alerts"
    (alerts_copy / "tests").mkdir(parents=True)
    (alerts_copy / RULES.name).write_text(yaml.safe_dump(doc, sort_keys=False))
    shutil.copy(ALERTS / "tests" / "slo_burn_rate.yml", alerts_copy / "tests")
    assert run(PROMTOOL, "check", "rules", alerts_copy / RULES.name).returncode == 0
    done = run(PROMTOOL, "test", "rules", "slo_burn_rate.yml", cwd=alerts_copy / "tests")
    assert done.returncode != 0
    assert 'job="tiny"' in done.stdout + done.stderr


def test_every_alert_has_a_firing_and_a_quiet_unit_test() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for path in UNIT_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    assert ALERT_NAMES
    assert set(ALERT_NAMES) - firing == set(), "alerts without a firing unit test"
    assert set(ALERT_NAMES) - quiet == set(), "alerts without a non-firing unit test"


# -- conventions ------------------------------------------------------------------------------


@pytest.mark.parametrize("rule", alert_rules(), ids=ALERT_NAMES)
def test_alert_has_severity_summary_description_and_runbook(rule: dict) -> None:
    assert rule["labels"]["severity"] in {"page", "ticket"}
    annotations = rule["annotations"]
    for key in ("summary", "description", "runbook_url"):
        assert annotations.get(key, "").strip(), f"{rule['alert']} has no {key}"
    url = annotations["runbook_url"]
    assert url.split("#")[0].endswith("docs/runbooks.md")
    anchor = url.split("#", 1)[1]
    assert anchor == rule["alert"].lower()
    assert anchor in runbook_anchors(), f"docs/runbooks.md has no section #{anchor}"


def test_isolation_breach_pages_without_delay() -> None:
    rule = next(r for r in alert_rules() if r["alert"] == "IdMonitorIsolationBreach")
    assert rule["labels"]["severity"] == "page"
    assert "for" not in rule


def test_slo_recording_rules_cover_every_window() -> None:
    recorded = {r["record"] for g in rule_groups() for r in g["rules"] if "record" in r}
    for window in ("5m", "30m", "1h", "6h", "3d"):
        assert f"job:id_monitor_violation_ratio:ratio_rate{window}" in recorded


def test_every_runbook_section_belongs_to_an_alert() -> None:
    """No stale runbooks: each level-2 heading names an alert that exists."""
    headings = [
        line[3:].strip() for line in RUNBOOKS.read_text(encoding="utf-8").splitlines() if line.startswith("## ")
    ]
    alerts_in_docs = [h for h in headings if h.startswith("IdMonitor")]
    assert sorted(alerts_in_docs) == sorted(ALERT_NAMES)


# -- Alertmanager -----------------------------------------------------------------------------


@needs_amtool
def test_alertmanager_config_is_valid() -> None:
    done = run(AMTOOL, "check-config", ALERTMANAGER)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def routed_receivers(labels: dict[str, str]) -> list[str]:
    done = run(
        AMTOOL, "config", "routes", "test", f"--config.file={ALERTMANAGER}",
        *[f"{k}={v}" for k, v in labels.items()],
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip().split(",")


@needs_amtool
@pytest.mark.parametrize("rule", alert_rules(), ids=ALERT_NAMES)
def test_alert_routes_to_its_receiver(rule: dict) -> None:
    labels = {"alertname": rule["alert"], "job": "id-monitor", **rule["labels"]}
    receivers = routed_receivers(labels)
    if rule["labels"]["severity"] == "page":
        assert receivers == ["pagerduty-id-monitor", "slack-id-monitor"]
    else:
        assert receivers == ["slack-id-monitor"]


@needs_amtool
def test_verify_receivers_rejects_a_wrong_route() -> None:
    """`amtool --verify.receivers` fails when a ticket is expected on PagerDuty: the check can fail."""
    done = run(
        AMTOOL, "config", "routes", "test", f"--config.file={ALERTMANAGER}",
        "--verify.receivers=pagerduty-id-monitor", "alertname=IdMonitorIdAgeHigh", "severity=ticket",
    )
    assert done.returncode != 0


def test_inhibit_rules_name_existing_alerts() -> None:
    config = yaml.safe_load(ALERTMANAGER.read_text())
    for rule in config["inhibit_rules"]:
        for matcher in rule["source_matchers"] + rule["target_matchers"]:
            match = re.fullmatch(r'alertname=~?"(.+)"', matcher)
            assert match, matcher
            pattern = re.compile(f"^(?:{match.group(1)})$")
            assert any(pattern.match(name) for name in ALERT_NAMES), f"{matcher} matches no alert"
    agent_down = next(r for r in config["inhibit_rules"] if "IdMonitorAgentDown" in r["source_matchers"][0])
    inhibited = re.fullmatch(r'alertname=~"(.+)"', agent_down["target_matchers"][0]).group(1)
    target = re.compile(f"^(?:{inhibited})$")
    for ratio_alert in ("IdMonitorViolationBurnRateFast", "IdMonitorViolationBurnRateSlow", "IdMonitorViolationBurnRateTicket"):
        assert target.match(ratio_alert), f"{ratio_alert} is not inhibited while the agent is down"
    assert not target.match("IdMonitorIsolationBreach")
    assert agent_down["equal"] == ["job"]


def test_receivers_read_secrets_from_files() -> None:
    """No key or webhook in the file itself: PagerDuty and Slack secrets come from mounted files."""
    config = yaml.safe_load(ALERTMANAGER.read_text())
    assert "slack_api_url" not in config["global"]
    assert config["global"]["slack_api_url_file"].startswith("/")
    pagerduty = next(r for r in config["receivers"] if r["name"] == "pagerduty-id-monitor")
    assert all("routing_key" not in c and "service_key" not in c for c in pagerduty["pagerduty_configs"])
    assert all(c["routing_key_file"].startswith("/") for c in pagerduty["pagerduty_configs"])


# -- a real Alertmanager ------------------------------------------------------------------------

ROUTING_KEY = "test-routing-key-not-a-real-one"


def local_config(directory: Path, capture: Capture) -> dict[str, Any]:
    """alerts/alertmanager.yml with its secret files written here, PagerDuty's and Slack's URLs
    pointed at `capture`, and every group_wait/group_interval cut to 1 s so the test need not wait.
    Routes, receivers and inhibit rules are untouched."""
    config = yaml.safe_load(ALERTMANAGER.read_text())
    slack_url_file, key_file = directory / "slack-webhook-url", directory / "pagerduty-routing-key"
    slack_url_file.write_text(f"{capture.url}/slack\n")
    key_file.write_text(f"{ROUTING_KEY}\n")
    config["global"]["slack_api_url_file"] = str(slack_url_file)
    for receiver in config["receivers"]:
        for pagerduty in receiver.get("pagerduty_configs", []):
            pagerduty["routing_key_file"] = str(key_file)
            pagerduty["url"] = f"{capture.url}/pagerduty"

    def quick(route: dict[str, Any]) -> None:
        route["group_wait"] = route["group_interval"] = "1s"
        for child in route.get("routes", []):
            quick(child)

    quick(config["route"])
    return config


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[tuple[AlertmanagerServer, Capture]]:
    if alertmanager_binary() is None:
        pytest.skip("alertmanager not installed (Debian package prometheus-alertmanager; scripts/bootstrap installs it)")
    capture = start_capture()
    server = start_alertmanager(tmp_path / "alertmanager", local_config(tmp_path, capture))
    try:
        yield server, capture
    finally:
        server.stop()
        capture.close()


def firing(alertname: str, **labels: str) -> dict[str, Any]:
    """An alert as Prometheus would send it: the rule's labels and annotations (templates left
    as written), plus the given labels."""
    rule = next(r for r in alert_rules() if r["alert"] == alertname)
    return {
        "labels": {"alertname": alertname, **rule["labels"], **labels},
        "annotations": dict(rule["annotations"]),
        "generatorURL": "http://127.0.0.1:9090/graph",
    }


def wait_until(what: str, probe: Callable[[], Any], timeout: float = 30) -> Any:
    from tests.support.wait import wait_until as wait

    return wait(probe, timeout, interval=0.2, message=what)


def test_live_alertmanager_pages_pagerduty_and_tickets_slack(alertmanager) -> None:
    server, capture = alertmanager
    server.post_alerts([
        firing("IdMonitorIsolationBreach", job="id-monitor", source="kafka:agent-events", field="connection_id"),
        firing("IdMonitorIdAgeHigh", job="id-monitor", source="kafka:agent-events", field="event_id"),
    ])
    pages = wait_until("a PagerDuty event", lambda: capture.posts("/pagerduty"))
    wait_until("two Slack messages", lambda: len(capture.posts("/slack")) >= 2)
    # Alertmanager says where each alert is routed: only the breach can ever reach PagerDuty.
    routed = {a["labels"]["alertname"]: {r["name"] for r in a["receivers"]} for a in server.alerts()}
    assert routed["IdMonitorIsolationBreach"] == {"pagerduty-id-monitor", "slack-id-monitor"}
    assert routed["IdMonitorIdAgeHigh"] == {"slack-id-monitor"}

    pages = capture.posts("/pagerduty")
    assert len(pages) == 1
    page = pages[0]
    assert page["routing_key"] == ROUTING_KEY
    assert page["event_action"] == "trigger"
    assert "ID owned by another user" in page["payload"]["summary"]
    assert any(link["href"].endswith("#idmonitorisolationbreach") for link in page["links"])

    slack = capture.posts("/slack")
    titles = sorted(a["title"] for message in slack for a in message["attachments"])
    assert len(titles) == 2
    assert any("ID owned by another user" in t for t in titles)
    assert any("p95 ID age" in t for t in titles)
    assert all(message["channel"] == "#id-monitor" for message in slack)


def test_live_alertmanager_inhibits_ratio_alerts_while_the_agent_is_down(alertmanager) -> None:
    server, _capture = alertmanager
    server.post_alerts([
        firing("IdMonitorAgentDown", job="id-monitor", instance="10.0.0.7:9464"),
        firing("IdMonitorViolationBurnRateFast", job="id-monitor"),
        firing("IdMonitorViolationBurnRateTicket", job="id-monitor"),
        firing("IdMonitorViolationBurnRateFast", job="chat-service"),
        firing("IdMonitorIsolationBreach", job="id-monitor", source="kafka:agent-events", field="connection_id"),
    ])
    alerts = wait_until("five alerts", lambda: (a := server.alerts()) and len(a) == 5 and a)
    state = {(a["labels"]["alertname"], a["labels"]["job"]): a["status"] for a in alerts}

    assert state[("IdMonitorViolationBurnRateFast", "id-monitor")]["state"] == "suppressed"
    assert state[("IdMonitorViolationBurnRateFast", "id-monitor")]["inhibitedBy"]
    assert state[("IdMonitorViolationBurnRateTicket", "id-monitor")]["inhibitedBy"]
    # another job's agent is fine: its ratio alert stands; a breach is never inhibited
    assert state[("IdMonitorViolationBurnRateFast", "chat-service")]["state"] == "active"
    assert state[("IdMonitorIsolationBreach", "id-monitor")]["state"] == "active"
    assert state[("IdMonitorAgentDown", "id-monitor")]["state"] == "active"
