"""The offline manifest validator (deploy/validate.py): strict on built-in kinds and on every
bundled custom resource, failing on kinds it has no schema for."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.deploy_tools import load_validator

validate = load_validator()
VALIDATOR = validate.Validator(kube_version="1.33")

DEPLOYMENT = yaml.safe_load("""
apiVersion: apps/v1
kind: Deployment
metadata: {name: agent, labels: {app: agent}}
spec:
  replicas: 2
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers:
        - name: agent
          image: id-monitor:0.1.0
          args: [run]
          ports: [{name: metrics, containerPort: 9464}]
          readinessProbe: {httpGet: {path: /readyz, port: metrics}, periodSeconds: 10}
          resources: {limits: {memory: 256Mi}}
""")

# One valid example of each bundled custom resource, and one change that must make it invalid.
CUSTOM = {
    "PodMonitor": ("""
apiVersion: monitoring.coreos.com/v1
kind: PodMonitor
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  podMetricsEndpoints: [{port: metrics, interval: 30s}]
""", ("spec", "podMetricsEndpoints", 0, "intervall"), "30s"),
    "ServiceMonitor": ("""
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  endpoints: [{port: metrics, interval: 30s}]
""", ("spec", "endpoints", 0, "interval"), 30),
    "PrometheusRule": ("""
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata: {name: agent}
spec:
  groups:
    - name: g
      rules: [{alert: Down, expr: up == 0, for: 5m, labels: {severity: page}}]
""", ("spec", "groups", 0, "rules", 0, "severity"), "page"),
    "AnalysisTemplate": ("""
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: id-errors}
spec:
  args: [{name: job}]
  metrics:
    - name: violation-ratio
      interval: 1m
      successCondition: result[0] < 0.0001
      provider:
        prometheus: {address: "http://prometheus:9090", query: "sum(rate(id_monitor_ids_total[5m]))"}
""", ("spec", "metrics", 0, "sucessCondition"), "true"),
    "Rollout": ("""
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: service}
spec:
  replicas: 3
  selector: {matchLabels: {app: service}}
  template:
    metadata: {labels: {app: service}}
    spec:
      containers: [{name: app, image: "service:1", ports: [{containerPort: 8080}]}]
  strategy:
    canary:
      steps: [{setWeight: 20}, {pause: {duration: 1m}}]
""", ("spec", "strategy", "canary", "steps", 0, "setWeight"), "20"),
    "MetricTemplate": ("""
apiVersion: flagger.app/v1beta1
kind: MetricTemplate
metadata: {name: id-errors}
spec:
  provider: {type: prometheus, address: "http://prometheus:9090"}
  query: sum(rate(id_monitor_findings_total[1m]))
""", ("spec", "provider", "adress"), "http://prometheus:9090"),
    "Canary": ("""
apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: service}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: service}
  service: {port: 80}
  analysis:
    interval: 1m
    threshold: 5
    stepWeight: 10
    maxWeight: 50
    metrics: [{name: id-errors, templateRef: {name: id-errors}, thresholdRange: {max: 0.0001}, interval: 1m}]
