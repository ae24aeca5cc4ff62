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
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "kafka"


def free_port() -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class KafkaBroker:
    """One broker process managed through scripts/kafka; `bootstrap` is `127.0.0.1:<port>`."""

    port: int
    controller_port: int
    directory: Path
    node_id: int = 1
    heap: str = "512m"
    timings: dict[str, float] = field(default_factory=dict)

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
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
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
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker: KafkaBroker) -> str:
    """Just the bootstrap address (`127.0.0.1:<port>`) of the session broker."""
    return kafka_broker.bootstrap


@pytest.fixture
def kafka_topic(kafka_broker: KafkaBroker) -> str:
    """A fresh single-partition topic per test."""
    return kafka_broker.create_topic()
