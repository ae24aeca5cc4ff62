"""`id-monitor run` against the real Kafka broker, as a real process scraped over HTTP.

Expected counts come from two independent places: the traffic generator's ground truth (what each
ID field really holds, which messages breach isolation) and an in-process oracle (the same Judge
and IdMetrics run over the same bytes without Kafka), so the agent's transport, batching and
commit logic must neither lose nor add a single count.
"""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from pathlib import Path

import orjson
import pytest

from id_monitor.traffic import generate
from tests.kafka_broker import (
    AgentProcess,
    assert_counts_match_truth,
    KafkaBroker,
    counted,
    total,
    wait_until,
)

pytestmark = [
    pytest.mark.kafka,
    pytest.mark.filterwarnings("ignore:.*Use files:DeprecationWarning"),
]

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01".encode()


# The broker's shortest session: a killed member leaves the group sooner, so the agent started
# after it is assigned its partitions sooner.
SHORT_SESSION = {"session_timeout_ms": 6000, "heartbeat_interval_ms": 2000}


def agent_config(broker: KafkaBroker, topics: list[str], group: str, client: str = "kafka-python",
                 **sections) -> dict:
    return {
        "kafka": {"bootstrap_servers": broker.bootstrap, "group_id": group, "topics": topics, "client": client},
        "limits": {"max_message_bytes": 4096},
        **sections,
    }


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.mark.engine  # run on both engines (tests/engines.py)
def test_10k_messages_counted_exactly_then_sigterm_commits(
        kafka_broker: KafkaBroker, workdir: Path, kafka_client: str) -> None:
    topic = kafka_broker.create_topic(partitions=1)
    generated = list(generate(10_000, seed=11))
    values = [orjson.dumps(message) for message, _ in generated]
    kafka_broker.produce(topic, values[:-10])
    kafka_broker.produce(topic, values[-10:], headers=[("traceparent", TRACEPARENT)])

    config = agent_config(kafka_broker, [topic], "exact", kafka_client)
    agent = AgentProcess(workdir, config, batch_size=500)
    try:
        samples = agent.wait_messages(10_000, timeout=120)
        source = f"kafka:{topic}"

        # Every message read once and checked.
        assert total(samples, "id_monitor_messages_total", source=source, result="ok") == 10_000
        assert total(samples, "id_monitor_messages_total", result="malformed") == 0
        # Ground truth: per field, how many IDs are target / legacy / unknown; isolation breaches.
        assert any(t.breach for _, t in generated)
        assert_counts_match_truth(samples, source, generated)

        # Health, readiness, lag and exemplars over HTTP.
        assert agent.get("/healthz")[0] == 200
        status, body = agent.get("/readyz")
        assert status == 200 and "1 partitions assigned" in body
        wait_until(lambda: agent.scrape().get(
            ("id_monitor_consumer_lag_messages", frozenset({("topic", topic), ("partition", "0")}))) == 0,
            timeout=15, message="lag gauge at 0")
        status, openmetrics = agent.get("/metrics", accept="application/openmetrics-text; version=1.0.0")
        assert status == 200
        assert f'trace_id="{TRACE_ID}"' in openmetrics

        # SIGTERM: exits cleanly and promptly, everything committed.
        code, took = agent.terminate()
        assert code == 0
        assert took < 10
        assert kafka_broker.committed(topic, "exact") == {0: 10_000}
        stopped = [e for e in agent.log_events() if e["event"] == "agent_stopped"]
        assert stopped and stopped[0]["ok"] == 10_000 and stopped[0]["uncommitted_partitions"] == 0
    finally:
        agent.close()


@pytest.mark.engine  # run on both engines (tests/engines.py)
def test_malformed_and_tombstones_are_counted_and_skipped(
        kafka_broker: KafkaBroker, workdir: Path, kafka_client: str) -> None:
    topic = kafka_broker.create_topic(partitions=1)
    generated = list(generate(200, seed=5))
    good = [orjson.dumps(m) for m, _ in generated]
    bad = {
        "not_utf8": b'{"thread_id": "\xff\xfe"}',
        "not_json": b"this is not json {",
        "not_object": b'["thread_abc", 1]',
        "too_large": b'{"x": "' + b"a" * 5000 + b'"}',
    }
    values: list[bytes | None] = []
    for i, value in enumerate(good):
        values.append(value)
        if i % 50 == 0:
            values.extend(bad.values())
            values.append(None)  # a tombstone
    kafka_broker.produce(topic, values)

    config = agent_config(kafka_broker, [topic], "malformed", kafka_client,
                          violations={"topic": f"{topic}-violations"})
    agent = AgentProcess(workdir, config, batch_size=100)
    try:
        samples = agent.wait_messages(len(values), timeout=90)
        source = f"kafka:{topic}"
        rounds = 4
        assert total(samples, "id_monitor_messages_total", source=source, result="ok") == 200
        assert total(samples, "id_monitor_messages_total", source=source, result="malformed") == 4 * rounds
        assert total(samples, "id_monitor_messages_total", source=source, result="skipped") == rounds
        assert total(samples, "id_monitor_findings_total", source=source, field="message",
                     rule="malformed") == 4 * rounds
        assert_counts_match_truth(samples, source, generated)
        agent.assert_alive()
        assert agent.terminate()[0] == 0

        # Malformed messages were reported as violation records with their offsets.
        records = consume_all(kafka_broker, f"{topic}-violations")
        malformed = [r for r in records if r["rule"] == "malformed"]
        assert Counter(r["detail"] for r in malformed) == {reason: rounds for reason in bad}
        assert all(r["topic"] == topic and r["partition"] == 0 and r["field"] == "message" for r in malformed)
        bad_offsets = {i for i, v in enumerate(values) if v in bad.values()}
        assert {r["offset"] for r in malformed} == bad_offsets
        # Malformed input is logged, but throttled: not one line per message.
        logged = [e for e in agent.log_events() if e["event"] == "malformed_message"]
        assert 1 <= len(logged) < 4 * rounds
    finally:
        agent.close()


