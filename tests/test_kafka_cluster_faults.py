"""Faults on a three-broker Kafka cluster while the real agent consumes a known stream.

A topic with replication factor 3, 6 partitions and `min.insync.replicas=2` receives a steady
stream (an idempotent producer with `acks=all`) of probe messages that each carry exactly one
violation, so every message the agent checks leaves a violation record naming its partition and
offset. One `id-monitor run` per `kafka.client` (kafka-python, confluent-kafka) consumes it side by
side, each in its own consumer group and writing its own violations topic, so the two share the
cluster and every fault, and each client is judged on its own records. While they consume, in
order: SIGKILL the leader of partition 0, restart it; SIGKILL the agents, start a new one in each
group; stop the whole cluster for 60 s, start it again. Then, for each client:

- every produced offset was checked at least once (its violation record exists),
- duplicates, attributed to the fault they follow by their `observed_ms`, are at most one batch
  (`--batch-size`) per fault, and none happen outside a fault,
- /readyz said 503 while the cluster was down and 200 again after, and the log has
  `broker_lost` then `broker_reachable_again`,
- the recovery time of each fault (from the fault, or from the restarted node or cluster being up,
  to the agent being ready and counting past what was acknowledged at that moment) is measured and
  printed, not asserted, beside the same measure taken with no fault (the agent's normal
  latency): docs/reliability.md has the figures.

Every wait is on an event or a counter with a deadline; the only sleep-like wait is the outage
itself, which is the fault, not an assertion.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest

from tests.kafka_broker import KAFKA_CLIENTS, AgentProcess, _require, wait_until
from tests.kafka_cluster import KafkaCluster

pytestmark = [
    pytest.mark.kafka,
    pytest.mark.slow,
    pytest.mark.timeout(600),  # ~4 minutes on an idle machine, 7 on a busy one
    pytest.mark.filterwarnings("ignore:.*Use files:DeprecationWarning"),
]

BATCH = 500  # --batch-size: the most records one uncommitted batch can hold
RATE = 300  # probe messages per second
OUTAGE_S = 60
DEADLINE = 90  # seconds for anything that must happen after a fault
TOLD = ("agent_started", "consumer_started", "partitions_assigned", "broker_unreachable", "broker_lost",
        "broker_reachable_again", "poll_failed", "commit_failed", "violations_flush_failed", "agent_stopped")


@pytest.fixture(scope="module")
def kafka_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    _require("java")
    _require("mvn")
    cluster = KafkaCluster.create(tmp_path_factory.mktemp("cluster"))
    took = cluster.start()
    print(f"\nthree-broker cluster up in {took:.1f} s")
    try:
        yield cluster
    finally:
        cluster.stop()


class ProbeStream:
    """Probe messages at `rate` per second from a thread, keyed by sequence number so they spread
    over every partition; `pause()` returns once everything sent is acknowledged."""

    def __init__(self, bootstrap: str, topic: str, rate: float) -> None:
        from kafka import KafkaProducer

        self.topic = topic
        self.interval = 1.0 / rate
        self.producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True,
                                      linger_ms=5, request_timeout_ms=10000, delivery_timeout_ms=120000)
        self.sent = 0
        self.acked = 0
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._running = threading.Event()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> ProbeStream:
        self._running.set()
        self._thread.start()
        return self

    def _ok(self, _metadata) -> None:
        with self._lock:
            self.acked += 1

    def _failed(self, error) -> None:
        with self._lock:
            self.errors.append(f"{type(error).__name__}: {error}")

    def _loop(self) -> None:
        next_at = time.monotonic()
        while not self._closing.is_set():
            if not self._running.is_set():
                self._running.wait(0.1)
                next_at = time.monotonic()
                continue
            seq = self.sent
            value = orjson.dumps({"type": "agent_started", "user_id": "test_user_7", "thread_id": "undefined",
                                  "run_id": f"run_chat_{int(time.time() * 1000)}_{seq + 1}_{seq:08x}",
                                  "seq": seq})
            future = self.producer.send(self.topic, value=value, key=str(seq).encode())
            future.add_callback(self._ok)
            future.add_errback(self._failed)
            self.sent += 1
            next_at += self.interval
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)

    def acknowledged(self) -> int:
        with self._lock:
            return self.acked

    def pause(self) -> None:
        self._running.clear()
        wait_until(lambda: self.acknowledged() + len(self.errors) >= self.sent, timeout=DEADLINE,
                   message="every probe sent to be acknowledged")

    def resume(self) -> None:
        self._running.set()

    def close(self) -> None:
        self.pause()
        self._closing.set()
        self._thread.join(10)
        self.producer.close(timeout=10)


@dataclass
class ReadinessLog:
    """/readyz of whichever agent is current, sampled every 0.2 s from a thread: its transitions."""

    current: Callable[[], AgentProcess]
    transitions: list[tuple[float, int, str]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> ReadinessLog:
        threading.Thread(target=self._loop, daemon=True).start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(0.2):
            try:
                status, body = self.current().get("/readyz")
            except OSError:
                status, body = 0, "no answer"
            if not self.transitions or self.transitions[-1][1:] != (status, body.strip()):
                self.transitions.append((time.time(), status, body.strip()))

    def stop(self) -> None:
        self._stop.set()


@dataclass
class Fault:
    name: str
    at: float  # time.time() when the fault started
    recovery_s: dict[str, float] = field(default_factory=dict)  # per kafka.client
    note: str = ""
    duplicates: dict[str, int] = field(default_factory=dict)  # per kafka.client


@dataclass
class Lane:
    """One `kafka.client`'s agents (the current one last), in a consumer group and with a
    violations topic of their own, so each client's guarantees are judged on its own records."""

    client: str
    group: str
    violations: str
    config: dict
    runs: list[AgentProcess] = field(default_factory=list)
    base: int = 0  # offsets committed when the current agent started: it counts from there
    readiness: ReadinessLog | None = None

    @property
    def agent(self) -> AgentProcess:
        return self.runs[-1]

    def start_agent(self, directory: Path) -> AgentProcess:
        self.runs.append(AgentProcess(directory, self.config, name=f"{self.client}-{len(self.runs) + 1}",
                                      batch_size=BATCH))
        return self.agent

    def progress(self) -> float:
        self.agent.assert_alive()
        return self.base + self.agent.messages()


