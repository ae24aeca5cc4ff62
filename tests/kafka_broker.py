"""Pytest plugin: a real Apache Kafka broker for the whole test session.

The broker is started by `scripts/kafka up` (jars from Maven Central, cached under .cache/kafka) on
free ports in a temporary directory, and stopped at the end of the session. Tests get a
`KafkaBroker` (`kafka_broker`) or just its bootstrap address (`kafka_bootstrap`), and helpers to
create topics, produce records and stop/start the broker for fault tests.

Registered from tests/conftest.py via `pytest_plugins`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.metrics import counted, parse_metrics, total  # noqa: F401 - re-exported for the tests
from tests.support.net import free_port, http_get  # noqa: F401
from tests.support.wait import wait_until  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "kafka"


@dataclass
class KafkaBroker:
    """One broker process managed through scripts/kafka; `bootstrap` is `127.0.0.1:<port>`."""

    port: int
    controller_port: int
    directory: Path
    node_id: int = 1
    heap: str = "512m"
    # C1-only JIT and the serial GC start the JVM in about a third of the time on a busy 2-core
    # machine; a test broker never runs long enough to need C2.
    jvm_opts: str = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
    timings: dict[str, float] = field(default_factory=dict)
    # More scripts/kafka settings, e.g. KAFKA_VOTERS and KAFKA_EXTRA_PROPERTIES for a cluster node.
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __str__(self) -> str:
        return self.bootstrap

    def _script(self, command: str, timeout: float = 180) -> str:
        args = [
            str(SCRIPT), command,
            "--port", str(self.port),
            "--controller-port", str(self.controller_port),
            "--node-id", str(self.node_id),
            "--dir", str(self.directory),
            "--heap", self.heap,
        ]
        env = {**os.environ, "KAFKA_JVM_OPTS": self.jvm_opts, **self.extra_env}
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env)
        if done.returncode != 0:
            raise RuntimeError(f"scripts/kafka {command} failed ({done.returncode}):\n{done.stderr}")
        return done.stdout.strip()

    def start(self) -> None:
        started = time.monotonic()
        self._script("up")
        self.timings.setdefault("first_start_s", time.monotonic() - started)

    def stop(self) -> None:
        self._script("down")

    def is_running(self) -> bool:
        try:
            self._script("status", timeout=10)
            return True
        except RuntimeError:
            return False

    def admin(self):
        from kafka import KafkaAdminClient

        return KafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=15000)

    def create_topic(self, name: str | None = None, partitions: int = 1) -> str:
        """Create a topic (a fresh unique name if none given) and wait until every partition has a
        leader, so producers and consumers never race the controller."""
        from kafka.admin import NewTopic

        name = name or f"t-{uuid.uuid4().hex[:12]}"
        admin = self.admin()
        try:
            admin.create_topics([NewTopic(name, partitions, 1)])
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                described = admin.describe_topics([name])
                parts = described[0].get("partitions") or []
                if len(parts) == partitions and all(p.get("leader_id", -1) >= 0 for p in parts):
                    return name
                time.sleep(0.1)
            raise RuntimeError(f"topic {name} has no leaders after 30 s")
        finally:
            admin.close()

    def produce(
        self,
        topic: str,
        values: Iterable[bytes | None],
        *,
        partition: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
        keys: Iterable[bytes | None] | None = None,
    ) -> int:
        """Send raw values (None = tombstone), flush, and return how many were sent."""
        from kafka import KafkaProducer

        producer = KafkaProducer(
            bootstrap_servers=self.bootstrap, linger_ms=5, batch_size=256 * 1024, acks=1,
            max_request_size=4 * 1024 * 1024,
        )
        count = 0
        try:
            key_iter = iter(keys) if keys is not None else None
            for value in values:
                key = next(key_iter) if key_iter is not None else None
                if value is None and key is None:
                    key = b"tombstone"  # Kafka needs a key or a value
                producer.send(topic, value=value, key=key, partition=partition, headers=headers)
                count += 1
            producer.flush(timeout=60)
        finally:
            producer.close(timeout=10)
        return count

    def end_offsets(self, topic: str) -> dict[int, int]:
        from kafka import KafkaConsumer, TopicPartition

        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap)
        try:
            parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
            return {tp.partition: off for tp, off in consumer.end_offsets(parts).items()}
        finally:
            consumer.close()

    def committed(self, topic: str, group: str) -> dict[int, int | None]:
        """The group's committed offset per partition (None where nothing is committed)."""
        from kafka import KafkaConsumer, TopicPartition

        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, group_id=group, enable_auto_commit=False)
        try:
            parts = sorted(consumer.partitions_for_topic(topic) or ())
            return {p: consumer.committed(TopicPartition(topic, p)) for p in parts}
        finally:
            consumer.close()


def _require(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.fail(f"{tool} is not installed: run scripts/bootstrap (it installs Java and Maven)")


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """A running broker for the session; stopped (and its directory removed) at the end."""
    _require("java")
    _require("mvn")
    broker = KafkaBroker(
        port=free_port(),
        controller_port=free_port(),
        directory=tmp_path_factory.mktemp("kafka"),
        heap=os.environ.get("KAFKA_HEAP", "512m"),
    )
    if os.environ.get("KAFKA_JVM_OPTS"):
        broker.jvm_opts = os.environ["KAFKA_JVM_OPTS"]
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker: KafkaBroker) -> str:
    """Just the bootstrap address (`127.0.0.1:<port>`) of the session broker."""
    return kafka_broker.bootstrap