def consume_all(broker: KafkaBroker, topic: str, timeout_ms: int = 5000) -> list[dict]:
    """Every record of `topic` (JSON values), with its headers under `_headers`."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(topic, bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=timeout_ms)
    try:
        out = []
        for record in consumer:
            value = json.loads(record.value)
            value["_headers"] = {k: v.decode() for k, v in record.headers}
            out.append(value)
        return out
    finally:
        consumer.close()


def probe_messages(n: int) -> list[bytes]:
    """Messages that each carry exactly one violation (an unknown thread_id), so every message
    leaves a violation record naming its offset: the test can see which offsets were checked."""
    now = int(time.time() * 1000)
    return [
        orjson.dumps({
            "type": "agent_started",
            "user_id": "test_user_7",
            "thread_id": "undefined",
            "run_id": f"run_chat_{now}_{i + 1}_{i:08x}",
            "seq": i,
        })
        for i in range(n)
    ]


def test_kill_mid_stream_and_restart_checks_every_offset(
        kafka_broker: KafkaBroker, workdir: Path, kafka_client: str) -> None:
    n, batch = 12_000, 200
    topic = kafka_broker.create_topic(partitions=1)
    violations = f"{topic}-violations"
    kafka_broker.create_topic(violations, partitions=1)
    kafka_broker.produce(topic, probe_messages(n))
    config = agent_config(kafka_broker, [topic], "killed", kafka_client, violations={"topic": violations})
    config["kafka"]["consumer"] = SHORT_SESSION

    first = AgentProcess(workdir, config, name="first", batch_size=batch)
    try:
        wait_until(lambda: first.messages() >= 2_000, timeout=90, interval=0.02, message="first agent midway")
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(timeout=10)
    finally:
        first.close()
    committed = kafka_broker.committed(topic, "killed")[0] or 0
    assert committed < n, "the first agent finished before it was killed: nothing was tested"

    second = AgentProcess(workdir, config, name="second", batch_size=batch)
    try:
        samples = second.wait_messages(n - committed, timeout=120)
        # The second run starts exactly at the last commit: it re-checks nothing committed.
        assert total(samples, "id_monitor_messages_total", result="ok") == n - committed
        assert second.terminate()[0] == 0
    finally:
        second.close()
    assert kafka_broker.committed(topic, "killed") == {0: n}

    records = [r for r in consume_all(kafka_broker, violations) if r["rule"] == "unknown_format"]
    seen = Counter(r["offset"] for r in records)
    # At least once: every offset was checked (its violation record exists)...
    assert set(seen) == set(range(n))
    # ...and the duplicates are bounded by one uncommitted batch (--batch-size 200): the kill can
    # land between a batch's records being flushed and its offsets being committed, never later.
    duplicates = sum(count - 1 for count in seen.values())
    assert duplicates <= batch
    # Records carry rule and field as headers, and the ID redacted (mask keeps only its shape).
    assert records[0]["_headers"] == {"rule": "unknown_format", "field": "thread_id"}
    assert records[0]["id"] != "undefined" and records[0]["field"] == "thread_id"


def test_two_agents_in_one_group_split_partitions(
        kafka_broker: KafkaBroker, workdir: Path, kafka_client: str) -> None:
    topic = kafka_broker.create_topic(partitions=4)
    # Owner-collision findings depend on the order messages are seen in, which two consumers
    # interleave differently; every other count must add up exactly.
    config = agent_config(kafka_broker, [topic], "pair", kafka_client,
                          policy={"severity": {"owner_collision": "off"}})
    a = AgentProcess(workdir, config, name="a", batch_size=300)
    b = AgentProcess(workdir, config, name="b", batch_size=300)
    try:
        def split():
            ra, rb = a.get("/readyz"), b.get("/readyz")
            return ra[0] == 200 and rb[0] == 200 and "2 partitions" in ra[1] and "2 partitions" in rb[1]

        wait_until(split, timeout=60, interval=0.2, message="both agents to own 2 partitions each")
        generated = list(generate(6_000, seed=21))
        values = [orjson.dumps(m) for m, _ in generated]
        kafka_broker.produce(topic, values, keys=(str(i).encode() for i in range(len(values))))

        def both_done():
            return a.messages() + b.messages() >= len(values)

        wait_until(both_done, timeout=120, interval=0.2, message="both agents to finish")
        sa, sb = a.scrape(), b.scrape()
        assert total(sa, "id_monitor_messages_total") > 0 and total(sb, "id_monitor_messages_total") > 0
        lag_a = {dict(l)["partition"] for (n, l) in sa if n == "id_monitor_consumer_lag_messages"}
        lag_b = {dict(l)["partition"] for (n, l) in sb if n == "id_monitor_consumer_lag_messages"}
        assert len(lag_a) == 2 and len(lag_b) == 2 and not lag_a & lag_b
        # Totals add up exactly: the same series, summed, equal the ground truth of all messages.
        combined = Counter(counted(sa))
        combined.update(counted(sb))
        assert_counts_match_truth(combined, f"kafka:{topic}", generated)
        assert a.terminate()[0] == 0 and b.terminate()[0] == 0
    finally:
        a.close()
        b.close()


def test_broker_down_at_start_and_mid_run(
        kafka_broker: KafkaBroker, workdir: Path, kafka_client: str) -> None:
    topic = kafka_broker.create_topic(partitions=2)
    violations = f"{topic}-violations"
    kafka_broker.create_topic(violations)
    # With violation records on, the record producer must not need the broker at start either.
    config = agent_config(kafka_broker, [topic], "faults", kafka_client, violations={"topic": violations})
    kafka_broker.stop()
    agent = AgentProcess(workdir, config)
    try:
        # Unreachable at start: alive, not ready, and it says so in the log (once per interval).
        wait_until(lambda: agent.get("/healthz")[0] == 200, timeout=30, message="agent listening")
        wait_until(lambda: any(e["event"] == "broker_unreachable" for e in agent.log_events()), timeout=30,
                   message="the broker_unreachable log line")
        agent.assert_alive()
        status, body = agent.get("/readyz")
        assert status == 503 and ("unreachable" in body or "no partitions" in body)
        # Before the first message every known series is already there, at 0, for alerts.
        zero = agent.scrape()
        source = f"kafka:{topic}"
        for name, labels in [
            ("id_monitor_findings_total", {"source": source, "field": "connection_id",
                                           "rule": "isolation_breach", "severity": "violation"}),
            ("id_monitor_ids_total", {"source": source, "field": "thread_id", "status": "legacy",
                                      "format": "uuid4"}),
            ("id_monitor_messages_total", {"source": source, "result": "malformed"}),
        ]:
            assert zero[(name, frozenset(labels.items()))] == 0

        kafka_broker.start()
        wait_until(agent.ready, timeout=60, interval=0.2, message="ready after the broker came up")
        first = [orjson.dumps(m) for m, _ in generate(1_000, seed=31)]
        kafka_broker.produce(topic, first)
        agent.wait_messages(1_000, timeout=60)

        # Broker lost mid-run: not ready, still alive; recovers and counts what follows.
        kafka_broker.stop()
        wait_until(lambda: agent.get("/readyz")[0] == 503, timeout=30, interval=0.2, message="readyz 503")
        wait_until(lambda: any(e["event"] == "broker_lost" for e in agent.log_events()), timeout=30,
                   message="the broker_lost log line")
        agent.assert_alive()
        kafka_broker.start()
        wait_until(agent.ready, timeout=60, interval=0.2, message="ready after broker restart")
        second = [orjson.dumps(m) for m, _ in generate(1_000, seed=32)]
        kafka_broker.produce(topic, second)
        samples = agent.wait_messages(2_000, timeout=90)
        assert total(samples, "id_monitor_messages_total", result="ok") == 2_000
        expected_records = total(samples, "id_monitor_findings_total", severity="violation")
        assert len(consume_all(kafka_broker, violations)) >= expected_records > 0

        # SIGTERM while the broker is gone: still a clean exit within 10 s.
        kafka_broker.stop()
        wait_until(lambda: agent.get("/readyz")[0] == 503, timeout=30, interval=0.2, message="readyz 503")
        code, took = agent.terminate()
        assert code == 0 and took < 10

        events = [e["event"] for e in agent.log_events()]
        assert "broker_unreachable" in events or "broker_lost" in events
        # Faults are logged per interval, not per poll or message.
        assert sum(1 for e in events if e in ("broker_unreachable", "poll_failed", "commit_failed")) < 20
    finally:
        agent.close()
        if not kafka_broker.is_running():
            kafka_broker.start()