def told(agent: AgentProcess) -> list[str]:
    """The agent's log events about its broker and group, repeats collapsed (`event xN`)."""
    events: list[list] = []
    for event in agent.log_events():
        name = event["event"] + (f"[{event['component']}]" if "component" in event else "")
        if event["event"] not in TOLD:
            continue
        if events and events[-1][0] == name:
            events[-1][1] += 1
        else:
            events.append([name, 1])
    return [name if n == 1 else f"{name} x{n}" for name, n in events]


def consume_records(cluster: KafkaCluster, topic: str) -> list[dict]:
    """Every violation record of `topic`, read up to the end offsets it has now."""
    from kafka import KafkaConsumer, TopicPartition

    ends = cluster.end_offsets(topic)
    consumer = KafkaConsumer(bootstrap_servers=cluster.bootstrap, enable_auto_commit=False, max_poll_records=5000)
    records: list[dict] = []
    try:
        parts = [TopicPartition(topic, p) for p in ends]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        deadline = time.monotonic() + DEADLINE
        while any(consumer.position(tp) < ends[tp.partition] for tp in parts):
            assert time.monotonic() < deadline, "violation records not read to their end in time"
            for batch in consumer.poll(timeout_ms=1000).values():
                records.extend(json.loads(message.value) for message in batch)
        return records
    finally:
        consumer.close()


def judge_records(lane: Lane, records: list[dict], ends: dict[int, int], faults: list[Fault]) -> dict:
    """Asserts that every produced offset was checked by `lane`'s agents and attributes each
    repeat to the last fault that started before it was observed; the lane's figures."""
    seen = Counter((r["partition"], r["offset"]) for r in records)
    missing = {(p, o) for p, end in ends.items() for o in range(end)} - set(seen)
    assert not missing, f"{lane.client}: {len(missing)} offsets never checked, e.g. {sorted(missing)[:5]}"
    assert set(seen) == {(p, o) for p, end in ends.items() for o in range(end)}, lane.client

    first_seen: dict[tuple[int, int], int] = {}
    outside_faults = 0
    for fault in faults:
        fault.duplicates[lane.client] = 0
    for record in sorted(records, key=lambda r: r["observed_ms"]):
        where = (record["partition"], record["offset"])
        if where not in first_seen:
            first_seen[where] = record["observed_ms"]
            continue
        before = [f for f in faults if f.at * 1000 <= record["observed_ms"]]
        if before:
            before[-1].duplicates[lane.client] += 1
        else:
            outside_faults += 1
    duplicates = sum(count - 1 for count in seen.values())
    return {"checked_offsets": len(seen), "lost": len(missing), "duplicates": duplicates,
            "outside_faults": outside_faults}


