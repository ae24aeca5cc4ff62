"""The progressive-delivery templates in deploy/rollouts/: valid manifests, PromQL that Prometheus
parses, conditions that survive an empty result, hashes from podTemplateHashValue, and a Job whose
arguments the real `id-monitor verdict` accepts."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.deploy_tools import load_validator

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = sorted((ROOT / "deploy" / "rollouts").glob("*.yaml"))
PROMTOOL = shutil.which("promtool")
validate = load_validator()

# Values Argo Rollouts and Flagger put in for their template variables.
ARGO_ARGS = {"canary-hash": "7c9b8d6f4", "stable-hash": "6d4f8b7c5", "prometheus-address": "http://p:9090",
             "job": "id-monitor", "window": "5m", "min-ids": "300"}
FLAGGER_VARS = {"namespace": "shop", "target": "example-service", "interval": "5m"}


def documents() -> list[dict]:
    return [doc for path in TEMPLATES for doc in yaml.safe_load_all(path.read_text()) if doc]


def of_kind(kind: str) -> list[dict]:
    return [doc for doc in documents() if doc["kind"] == kind]


def argo_substitute(text: str) -> str:
    return re.sub(r"\{\{args\.([a-z-]+)\}\}", lambda m: ARGO_ARGS[m.group(1)], text)


def flagger_substitute(text: str) -> str:
    return re.sub(r"\{\{ (\w+) \}\}", lambda m: FLAGGER_VARS[m.group(1)], text)


def queries() -> list[tuple[str, str]]:
    found = []
    for template in of_kind("AnalysisTemplate"):
        for metric in template["spec"]["metrics"]:
            prometheus = metric["provider"].get("prometheus")
            if prometheus:
                found.append((f"{template['metadata']['name']}/{metric['name']}", argo_substitute(prometheus["query"])))
    for template in of_kind("MetricTemplate"):
        found.append((template["metadata"]["name"], flagger_substitute(template["spec"]["query"])))
    return found


def test_every_template_is_a_valid_manifest() -> None:
    validator = validate.Validator(kube_version="1.33")
    problems = [str(p) for path in TEMPLATES for p in validator.validate_text(path.read_text(), path.name)]
    assert problems == []
    assert {doc["kind"] for doc in documents()} >= {"AnalysisTemplate", "MetricTemplate", "Canary", "Rollout"}


def test_the_validator_would_catch_a_misspelt_field() -> None:
    validator = validate.Validator(kube_version="1.33")
    text = (ROOT / "deploy/rollouts/argo-analysistemplate.yaml").read_text()
    broken = text.replace("successCondition:", "sucessCondition:", 1)
    assert [str(p) for p in validator.validate_text(broken, "broken")]


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (scripts/bootstrap installs it)")
def test_every_query_parses_with_promtool(tmp_path: Path) -> None:
    found = queries()
    assert len(found) >= 8
    rules = {"groups": [{"name": "templates", "rules": [
        {"record": f"template:query_{i}", "expr": query} for i, (_, query) in enumerate(found)]}]}
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump(rules))
    done = subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    # and promtool does reject a broken one, so the check is live
    rules["groups"][0]["rules"][0]["expr"] = found[0][1].replace(")", "", 1)
    path.write_text(yaml.safe_dump(rules))
    assert subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True, timeout=60, check=False).returncode != 0


def test_argo_conditions_survive_an_empty_result_and_breaches_fail_at_once() -> None:
    metrics = {m["name"]: m for t in of_kind("AnalysisTemplate") for m in t["spec"]["metrics"]}
    for name, metric in metrics.items():
        if "prometheus" not in metric["provider"]:
            continue
        condition = metric["successCondition"]
        if name == "canary-traffic":  # no traffic: neither success nor failure (inconclusive)
            assert condition.startswith("len(result) > 0 &&") and metric["failureCondition"] == "false"
        else:
            assert condition.startswith("len(result) == 0 || result[0]"), name
    assert metrics["isolation-breaches"]["failureLimit"] == 0
    assert metrics["isolation-breaches"]["successCondition"].endswith("result[0] == 0")


def test_the_rollout_passes_both_hashes_from_pod_template_hash_values() -> None:
    (rollout,) = of_kind("Rollout")
    analysis = rollout["spec"]["strategy"]["blueGreen"]["prePromotionAnalysis"]
    args = {a["name"]: a["valueFrom"]["podTemplateHashValue"] for a in analysis["args"]}
    assert args == {"canary-hash": "Latest", "stable-hash": "Stable"}
    names = {t["metadata"]["name"] for t in of_kind("AnalysisTemplate")}
    assert {t["templateName"] for t in analysis["templates"]} <= names
    for template in of_kind("AnalysisTemplate"):
        declared = {a["name"] for a in template["spec"]["args"]}
        used = set(re.findall(r"\{\{args\.([a-z-]+)\}\}", yaml.safe_dump(template)))
        assert used <= declared, template["metadata"]["name"]
        assert {"canary-hash", "stable-hash"} <= declared


def test_flagger_canary_uses_the_metric_templates() -> None:
    (canary,) = of_kind("Canary")
    names = {t["metadata"]["name"] for t in of_kind("MetricTemplate")}
    used = {m["templateRef"]["name"] for m in canary["spec"]["analysis"]["metrics"]}
    assert used == names
    breach = next(m for m in canary["spec"]["analysis"]["metrics"] if "breach" in m["name"])
    assert breach["thresholdRange"] == {"max": 0}


def test_the_verdict_job_arguments_are_accepted_by_the_cli() -> None:
    (template,) = [t for t in of_kind("AnalysisTemplate") if "job" in t["spec"]["metrics"][0]["provider"]]
    container = template["spec"]["metrics"][0]["provider"]["job"]["spec"]["template"]["spec"]["containers"][0]
    args = [argo_substitute(a).replace("http://p:9090", "http://127.0.0.1:1") for a in container["args"]]
    assert args[0] == "verdict"
    done = subprocess.run([sys.executable, "-m", "id_monitor", *args, "--timeout", "2"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)
    # the arguments parse; the (absent) Prometheus is the only problem: one line, exit 2
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().startswith("error: cannot reach Prometheus") and "\n" not in done.stderr.strip()
