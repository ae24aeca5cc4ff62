"""Three real Kafka brokers in one KRaft quorum, for fault tests that need replication.

Each node is a `KafkaBroker` (broker and controller in one process, `scripts/kafka`) on its own free
ports and directory; all three share one `--voters` list, so the quorum survives one node and the
cluster serves topics with replication factor 3. Nodes can be stopped cleanly, killed with SIGKILL
(`kill`), and started again with their data. A quorum of one cannot elect a controller, so every
start of two or more nodes is done in parallel.

Used by tests/test_kafka_cluster_faults.py through the `kafka_cluster` fixture defined there.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.kafka_broker import KafkaBroker
from tests.support.net import free_port
from tests.support.wait import wait_until

# Replicated internal topics (a dead node must not take the group coordinator with it) and faster
# failure detection than the 9 s default, so a killed leader is replaced within a few seconds.
CLUSTER_PROPERTIES = """\
offsets.topic.replication.factor=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=3000
unclean.leader.election.enable=false"""


@dataclass
class KafkaCluster:
    """Three (or `size`) nodes; `bootstrap` lists every node's client address."""

    nodes: list[KafkaBroker]

    @classmethod
    def create(cls, directory: Path, size: int = 3, heap: str = "384m") -> KafkaCluster:
        ports = [(free_port(), free_port()) for _ in range(size)]
        voters = ",".join(f"{i + 1}@127.0.0.1:{controller}" for i, (_, controller) in enumerate(ports))
        nodes = []
        for i, (port, controller) in enumerate(ports):
            node = KafkaBroker(port=port, controller_port=controller, directory=directory / f"node-{i + 1}",
                               node_id=i + 1, heap=heap)
            node.extra_env = {"KAFKA_VOTERS": voters, "KAFKA_EXTRA_PROPERTIES": CLUSTER_PROPERTIES}
            if os.environ.get("KAFKA_JVM_OPTS"):
                node.jvm_opts = os.environ["KAFKA_JVM_OPTS"]
            nodes.append(node)
        return cls(nodes)

    @property
    def bootstrap(self) -> str:
        return ",".join(node.bootstrap for node in self.nodes)

    def node(self, node_id: int) -> KafkaBroker:
        return next(node for node in self.nodes if node.node_id == node_id)

    # -- processes ------------------------------------------------------------------------

    def start(self, nodes: Iterable[KafkaBroker] | None = None) -> float:
        """Start `nodes` (default: every node not running) in parallel; the seconds it took."""
        todo = [n for n in (self.nodes if nodes is None else nodes) if not n.is_running()]
        started = time.monotonic()
        self._parallel(lambda node: node.start(), todo)
        return time.monotonic() - started

    def stop(self, nodes: Iterable[KafkaBroker] | None = None) -> None:
        """Stop `nodes` (default: all) cleanly, in parallel."""
        self._parallel(lambda node: node.stop(), list(self.nodes if nodes is None else nodes))

    def kill(self, node: KafkaBroker) -> None:
        """SIGKILL one node's JVM (no clean shutdown: no leadership handed over, nothing flushed)."""
        pid_file = node.directory / "kafka.pid"
        pid = int(pid_file.read_text())
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not _alive(pid), timeout=30, interval=0.05, message=f"node {node.node_id} to die")

    @staticmethod
    def _parallel(action, nodes: list[KafkaBroker]) -> None:
        errors: list[Exception] = []

        def run(node: KafkaBroker) -> None:
            try:
                action(node)
            except Exception as exc:  # noqa: BLE001 - raised below, in the caller's thread
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(node,)) for node in nodes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]

    # -- topics -----------------------------------------------------------------------------

    def admin(self):
        from kafka import KafkaAdminClient

        return KafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=15000)

    def create_topic(self, name: str | None = None, partitions: int = 6, replication: int = 3,
                     min_insync: int = 2) -> str:
        """Create a replicated topic and wait until every partition has a leader and a full ISR."""
        from kafka.admin import NewTopic

        name = name or f"t-{uuid.uuid4().hex[:12]}"
        admin = self.admin()
        try:
            admin.create_topics([NewTopic(name, partitions, replication,
                                          topic_configs={"min.insync.replicas": str(min_insync)})])
        finally:
            admin.close()
        self.wait_in_sync(name, partitions, replication)
        return name

    def describe(self, topic: str) -> list[dict[str, Any]]:
        admin = self.admin()
        try:
            return admin.describe_topics([topic])[0].get("partitions") or []
        finally:
            admin.close()

    def leaders(self, topic: str) -> dict[int, int]:
        """Partition -> node id of its leader (-1 while it has none)."""
        return {_partition(p): _leader(p) for p in self.describe(topic)}

    def wait_in_sync(self, topic: str, partitions: int, replicas: int, timeout: float = 60) -> None:
        """Until every partition has a leader and `replicas` in-sync replicas."""
        def in_sync() -> bool:
            parts = self.describe(topic)
            return len(parts) == partitions and all(_leader(p) >= 0 and len(_isr(p)) >= replicas for p in parts)

        wait_until(in_sync, timeout=timeout, interval=0.2, message=f"{topic} in sync on {replicas} replicas")

    def end_offsets(self, topic: str) -> dict[int, int]:
        from kafka import KafkaConsumer, TopicPartition

        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap)
        try:
            parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
            return {tp.partition: off for tp, off in consumer.end_offsets(parts).items()}
        finally:
            consumer.close()

    def committed(self, topic: str, group: str) -> dict[int, int]:
        """The group's committed offset per partition (0 where nothing is committed)."""
        from kafka import KafkaConsumer, TopicPartition

        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, group_id=group, enable_auto_commit=False)
        try:
            parts = sorted(consumer.partitions_for_topic(topic) or ())
            return {p: consumer.committed(TopicPartition(topic, p)) or 0 for p in parts}
        finally:
            consumer.close()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"  # a zombie is dead, only not reaped yet
    except FileNotFoundError:
        return False


# kafka-python's metadata names (partition_index, leader_id, isr_nodes), older names as fallback.
def _partition(described: dict[str, Any]) -> int:
    return described.get("partition_index", described.get("partition", -1))


def _leader(described: dict[str, Any]) -> int:
    return described.get("leader_id", described.get("leader", -1))


def _isr(described: dict[str, Any]) -> list[int]:
    return list(described.get("isr_nodes", described.get("isr", ())))