def test_faults_on_three_brokers_lose_nothing_and_duplicate_at_most_a_batch_per_fault(
        kafka_cluster: KafkaCluster, tmp_path: Path) -> None:
    """One agent per `kafka.client`, side by side on the same stream and through the same faults
    (each in its own group): every guarantee is judged for each client on its own records."""
    cluster = kafka_cluster
    topic = cluster.create_topic(partitions=6, replication=3, min_insync=2)
    lanes = []
    for client in KAFKA_CLIENTS:
        violations = cluster.create_topic(f"{topic}-{client}-violations", partitions=3, replication=3, min_insync=2)
        group = f"{topic}-{client}-agents"
        config = {
            "kafka": {"bootstrap_servers": cluster.bootstrap, "group_id": group, "topics": [topic], "client": client},
            "limits": {"max_message_bytes": 4096},
            "violations": {"topic": violations},
        }
        lanes.append(Lane(client, group, violations, config))
    for lane in lanes:
        lane.start_agent(tmp_path)
        lane.readiness = ReadinessLog(lambda lane=lane: lane.agent)
    stream = ProbeStream(cluster.bootstrap, topic, RATE)
    faults: list[Fault] = []

    def recovered(since: float, target: int | None = None) -> dict[str, float]:
        """Per client, seconds from `since` (monotonic) until its agent is ready and has counted
        more than `target`, by default what was acknowledged when called: it is counting traffic
        produced after the fault. Both agents are watched at once, so neither waits on the other."""
        target = stream.acknowledged() if target is None else target
        took: dict[str, float] = {}

        def all_counting() -> bool:
            for lane in lanes:
                if lane.client not in took and lane.agent.ready() and lane.progress() > target:
                    took[lane.client] = time.monotonic() - since
            return len(took) == len(lanes)

        wait_until(all_counting, timeout=DEADLINE, interval=0.05,
                   message=f"every agent to count past {target} messages (done: {took})")
        return took

    def every_agent(check: Callable[[AgentProcess], bool], what: str) -> None:
        wait_until(lambda: all(check(lane.agent) for lane in lanes), timeout=DEADLINE, interval=0.2,
                   message=f"{what} on every client's agent")

    def logged(event: str) -> Callable[[AgentProcess], bool]:
        return lambda agent: any(e["event"] == event for e in agent.log_events())

    try:
        every_agent(AgentProcess.ready, "the first agent ready")
        for lane in lanes:
            lane.readiness.start()
        stream.start()
        wait_until(lambda: all(lane.progress() >= 2 * RATE for lane in lanes), timeout=DEADLINE,
                   message="every agent to count the stream")
        baseline = recovered(time.monotonic())

        # 1. SIGKILL the leader of partition 0 (and so of every partition it leads), then restart it.
        leaders = cluster.leaders(topic)
        victim = cluster.node(leaders[0])
        led = sorted(p for p, leader in leaders.items() if leader == victim.node_id)
        fault = Fault("partition leader killed (SIGKILL)", time.time(),
                      note=f"node {victim.node_id}, leader of partitions {led}")
        started = time.monotonic()
        cluster.kill(victim)
        faults.append(fault)
        acknowledged_at_kill = stream.acknowledged()
        wait_until(lambda: cluster.leaders(topic)[0] not in (victim.node_id, -1), timeout=DEADLINE, interval=0.1,
                   message="partition 0 to get a new leader")
        fault.note += f"; partition 0 had a new leader {time.monotonic() - started:.1f} s after the kill"
        fault.recovery_s = recovered(started, acknowledged_at_kill)

        fault = Fault("killed leader restarted", time.time(), note=f"node {victim.node_id}")
        faults.append(fault)
        took = cluster.start([victim])
        started = time.monotonic()
        fault.recovery_s = recovered(started)
        cluster.wait_in_sync(topic, 6, 3)
        for lane in lanes:
            cluster.wait_in_sync(lane.violations, 3, 3)
        fault.note += (f", started in {took:.1f} s, all partitions in sync on 3 replicas "
                       f"{time.monotonic() - started:.1f} s after that")

        # 2. SIGKILL the agents mid-stream; a new one in each group takes over from the commits.
        fault = Fault("agent killed (SIGKILL) and restarted", time.time())
        started = time.monotonic()
        for lane in lanes:
            lane.agent.kill()
        faults.append(fault)
        acknowledged_at_kill = stream.acknowledged()
        for lane in lanes:
            lane.base = sum(cluster.committed(topic, lane.group).values())
            lane.start_agent(tmp_path)
        fault.recovery_s = recovered(started, acknowledged_at_kill)
        fault.note = "restarted from " + ", ".join(f"{lane.base} ({lane.client})" for lane in lanes) + \
            " committed offsets"

        # 3. The whole cluster stopped for OUTAGE_S seconds, then started again.
        stream.pause()
        fault = Fault(f"whole cluster stopped for {OUTAGE_S} s", time.time())
        down = time.monotonic()
        faults.append(fault)
        cluster.stop()
        every_agent(lambda agent: agent.get("/readyz")[0] == 503, "/readyz 503 while the cluster is down")
        every_agent(logged("broker_lost"), "the broker_lost log line")
        not_ready_after = time.monotonic() - down
        while time.monotonic() - down < OUTAGE_S:  # the outage itself: the agents must stay alive
            for lane in lanes:
                lane.agent.assert_alive()
            time.sleep(min(1.0, max(0.0, OUTAGE_S - (time.monotonic() - down))))
        took = cluster.start()
        up = time.monotonic()
        stream.resume()
        every_agent(AgentProcess.ready, "/readyz 200 after the cluster is back")
        ready_after = time.monotonic() - up
        fault.recovery_s = recovered(up)
        every_agent(logged("broker_reachable_again"), "the broker_reachable_again log line")
        fault.note = (f"/readyz 503 on every agent {not_ready_after:.1f} s after the stop; the cluster started "
                      f"in {took:.1f} s; /readyz 200 on every agent {ready_after:.1f} s after that")
        steady = recovered(time.monotonic())

        # The stream ends; each agent checks and commits all of it.
        stream.close()
        assert stream.errors == []
        ends = cluster.end_offsets(topic)
        produced = sum(ends.values())
        assert produced == stream.acked == stream.sent  # idempotent: each probe is in the log once
        for lane in lanes:
            wait_until(lambda lane=lane: cluster.committed(topic, lane.group) == ends, timeout=DEADLINE,
                       interval=0.5, message=f"every offset committed by the {lane.client} agent")
        samples = {lane.client: lane.agent.scrape() for lane in lanes}
        for lane in lanes:
            assert lane.agent.terminate()[0] == 0, lane.client
        logs = {run.name: told(run) for lane in lanes for run in lane.runs}
    finally:
        for lane in lanes:
            if lane.readiness is not None:
                lane.readiness.stop()
            for run in lane.runs:
                run.close()

    figures: dict = {"produced": produced, "batch_size": BATCH, "rate_per_s": RATE, "clients": {}}
    for lane in lanes:
        records = [r for r in consume_records(cluster, lane.violations) if r["rule"] == "unknown_format"]
        judged = judge_records(lane, records, ends, faults)
        figures["clients"][lane.client] = {
            **judged,
            "latency_without_fault_s": [round(baseline[lane.client], 2), round(steady[lane.client], 2)],
            "readyz": [(round(t - faults[0].at, 1), status, body) for t, status, body in lane.readiness.transitions],
            "last_agent_messages": int(sum(v for (n, _), v in samples[lane.client].items()
                                           if n == "id_monitor_messages_total")),
        }
    figures["faults"] = [{"fault": f.name, "recovery_s": {c: round(s, 2) for c, s in f.recovery_s.items()},
                          "duplicates": f.duplicates, "note": f.note} for f in faults]
    figures["logs"] = logs
    print("\nthree-broker faults:", json.dumps(figures, indent=1))
    assert len(faults) == 4
    for lane in lanes:
        judged = figures["clients"][lane.client]
        assert judged["outside_faults"] == 0, lane.client
        assert "partitions_assigned" in logs[lane.agent.name], lane.client  # the new agent took the partitions over
        for fault in faults:
            assert fault.duplicates[lane.client] <= BATCH, (lane.client, fault.name, fault.duplicates)
        assert judged["duplicates"] == sum(f.duplicates[lane.client] for f in faults) <= BATCH * len(faults)