KAFKA_CLIENTS = ("kafka-python", "confluent-kafka")


@pytest.fixture(params=KAFKA_CLIENTS)
def kafka_client(request: pytest.FixtureRequest) -> str:
    """The `kafka.client` an agent test runs with: every test that runs the agent's consumer runs
    once per client, so both prove the same guarantees on the same broker."""
    return request.param


@pytest.fixture
def kafka_topic(kafka_broker: KafkaBroker) -> str:
    """A fresh single-partition topic per test."""
    return kafka_broker.create_topic()


# -- the agent as a real process, and reading its metrics ---------------------------------------

PYTHON = Path(sys.executable)  # the interpreter running the tests: any virtualenv
class AgentProcess:
    """`python -m id_monitor run --config FILE` as a child process with its own metrics port.

    `config` is the YAML mapping (metrics.listen is filled in); stderr (JSON logs) goes to a file.
    """

    def __init__(self, directory: Path, config: dict, *, name: str = "agent", batch_size: int | None = None,
                 stdin: bool = False, extra_args: list[str] | None = None) -> None:
        import yaml

        self.port = free_port()
        self.name = name
        config = {**config, "metrics": {**config.get("metrics", {}), "listen": f"127.0.0.1:{self.port}"}}
        self.config_path = directory / f"{name}.yaml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.log_path = directory / f"{name}.log"
        self.stdout_path = directory / f"{name}.out"
        args = [str(PYTHON), "-m", "id_monitor", "run", "--config", str(self.config_path)]
        if batch_size is not None:
            args += ["--batch-size", str(batch_size)]
        args += extra_args or []
        # isolated from the caller's ID_MONITOR_ overrides, except the engine the tests run on (tests/engines.py)
        env = {k: v for k, v in os.environ.items() if not k.startswith("ID_MONITOR_") or k == "ID_MONITOR_ENGINE"}
        self._log = open(self.log_path, "ab")
        self._out = open(self.stdout_path, "ab")
        self.proc = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=self._out, stderr=self._log,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def scrape(self) -> dict:
        status, body = http_get(f"{self.url}/metrics")
        assert status == 200, body
        return parse_metrics(body)

    def get(self, path: str, accept: str | None = None) -> tuple[int, str]:
        return http_get(f"{self.url}{path}", accept=accept)

    def ready(self) -> bool:
        try:
            return self.get("/readyz")[0] == 200
        except OSError:
            return False

    def messages(self) -> float:
        try:
            return total(self.scrape(), "id_monitor_messages_total")
        except OSError:
            return -1

    def wait_messages(self, count: int, timeout: float = 60) -> dict:
        """Wait until this agent has counted `count` messages; returns the scrape."""
        def done():
            self.assert_alive()
            samples = self.scrape()
            return samples if total(samples, "id_monitor_messages_total") >= count else None

        wait_until(done, timeout, message=f"{self.name} to count {count} messages")
        # One scrape is not atomic across families: ids_total may have been read before the last
        # messages finished. Once messages_total has reached `count`, a fresh scrape is complete.
        return self.scrape()

    def assert_alive(self) -> None:
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.name} exited with {self.proc.returncode}:\n{self.logs()[-3000:]}")

    def logs(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def log_events(self) -> list[dict]:
        import json

        events = []
        for line in self.logs().splitlines():
            line = line.strip()
            if line.startswith("{"):
                events.append(json.loads(line))
        return events

    def terminate(self, timeout: float = 15) -> tuple[int, float]:
        """SIGTERM; returns (exit code, seconds it took to exit)."""
        started = time.monotonic()
        self.proc.terminate()
        code = self.proc.wait(timeout=timeout)
        return code, time.monotonic() - started

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if self.proc.stdin:
            self.proc.stdin.close()
        self._log.close()
        self._out.close()


def assert_counts_match_truth(samples: dict, source: str, generated: list) -> None:
    """What the agent exported for `generated` ((message, Truth) pairs) equals the traffic
    generator's ground truth, computed without any of the agent's own code: per field the
    target/legacy/unknown ID counts, one `unknown_format` violation per unknown ID and one
    `legacy_id` warning per legacy ID (the default legacy policy), the isolation breaches, and one
    `ok` message per generated message."""
    from collections import Counter

    from id_monitor.traffic import ID_FIELDS

    for field_name in ID_FIELDS:
        truth = Counter(t.kinds[field_name] for _, t in generated)
        for status in ("target", "legacy", "unknown"):
            got = total(samples, "id_monitor_ids_total", source=source, field=field_name, status=status)
            assert got == truth[status], (field_name, status)
        assert total(samples, "id_monitor_findings_total", source=source, field=field_name,
                     rule="unknown_format", severity="violation") == truth["unknown"], field_name
        assert total(samples, "id_monitor_findings_total", source=source, field=field_name,
                     rule="legacy_id", severity="warning") == truth["legacy"], field_name
    breaches = sum(1 for _, t in generated if t.breach)
    assert total(samples, "id_monitor_findings_total", source=source, field="connection_id",
                 rule="isolation_breach") == breaches
    assert total(samples, "id_monitor_messages_total", source=source, result="ok") == len(generated)