""", ("spec", "service", "port"), "80"),
}


def set_at(doc: dict, path: tuple, value: Any) -> dict:
    changed = copy.deepcopy(doc)
    node = changed
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return changed


def problems_of(doc: Any) -> list[str]:
    return [str(p) for p in VALIDATOR.validate_document(doc, "test", 1)]


def test_a_valid_deployment_passes() -> None:
    assert problems_of(DEPLOYMENT) == []


def test_unknown_field_and_wrong_type_fail_with_their_path() -> None:
    container = ("spec", "template", "spec", "containers", 0)
    probe = set_at(DEPLOYMENT, (*container, "readinessProbe", "initalDelaySeconds"), 5)
    assert problems_of(probe) == [(
        "test: document 1 (Deployment/agent) at $.spec.template.spec.containers[0].readinessProbe: "
        "Additional properties are not allowed ('initalDelaySeconds' was unexpected)")]
    port = set_at(DEPLOYMENT, (*container, "ports", 0, "containerPort"), "9464")
    assert problems_of(port) == [(
        "test: document 1 (Deployment/agent) at $.spec.template.spec.containers[0].ports[0].containerPort: "
        "'9464' is not of type 'integer'")]


@pytest.mark.parametrize("kind", CUSTOM)
def test_each_bundled_custom_resource_is_checked_strictly(kind: str) -> None:
    text, path, bad_value = CUSTOM[kind]
    doc = yaml.safe_load(text)
    assert problems_of(doc) == []
    broken = problems_of(set_at(doc, path, bad_value))
    assert len(broken) == 1 and f"({kind}/" in broken[0], broken
    assert problems_of(set_at(doc, ("spec", "zzUnknown"), 1)) != []
    assert problems_of(set_at(doc, ("metadata", "labelz"), {})) != []


def test_a_kind_without_a_schema_fails() -> None:
    doc = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    [problem] = problems_of(doc)
    assert "no schema for example.com/v1 Widget" in problem
    assert problems_of({"apiVersion": "v1", "kind": "Pods", "metadata": {"name": "p"}}) != []


def test_extra_schema_directory_adds_a_kind(tmp_path: Path) -> None:
    schema = {"type": "object", "additionalProperties": False, "required": ["apiVersion", "kind"],
              "properties": {"apiVersion": {"enum": ["example.com/v1"]}, "kind": {"enum": ["Widget"]},
                             "metadata": {"type": "object"}, "size": {"type": "integer"}}}
    (tmp_path / "widget-v1.json").write_text(json.dumps(schema))
    validator = validate.Validator(kube_version="1.33", schema_dirs=[tmp_path])
    good = {"apiVersion": "example.com/v1", "kind": "Widget", "size": 3}
    assert validator.validate_document(good, "t", 1) == []
    assert validator.validate_document({**good, "size": "3"}, "t", 1) != []


def test_yaml_level_problems() -> None:
    assert "duplicate key 'replicas'" in str(VALIDATOR.validate_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec:\n  replicas: 1\n  replicas: 2\n"))
    assert VALIDATOR.validate_text("---\n# nothing\n")[0].message == "no Kubernetes objects"
    assert "not a mapping" in VALIDATOR.validate_text("- a\n- b\n")[0].message
    assert "apiVersion and kind" in VALIDATOR.validate_text("kind: Pod\n")[0].message
    assert "not valid YAML" in VALIDATOR.validate_text("a: [\n")[0].message


def test_cli_exit_codes(tmp_path: Path, capsys) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(DEPLOYMENT))
    assert validate.main([str(good)]) == 0
    assert "1 objects valid" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump_all([DEPLOYMENT, {"apiVersion": "x/v1", "kind": "Y", "metadata": {}}]))
    assert validate.main([str(bad)]) == 1
    assert "document 2 (Y/?)" in capsys.readouterr().out
    assert validate.main([str(tmp_path / "absent.yaml")]) == 2
    assert validate.main(["--kube-version", "9.99", str(good)]) == 2
    assert validate.main(["--kube-version", "one", str(good)]) == 2
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "x.json").write_text("{}")
    assert validate.main(["--schemas", str(tmp_path / "schemas"), str(good)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 4 and all(line.startswith("validate-manifests: ") for line in err.splitlines())


FREE_FORM = {"labels", "annotations", "matchLabels", "limits", "requests", "nodeSelector", "data"}


def struct_paths(node: Any, path: tuple = ()) -> list[tuple]:
    """Paths of every mapping whose keys the schema fixes (not label maps and the like)."""
    found = []
    if isinstance(node, dict):
        if not path or path[-1] not in FREE_FORM:
            found.append(path)
        for key, value in node.items():
            found += struct_paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += struct_paths(value, (*path, index))
    return found


@settings(max_examples=60, deadline=None)
@given(where=st.sampled_from(struct_paths(DEPLOYMENT)),
       name=st.text("abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=12))
def test_any_unknown_field_anywhere_fails(where: tuple, name: str) -> None:
    node = DEPLOYMENT
    for key in where:
        node = node[key]
    field = "zz" + name  # no Kubernetes field starts with "zz"
    assert field not in node
    assert problems_of(set_at(DEPLOYMENT, (*where, field), "x")) != []


def test_the_script_reads_stdin() -> None:
    import subprocess

    script = str(Path(__file__).resolve().parent.parent / "scripts" / "validate-manifests")
    good = yaml.safe_dump(DEPLOYMENT)
    done = subprocess.run([script, "-"], input=good, capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "1 objects valid" in done.stdout, done.stderr
    bad = good.replace("containerPort: 9464", "containerPort: '9464'")
    done = subprocess.run([script, "-"], input=bad, capture_output=True, text=True, check=False)
    assert done.returncode == 1 and done.stdout.startswith("<stdin>: document 1 (Deployment/agent)"), done.stdout
