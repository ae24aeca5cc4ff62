"""`id-monitor run --workers 2` against the real Kafka broker: checking in worker processes must
count exactly what one process counts, keep at-least-once with the one-batch replay bound, stop
cleanly, and never commit a batch a dead worker was holding."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from pathlib import Path

import orjson
import pytest

from id_monitor.traffic import generate
from tests.kafka_broker import (
    AgentProcess,
    KafkaBroker,
    assert_counts_match_truth,
    total,
    wait_until,
)
from tests.test_agent_kafka import (
    SHORT_SESSION,
    TRACE_ID,
    TRACEPARENT,
    agent_config,
    consume_all,
    probe_messages,
)

pytestmark = [
    pytest.mark.kafka,
    pytest.mark.filterwarnings("ignore:.*Use files:DeprecationWarning"),
]

WORKERS = ["--workers", "2"]
# Which owner an ID was first seen with is remembered per worker, so owner collisions depend on how
# messages are split; the exact-count test turns the rule off to compare against one process.
NO_OWNER_RULE = {"policy": {"severity": {"owner_collision": "off"}}}


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


def worker_pids(agent: AgentProcess) -> list[int]:
    started = [e for e in agent.log_events() if e["event"] == "workers_started"]
    assert started, agent.logs()[-2000:]
    return started[0]["pids"]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purposes: it runs nothing.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def test_two_workers_count_10k_messages_exactly(
        kafka_broker: KafkaBroker, workdir: Path, kafka_client: str) -> None:
    topic = kafka_broker.create_topic(partitions=1)
    generated = list(generate(10_000, seed=11))
    values = [orjson.dumps(message) for message, _ in generated]
    kafka_broker.produce(topic, values[:-10])
    kafka_broker.produce(topic, values[-10:], headers=[("traceparent", TRACEPARENT)])

    config = agent_config(kafka_broker, [topic], "workers-exact", kafka_client, **NO_OWNER_RULE)
    agent = AgentProcess(workdir, config, batch_size=500, extra_args=WORKERS)
    try:
        samples = agent.wait_messages(10_000, timeout=120)
        source = f"kafka:{topic}"
        assert total(samples, "id_monitor_messages_total", source=source, result="ok") == 10_000
        assert_counts_match_truth(samples, source, generated)
        # The exemplar of a traced message, checked in a worker, reaches the served metrics.
        status, openmetrics = agent.get("/metrics", accept="application/openmetrics-text; version=1.0.0")
        assert status == 200 and f'trace_id="{TRACE_ID}"' in openmetrics

        pids = worker_pids(agent)
        assert len(pids) == 2 and all(alive(pid) for pid in pids)
        code, took = agent.terminate()
        assert code == 0 and took < 10
        assert kafka_broker.committed(topic, "workers-exact") == {0: 10_000}
        stopped = [e for e in agent.log_events() if e["event"] == "agent_stopped"]
        assert stopped and stopped[0]["ok"] == 10_000 and stopped[0]["uncommitted_partitions"] == 0
        assert not any(alive(pid) for pid in pids)
    finally:
        agent.close()


def test_kill_mid_stream_with_workers_and_restart_checks_every_offset(
        kafka_broker: KafkaBroker, workdir: Path, kafka_client: str) -> None:
    n, batch = 12_000, 200
    topic = kafka_broker.create_topic(partitions=1)
    violations = f"{topic}-violations"
    kafka_broker.create_topic(violations, partitions=1)
    kafka_broker.produce(topic, probe_messages(n))
    config = agent_config(kafka_broker, [topic], "workers-killed", kafka_client,
                          violations={"topic": violations})
    config["kafka"]["consumer"] = SHORT_SESSION

    first = AgentProcess(workdir, config, name="first", batch_size=batch, extra_args=WORKERS)
    try:
        wait_until(lambda: first.messages() >= 2_000, timeout=90, interval=0.02, message="first agent midway")
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(timeout=10)
        # Workers notice their pipe closing and leave: nothing is left behind.
        pids = worker_pids(first)
        wait_until(lambda: not any(alive(pid) for pid in pids), timeout=10, message="orphaned workers to exit")
    finally:
        first.close()
    committed = kafka_broker.committed(topic, "workers-killed")[0] or 0
    assert committed < n, "the first agent finished before it was killed: nothing was tested"

    second = AgentProcess(workdir, config, name="second", batch_size=batch, extra_args=WORKERS)
    try:
        samples = second.wait_messages(n - committed, timeout=120)
        assert total(samples, "id_monitor_messages_total", result="ok") == n - committed
        assert second.terminate()[0] == 0
    finally:
        second.close()
    assert kafka_broker.committed(topic, "workers-killed") == {0: n}

    seen = Counter(r["offset"] for r in consume_all(kafka_broker, violations) if r["rule"] == "unknown_format")
    assert set(seen) == set(range(n))  # at least once: every offset checked
    # The same bound as one process: a batch's results are merged only after the previous batch's
    # commit is answered, so at most one batch (--batch-size 200) is recorded but uncommitted.
    assert sum(count - 1 for count in seen.values()) <= batch


def test_a_killed_worker_stops_the_agent_without_committing_its_batch(
        kafka_broker: KafkaBroker, workdir: Path, kafka_client: str) -> None:
    n, batch = 20_000, 200
    topic = kafka_broker.create_topic(partitions=1)
    violations = f"{topic}-violations"
    kafka_broker.create_topic(violations, partitions=1)
    kafka_broker.produce(topic, probe_messages(n))
    config = agent_config(kafka_broker, [topic], "worker-died", kafka_client,
                          violations={"topic": violations})
    config["kafka"]["consumer"] = SHORT_SESSION

    agent = AgentProcess(workdir, config, name="first", batch_size=batch, extra_args=WORKERS)
    try:
        wait_until(lambda: any(e["event"] == "workers_started" for e in agent.log_events()), timeout=60,
                   message="workers started")
        victim = worker_pids(agent)[0]
        wait_until(lambda: agent.messages() >= 1_000, timeout=90, interval=0.02, message="agent midway")
        os.kill(victim, signal.SIGKILL)
        started = time.monotonic()
        code = agent.proc.wait(timeout=20)
        assert code != 0, "a dead worker must stop the agent with a failure status"
        assert time.monotonic() - started < 10
        died = [e for e in agent.log_events() if e["event"] == "worker_died"]
        assert died and died[0]["level"] == "error"
        assert not any(alive(pid) for pid in worker_pids(agent))
    finally:
        agent.close()
    committed = kafka_broker.committed(topic, "worker-died")[0] or 0
    assert 0 < committed < n, "nothing was committed before the kill, or everything: nothing tested"
    # Never commits what was not checked: every committed offset left its violation record.
    checked = {r["offset"] for r in consume_all(kafka_broker, violations) if r["rule"] == "unknown_format"}
    assert set(range(committed)) <= checked

    # The supervisor's restart checks the rest, the lost batch included (workers from the config
    # file this time: kafka.workers).
    from_file = {**config, "kafka": {**config["kafka"], "workers": 2}}
    again = AgentProcess(workdir, from_file, name="again", batch_size=batch)
    try:
        again.wait_messages(n - committed, timeout=120)
        assert len(worker_pids(again)) == 2
        assert again.terminate()[0] == 0
    finally:
        again.close()
    assert kafka_broker.committed(topic, "worker-died") == {0: n}
    checked = {r["offset"] for r in consume_all(kafka_broker, violations) if r["rule"] == "unknown_format"}
    assert checked == set(range(n))
