"""The Helm chart: lint, render every ci/*-values.yaml, validate each manifest strictly offline,
and the probe semantics per mode (a sidecar must never take its application out of service)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from id_monitor.config import load_config
from id_monitor.config.kafka_consumer import KAFKA_CLIENTS
from tests.deploy_tools import CHART, CI_VALUES, find, helm, load_validator, objects, render

pytestmark = pytest.mark.helm

validate = load_validator()


@pytest.fixture(scope="module")
def validator():
    return validate.Validator(kube_version="1.33")


def agent_container(pod_spec: dict) -> dict:
    containers = pod_spec.get("containers", []) + pod_spec.get("initContainers", [])
    return next(c for c in containers if c["name"] == "id-monitor")


def test_every_mode_has_ci_values() -> None:
    modes = {yaml.safe_load(p.read_text()).get("mode", "deployment") for p in CI_VALUES}
    assert modes == {"deployment", "sidecar"}
    natives = [p for p in CI_VALUES if (yaml.safe_load(p.read_text()).get("sidecar") or {}).get("native")]
    assert natives, "no ci values for the native sidecar form"


@pytest.mark.parametrize("values", [None, *CI_VALUES], ids=lambda p: p.name if p else "defaults")
def test_helm_lint_strict(values: Path | None) -> None:
    args = ["lint", "--strict", "--kube-version", "1.33"] + (["-f", str(values)] if values else [])
    done = helm(*args, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("values", CI_VALUES, ids=lambda p: p.name)
def test_rendered_manifests_are_valid(values: Path, validator) -> None:
    text = render(values)
    problems = validator.validate_text(text, values.name)
    assert problems == [], "\n".join(map(str, problems))
    kinds = {doc["kind"] for doc in objects(text)}
    assert "ConfigMap" in kinds


@pytest.mark.parametrize("values", CI_VALUES, ids=lambda p: p.name)
def test_rendered_config_is_accepted_by_the_agent(values: Path, tmp_path: Path) -> None:
    docs = objects(render(values))
    config_map = find(docs, "ConfigMap", "release-id-monitor-config")
    path = tmp_path / "config.yaml"
    path.write_text(config_map["data"]["config.yaml"])
    config = load_config(path, env={})
    port = yaml.safe_load(values.read_text()).get("metricsPort", 9464)
    assert config.metrics.listen == f"0.0.0.0:{port}"


def test_deployment_probes_liveness_on_process_readiness_on_assignment() -> None:
    docs = objects(render(CHART / "ci" / "deployment-values.yaml"))
    container = agent_container(find(docs, "Deployment")["spec"]["template"]["spec"])
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    # Unready replicas (no partitions, broker down) are still scraped and may still be evicted.
    assert find(docs, "Service")["spec"]["publishNotReadyAddresses"] is True
    assert find(docs, "PodDisruptionBudget")["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"


@pytest.mark.parametrize("values", [p for p in CI_VALUES if "sidecar" in p.name], ids=lambda p: p.name)
def test_sidecar_never_gates_the_application_on_broker_state(values: Path) -> None:
    docs = objects(render(values))
    for doc in docs:
        if doc["kind"] == "Deployment":
            container = agent_container(doc["spec"]["template"]["spec"])
            probes = [container[k]["httpGet"]["path"] for k in ("startupProbe", "livenessProbe", "readinessProbe")]
            assert probes == ["/healthz"] * 3


def test_sidecar_native_form_is_a_restartable_init_container() -> None:
    docs = objects(render(CHART / "ci" / "sidecar-native-values.yaml"))
    spec = find(docs, "Deployment")["spec"]["template"]["spec"]
    assert [c["name"] for c in spec["initContainers"]] == ["id-monitor"]
    assert spec["initContainers"][0]["restartPolicy"] == "Always"
    assert [c["name"] for c in spec["containers"]] == ["app"]
    regular = find(objects(render(CHART / "ci" / "sidecar-values.yaml")), "Deployment")["spec"]["template"]["spec"]
    assert "initContainers" not in regular and "restartPolicy" not in agent_container(regular)


def test_sidecar_mode_renders_no_workload_of_its_own() -> None:
    docs = objects(render(CHART / "ci" / "sidecar-only-values.yaml"))
    assert sorted(d["kind"] for d in docs) == ["ConfigMap", "PodMonitor"]
    selector = find(docs, "PodMonitor")["spec"]["selector"]
    assert selector == {"matchLabels": {"app": "orders"}}


def test_config_change_rolls_the_pods() -> None:
    def checksum(*sets: str) -> str:
        deployment = find(objects(render(None, *sets)), "Deployment")
        return deployment["spec"]["template"]["metadata"]["annotations"]["checksum/config"]

    assert checksum() == checksum()
    assert checksum() != checksum("config.kafka.topics={other}")


def test_monitors_set_the_job_the_alerts_select() -> None:
    rules = (CHART / "files" / "id-monitor.rules.yml").read_text()
    assert 'job="id-monitor"' in rules
    docs = objects(render(CHART / "ci" / "deployment-values.yaml"))
    endpoint = find(docs, "ServiceMonitor")["spec"]["endpoints"][0]
    assert {"action": "replace", "targetLabel": "job", "replacement": "id-monitor"} in endpoint["relabelings"]
    assert endpoint["port"] == "idmon-metrics"


@pytest.mark.parametrize("sets, message", [
    (["metricsPort=not-a-port"], "metricsPort"),
    (["probes.liveness.initalDelaySeconds=5"], "initalDelaySeconds"),
    (["mode=daemonset"], "mode"),
    (["mode=sidecar", "serviceMonitor.enabled=true"], "serviceMonitor"),
    (["config.kafka.client=librdkafka"], "client"),
])
def test_values_schema_rejects_bad_values(sets: list[str], message: str) -> None:
    args = ["template", "release", "--kube-version", "1.33"]
    for item in sets:
        args += ["--set", item]
    done = helm(*args, check=False)
    assert done.returncode != 0 and message in done.stderr, done.stderr


def test_values_schema_knows_the_agents_kafka_clients() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    kafka = schema["properties"]["config"]["properties"]["kafka"]["properties"]
    assert tuple(kafka["client"]["enum"]) == KAFKA_CLIENTS
    for client in KAFKA_CLIENTS:
        render(None, f"config.kafka.client={client}")


def test_config_metrics_is_the_charts_to_set() -> None:
    done = helm("template", "release", "--kube-version", "1.33", "--set", "config.metrics.listen=:1", check=False)
    assert done.returncode != 0 and "set metricsPort" in done.stderr, done.stderr


def test_deployment_mode_without_kafka_is_refused() -> None:
    done = helm("template", "release", "--kube-version", "1.33", "--set", "config.kafka=null", check=False)
    assert done.returncode != 0 and "kafka" in done.stderr, done.stderr


# -- broken copies of a template: helm renders them, the validator must not let them through -----

BREAKAGES = {
    "misspelled probe field": ("    periodSeconds: {{ .Values.probes.liveness.periodSeconds }}",
                               "    periodSecond: {{ .Values.probes.liveness.periodSeconds }}",
                               "'periodSecond' was unexpected"),
    "string port": ("containerPort: {{ .Values.metricsPort }}",
                    "containerPort: {{ .Values.metricsPort | quote }}",
                    "'9464' is not of type 'integer'"),
    "probe under the wrong key": ("  livenessProbe:\n", "  livenesProbe:\n", "'livenesProbe' was unexpected"),
    "duplicate key": ("  imagePullPolicy: {{ .Values.image.pullPolicy }}\n",
                      "  imagePullPolicy: {{ .Values.image.pullPolicy }}\n  imagePullPolicy: Always\n",
                      "duplicate key 'imagePullPolicy'"),
}


@pytest.mark.parametrize("name", BREAKAGES)
def test_broken_template_copy_fails_validation(name: str, tmp_path: Path, validator) -> None:
    before, after, expected = BREAKAGES[name]
    chart = tmp_path / "id-monitor"
    shutil.copytree(CHART, chart)
    helpers = chart / "templates" / "_helpers.tpl"
    text = helpers.read_text()
    assert text.count(before) == 1, f"the template changed: {before!r} not found once"
    helpers.write_text(text.replace(before, after))
    for values in (CHART / "ci" / "deployment-values.yaml", CHART / "ci" / "sidecar-native-values.yaml"):
        rendered = render(values, chart=chart)
        problems = validator.validate_text(rendered, values.name)
        assert any(expected in str(p) for p in problems), (name, values.name, [str(p) for p in problems])


def test_validator_cli_on_a_render(tmp_path: Path) -> None:
    manifest = tmp_path / "rendered.yaml"
    manifest.write_text(render(CHART / "ci" / "deployment-values.yaml"))
    assert validate.main(["-q", str(manifest)]) == 0
    manifest.write_text(manifest.read_text().replace("containerPort: 9464", "containerPort: '9464'"))
    assert validate.main(["-q", str(manifest)]) == 1



@pytest.mark.parametrize("values", CI_VALUES, ids=lambda p: p.name)
def test_oldest_supported_kubernetes_accepts_the_render(values: Path) -> None:
    native = bool((yaml.safe_load(values.read_text()).get("sidecar") or {}).get("native"))
    oldest = "1.29" if native else "1.27"  # Chart.yaml kubeVersion; native sidecars need 1.29
    text = helm("template", "release", "--kube-version", oldest, "-f", str(values)).stdout
    problems = validate.Validator(kube_version=oldest).validate_text(text, values.name)
    assert problems == [], "\n".join(map(str, problems))


def test_native_sidecar_on_an_older_kubernetes_is_refused() -> None:
    done = helm("template", "release", "--kube-version", "1.28", "-f",
                str(CHART / "ci" / "sidecar-native-values.yaml"), check=False)
    assert done.returncode != 0 and "needs Kubernetes 1.29" in done.stderr, done.stderr


def rendered_notes(values: Path, tmp_path: Path) -> str:
    """NOTES.txt as `helm install` prints it (helm template skips it: render it as a ConfigMap)."""
    chart = tmp_path / "id-monitor"
    shutil.copytree(CHART, chart)
    notes = (chart / "templates" / "NOTES.txt").read_text()
    (chart / "templates" / "_notes_check.tpl").write_text('{{- define "notes-check" -}}\n' + notes + "{{- end }}\n")
    (chart / "templates" / "notes-check.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: notes-check}\n"
        'data:\n  notes: {{ include "notes-check" . | toJson }}\n')
    docs = objects(render(values, chart=chart))
    return find(docs, "ConfigMap", "notes-check")["data"]["notes"]


@pytest.mark.parametrize("values", ["sidecar-values.yaml", "sidecar-native-values.yaml", "sidecar-only-values.yaml"])
def test_notes_print_a_valid_sidecar_block(values: str, tmp_path: Path, validator) -> None:
    """The block NOTES.txt tells a service owner to paste makes a valid pod with their app."""
    notes = rendered_notes(CHART / "ci" / values, tmp_path)
    block = notes.split("Service over broker state):\n", 1)[1].split("\n\n", 1)[0]
    template = yaml.safe_load(block)
    assert set(template) == {"metadata", "spec"}
    template["metadata"]["labels"] = {"app": "svc"}
    pod_spec = template["spec"]
    pod_spec.setdefault("containers", []).append({"name": "app", "image": "svc:1"})
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "svc"},
                  "spec": {"selector": {"matchLabels": {"app": "svc"}}, "template": template}}
    assert validator.validate_document(deployment, "NOTES.txt", 1) == []
    agent = agent_container(pod_spec)
    assert agent["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert ("initContainers" in pod_spec) == ("native" in values)
    assert "checksum/id-monitor-config" in template["metadata"]["annotations"]


def test_notes_in_deployment_mode_name_the_group(tmp_path: Path) -> None:
    notes = rendered_notes(CHART / "ci" / "deployment-values.yaml", tmp_path)
    assert '3 replicas share consumer group "id-monitor"' in notes
    assert 'job="id-monitor"' in notes
