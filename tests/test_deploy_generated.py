"""One source each: the chart's PrometheusRule is alerts/id-monitor.rules.yml and its dashboards
ConfigMaps are dashboards/*.json, unchanged (deploy/generate.py copies them; --check finds drift)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.deploy_tools import ROOT, find, objects, render

spec = importlib.util.spec_from_file_location("deploy_generate", ROOT / "deploy" / "generate.py")
generate = importlib.util.module_from_spec(spec)
spec.loader.exec_module(generate)

RULES = ROOT / "alerts" / "id-monitor.rules.yml"
DASHBOARDS = sorted((ROOT / "dashboards").glob("*.json"))


def test_committed_copies_match_their_sources() -> None:
    assert generate.drift() == []
    done = subprocess.run([sys.executable, str(ROOT / "deploy" / "generate.py"), "--check"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def copy_sources(root: Path) -> None:
    for relative in ("alerts/id-monitor.rules.yml", "deploy/helm/id-monitor/files"):
        source = ROOT / relative
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if source.is_dir() else shutil.copy)(source, target)
    (root / "dashboards").mkdir()
    for path in DASHBOARDS:
        shutil.copy(path, root / "dashboards" / path.name)


def test_drift_is_found_and_regenerated(tmp_path: Path) -> None:
    copy_sources(tmp_path)
    assert generate.drift(tmp_path) == []
    rules = tmp_path / "alerts" / "id-monitor.rules.yml"
    rules.write_text(rules.read_text().replace("> 10000", "> 20000"))
    (tmp_path / "dashboards" / "id-monitor-new.json").write_text("{}\n")
    (tmp_path / "dashboards" / DASHBOARDS[0].name).unlink()
    problems = generate.drift(tmp_path)
    assert len(problems) == 3, problems
    assert any("id-monitor.rules.yml: differs" in p for p in problems)
    assert any("id-monitor-new.json: missing" in p for p in problems)
    assert any(DASHBOARDS[0].name in p and "no source" in p for p in problems)
    generate.write(tmp_path)
    assert generate.drift(tmp_path) == []
    assert not (tmp_path / generate.CHART_FILES / "dashboards" / DASHBOARDS[0].name).exists()


@pytest.mark.helm
def test_rendered_prometheus_rule_is_the_rules_file() -> None:
    docs = objects(render(None, "prometheusRule.enabled=true"))
    rule = find(docs, "PrometheusRule")
    assert rule["spec"] == yaml.safe_load(RULES.read_text())
    # Alert templates reach Prometheus untouched by Helm's own templating.
    text = json.dumps(rule["spec"])
    assert "{{ $labels.job }}" in text and text.count("{{") == RULES.read_text().count("{{")


@pytest.mark.helm
def test_rendered_dashboards_are_the_dashboard_files() -> None:
    docs = objects(render(None, "dashboards.enabled=true"))
    maps = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-dashboard")]
    assert len(maps) == len(DASHBOARDS) > 0
    by_key = {key: value for m in maps for key, value in m["data"].items()}
    assert by_key == {path.name: path.read_text() for path in DASHBOARDS}
    for config_map in maps:
        assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
        for value in config_map["data"].values():
            assert json.loads(value)["uid"]

