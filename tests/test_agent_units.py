"""The agent's pure parts, without a broker: throttled JSON logs, backoff, violation records, the
health server, the Checker's counting and the one run loop's order of checking and committing."""

from __future__ import annotations

import io
import json
import logging
import threading
import urllib.request

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from id_monitor.agent import Agent
from id_monitor.agent.health import HealthServer
from id_monitor.classify import Classifier
from id_monitor.config import Config
from id_monitor.logs import JsonFormatter, Throttle
from id_monitor.model import Finding
from id_monitor.pipeline import BatchResult, Where
from id_monitor.sinks.metrics import MetricsBatch
from id_monitor.sinks.redact import Redactor
from id_monitor.sinks.violations import StreamViolationSink, violation_record
from id_monitor.sources.batch import Batch, Chunk
from id_monitor.sources.kafka import Backoff
from id_monitor.traffic import generate
from tests.kafka_broker import counted, parse_metrics, total
from tests.support.wait import wait_until
from id_monitor.agent import InProcess

# -- logs ------------------------------------------------------------------------------------


def test_json_formatter_writes_one_object_with_fields() -> None:
    record = logging.LogRecord("id_monitor.kafka", logging.WARNING, "f", 1, "broker_lost", None, None)
    record.fields = {"error": "boom", "partitions": 3}
    line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert "\n" not in line
    assert entry["event"] == "broker_lost" and entry["level"] == "warning" and entry["partitions"] == 3


def test_throttle_logs_once_per_interval_and_counts_the_rest(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    logger = logging.getLogger("id_monitor.test_throttle")
    throttle = Throttle(logger, interval=30.0, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="id_monitor.test_throttle"):
        results = [throttle.log(logging.WARNING, "broker_unreachable") for _ in range(1000)]
        now[0] = 31.0
        throttle.log(logging.WARNING, "broker_unreachable")
        throttle.log(logging.WARNING, "other_event")
    assert results.count(True) == 1
    assert [r.getMessage() for r in caplog.records] == ["broker_unreachable", "broker_unreachable", "other_event"]
    assert caplog.records[1].fields["suppressed"] == 999
    throttle.reset("broker_unreachable")
    assert throttle.log(logging.WARNING, "broker_unreachable") is True


def test_backoff_doubles_up_to_the_cap_and_resets() -> None:
    backoff = Backoff(base=0.5, cap=4.0)
    assert [backoff.next_delay() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    backoff.reset()
    assert backoff.next_delay() == 0.5


# -- violation records -----------------------------------------------------------------------


def test_violation_record_carries_origin_and_no_raw_id() -> None:
    raw = "ws_conn_test_use_1757367656601_1_a2f73ae7"
    finding = Finding("isolation_breach", "connection_id", "violation", raw, Classifier().classify(raw),
                      "owner differs")
    stream = io.StringIO()
    redactor = Redactor("mask", {"ws_conn"})
    sink = StreamViolationSink(stream, redactor)
    sink.emit(finding, Where("kafka:events", "events", 2, 17, 5))
    record = json.loads(stream.getvalue())
    assert record == violation_record(finding, redactor, source="kafka:events", observed_ms=5, topic="events",
                                      partition=2, offset=17)
    assert record["rule"] == "isolation_breach" and record["partition"] == 2 and record["offset"] == 17
    assert record["id"] == "ws_conn_********_1757367656601_1_********" and record["id_type"] == "ws_conn"
    assert "test_use" not in stream.getvalue() and "a2f73ae7" not in stream.getvalue()


# -- Checker ---------------------------------------------------------------------------------


def _agent(config: dict | None = None, stream: bytes = b"", output: io.StringIO | None = None) -> Agent:
    return Agent.from_config(Config.model_validate(config or {}), input_stream=io.BytesIO(stream),
                             output=output, registry=CollectorRegistry(), serve_http=False)


def _records(values: list, traced_every: int = 0) -> list:
    from collections import namedtuple

    Rec = namedtuple("Rec", "value headers offset")
    traced = [("traceparent", b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")]
    return [Rec(v, traced if traced_every and i % traced_every == 0 else [], i) for i, v in enumerate(values)]


def test_checker_counts_every_outcome_and_never_raises() -> None:
    agent = _agent({"limits": {"max_message_bytes": 512}})
    good = orjson.dumps(next(generate(1, seed=2))[0])
    hostile = [None, b"", b"\xff", b"[1]", b"{" * 5000, b"x" * 600, "{\"a\": \"\ud800\"}", b"nul\x00l", good[:500]]
    result = agent.checker.check_batch([Chunk("stdin", None, None, _records(hostile))], 10**12)
    agent.metrics.merge(result.metrics)
    assert result.totals.skipped == 1
    assert result.totals.ok + result.totals.malformed + result.totals.skipped == len(hostile)
    samples = parse_metrics(_exposition(agent))
    assert total(samples, "id_monitor_messages_total") == len(hostile)
    assert total(samples, "id_monitor_messages_total", result="malformed") == result.totals.malformed >= 7


def test_checker_survives_a_judge_that_raises() -> None:
    agent = _agent({"engine": "python"})  # the Python judge is the one replaced by a broken one

    class Broken:
        def check(self, message, observed_ms):
            raise RuntimeError("bug")

        malformed = agent.checker.judge.malformed
        flush = agent.checker.judge.flush

    agent.checker.judge = Broken()
    result = agent.checker.check_batch([Chunk("stdin", None, None, _records([b'{"thread_id": "x"}']))], 10**12)
    assert result.totals.errors == 1 and result.totals.malformed == 1 and result.totals.ok == 0


def test_violations_are_counted_without_a_violation_sink() -> None:
    messages = b"".join(orjson.dumps(m) + b"\n" for m, _ in generate(200, seed=8))
    agent = _agent({}, stream=messages)
    assert agent.sink is None
    assert agent.run() == 0
    samples = parse_metrics(_exposition(agent))
    violations = total(samples, "id_monitor_findings_total", severity="violation")
    assert violations > 0
    assert agent.totals.violations == violations


def test_stream_mode_counts_and_writes_violations_to_output() -> None:
    messages = b"".join(orjson.dumps(m) + b"\n" for m, _ in generate(100, seed=8))
    out = io.StringIO()
    agent = _agent({"violations": {"redact": "hash"}}, stream=messages + b"not json\n\n", output=out)
    assert agent.run() == 0
    samples = parse_metrics(_exposition(agent))
    assert total(samples, "id_monitor_messages_total", result="ok") == 100
    assert total(samples, "id_monitor_messages_total", result="malformed") == 1
    assert total(samples, "id_monitor_messages_total", result="skipped") == 0  # a blank line is no message
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(records) == total(samples, "id_monitor_findings_total", severity="violation")
    assert all(r["id"] is None or r["id"].startswith("h:") for r in records)


def _exposition(agent: Agent) -> str:
    from prometheus_client import generate_latest

    return generate_latest(agent.metrics.registry).decode()


# -- health server ---------------------------------------------------------------------------


def test_health_server_endpoints() -> None:
    state = {"ready": (False, "broker unreachable")}
    registry = CollectorRegistry()
    server = HealthServer("127.0.0.1:0", registry, lambda: state["ready"]).start()
    try:
        base = f"http://127.0.0.1:{server.port}"

        def get(path: str) -> tuple[int, str]:
            try:
                with urllib.request.urlopen(base + path, timeout=5) as response:
                    return response.status, response.read().decode()
            except urllib.error.HTTPError as err:
                return err.code, err.read().decode()

        assert get("/healthz") == (200, "ok\n")
        assert get("/readyz") == (503, "broker unreachable\n")
        state["ready"] = (True, "ready: 2 partitions assigned")
        assert get("/readyz")[0] == 200
        assert get("/metrics")[0] == 200
        assert get("/nope")[0] == 404
    finally:
        server.stop()


def test_one_batch_counts_like_one_record_at_a_time() -> None:
    values = [orjson.dumps(m) for m, _ in generate(300, seed=13)] + [None, b"oops", b"[]", b"\xff"]
    records = _records(values, traced_every=7)
    config = {"policy": {"severity": {"owner_collision": "off"}}}
    one, batch = _agent(config), _agent(config)
    totals = BatchResult().totals
    for r in records:
        result = one.checker.check_batch([Chunk("kafka:t", "t", 0, [r])], 10**12)
        one.metrics.merge(result.metrics)
        totals.add(result.totals)
    result = batch.checker.check_batch([Chunk("kafka:t", "t", 0, records)], 10**12)
    batch.metrics.merge(result.metrics)
    assert totals == result.totals
    assert counted(parse_metrics(_exposition(one))) == counted(parse_metrics(_exposition(batch)))
    assert total(counted(parse_metrics(_exposition(batch))), "id_monitor_messages_total") == len(records)


class _ScriptedSource:
    """A Kafka source that serves fixed batches and answers commits as told, writing every call
    into `events` so a test can check their order. While paused it serves none; `rebalance`, if
    given (revoked, assigned after), runs at the first poll while paused, as a client runs a
    rebalance inside a poll."""

    def __init__(self, batches: list[dict], commit_ok: list[bool], agent_stop, rebalance: tuple | None = None) -> None:
        self.batches, self.commit_ok, self.agent_stop = list(batches), list(commit_ok), agent_stop
        self.events: list[tuple] = []
        self.reachable = True
        self.on_revoked = None
        self.partitions = {tp for batch in batches for tp in batch}
        self.paused = False
        self.rebalance = rebalance

    eof = False

    def pause(self) -> None:
        self.paused = True
        self.events.append(("paused",))

    def resume(self) -> None:
        self.paused = False
        self.events.append(("resumed",))

    def poll_batch(self, timeout_ms: int) -> Batch | None:
        if self.paused:
            if self.rebalance:
                (revoked, self.partitions), self.rebalance = self.rebalance, None
                self.events.append(("revoked", frozenset(revoked)))
                self.on_revoked(set(revoked))
            return None
        if not self.batches:
            self.agent_stop()
            return None
        polled = self.batches.pop(0)
        chunks = [Chunk(f"kafka:{tp.topic}", tp.topic, tp.partition, records) for tp, records in polled.items()]
        return Batch(chunks, {tp: records[-1].offset + 1 for tp, records in polled.items()})

    def commit_async(self, offsets: dict, timeout_ms: int = 5000):
        from id_monitor.sources.kafka import PendingCommit

        ok = self.commit_ok.pop(0) if self.commit_ok else True
        self.events.append(("commit_sent", dict(offsets)))
        return PendingCommit.settled(offsets, ok)

    def settle(self, pending, timeout_ms: int) -> bool:
        ok = pending.wait(timeout_ms) is None
        self.events.append(("commit_answered", dict(pending.offsets), ok))
        return ok

    def commit(self, offsets: dict, timeout_ms: int = 5000) -> bool:
        self.events.append(("commit_sync", dict(offsets)))
        return True

    def lag(self, timeout_ms: int = 1000) -> dict:
        return {}

    def assigned(self) -> frozenset:
        return frozenset(self.partitions)

    def close(self, timeout_ms: int = 3000) -> None:
        self.events.append(("closed",))


def _scripted_agent(batches: list[dict], commit_ok: list[bool], rebalance: tuple | None = None):
    """An agent whose loop drives a `_ScriptedSource`; each recorded batch is logged as
    ("recorded", messages) among the source's events."""
    agent = _agent({})
    source = _ScriptedSource(batches, commit_ok=commit_ok, agent_stop=agent.stop, rebalance=rebalance)
    source.on_revoked = agent._on_revoked
    agent.source = source
    agent.state.mode = "kafka"
    agent.executor = InProcess(agent.checker)
    record = agent._record

    def recorded(result):
        source.events.append(("recorded", result.totals.ok))
        return record(result)

    agent._record = recorded
    return agent, source


def _batches(partitions: list, per_batch: int, count: int, first: int = 0) -> list[dict]:
    from collections import namedtuple

    Rec = namedtuple("Rec", "value headers offset")
    lines = [orjson.dumps(m) for m, _ in generate(per_batch * count, seed=3)]
    return [{tp: [Rec(v, [], first + per_batch * k + i) for i, v in enumerate(lines[per_batch * k:per_batch * (k + 1)])]
             for tp in partitions} for k in range(count)]


def test_kafka_loop_records_no_batch_until_a_failed_commit_is_retried_and_succeeds() -> None:
    """Defect: after a failed commit the loop recorded the next batch anyway, so two recorded batches
    were uncommitted and a rebalance replayed both. Now the source is paused, the pending offsets
    (commits are cumulative) retried with backoff, and only their success lets the batch in hand be
    recorded."""
    from kafka.structs import TopicPartition

    tp = TopicPartition("t", 0)
    # The second commit fails, and so does its first retry.
    agent, source = _scripted_agent(_batches([tp], 10, 3), commit_ok=[True, False, False, True])
    agent._loop()
    agent._shutdown()
    assert source.events == [
        ("recorded", 10), ("commit_sent", {tp: 10}), ("commit_answered", {tp: 10}, True),
        ("recorded", 10), ("commit_sent", {tp: 20}), ("commit_answered", {tp: 20}, False),
        ("paused",),
        ("commit_sent", {tp: 20}), ("commit_answered", {tp: 20}, False),
        ("commit_sent", {tp: 20}), ("commit_answered", {tp: 20}, True),
        ("recorded", 10), ("commit_sent", {tp: 30}),
        ("resumed",),
        ("commit_answered", {tp: 30}, True),
        ("closed",),
    ]
    assert agent.state.pending_offsets == {} and agent.state.commits == 3
    assert agent.totals.ok == 30


def test_a_rebalance_while_a_commit_is_owed_drops_the_batch_in_hand() -> None:
    """The held batch's partition is revoked: its new owner (here this process again) fetches it
    from the last commit, so the batch is not recorded (that would count it twice); the offsets
    of the failed commit are dropped too, and the loop goes on with what it is assigned."""
    from kafka.structs import TopicPartition

    tp = TopicPartition("t", 0)
    # The third batch is held (the second's commit failed); the rebalance hands the partition back
    # from the last commit (10): the second batch comes again, then the third.
    polled = _batches([tp], 10, 3) + _batches([tp], 10, 2, first=10)
    agent, source = _scripted_agent(polled, commit_ok=[True, False], rebalance=({tp}, {tp}))
    agent._loop()
    agent._shutdown()
    assert source.events == [
        ("recorded", 10), ("commit_sent", {tp: 10}), ("commit_answered", {tp: 10}, True),
        ("recorded", 10), ("commit_sent", {tp: 20}), ("commit_answered", {tp: 20}, False),
        ("paused",), ("revoked", frozenset({tp})), ("resumed",),
        ("recorded", 10), ("commit_sent", {tp: 20}), ("commit_answered", {tp: 20}, True),
        ("recorded", 10), ("commit_sent", {tp: 30}), ("commit_answered", {tp: 30}, True),
        ("closed",),
    ]
    assert agent.totals.ok == 40  # 30 offsets; the failed commit's batch counted twice: one batch
    assert agent.state.pending_offsets == {}


def test_a_rebalance_that_takes_part_of_the_batch_in_hand_keeps_the_rest() -> None:
    """Two partitions, one revoked while the commit is owed: the held batch is checked again with
    the kept partition's records only (those are not fetched again), and only its offsets are
    committed."""
    from kafka.structs import TopicPartition

    kept, taken = TopicPartition("t", 0), TopicPartition("t", 1)
    agent, source = _scripted_agent(_batches([kept, taken], 10, 3), commit_ok=[True, False, True],
                                    rebalance=({taken}, {kept}))
    agent._loop()
    agent._shutdown()
    assert source.events == [
        ("recorded", 20), ("commit_sent", {kept: 10, taken: 10}), ("commit_answered", {kept: 10, taken: 10}, True),
        ("recorded", 20), ("commit_sent", {kept: 20, taken: 20}),
        ("commit_answered", {kept: 20, taken: 20}, False),
        ("paused",), ("revoked", frozenset({taken})),
        ("commit_sent", {kept: 20}), ("commit_answered", {kept: 20}, True),
        ("recorded", 10), ("commit_sent", {kept: 30}),
        ("resumed",),
        ("commit_answered", {kept: 30}, True),
        ("closed",),
    ]
    assert agent.totals.ok == 50  # the held batch's taken partition is left to its new owner


@given(st.dictionaries(st.integers(0, 5), st.integers(1, 4), min_size=1), st.sets(st.integers(0, 7)))
def test_revoking_partitions_of_a_batch_in_hand_leaves_exactly_the_others(sizes: dict, revoked: set) -> None:
    from kafka.structs import TopicPartition

    from id_monitor.agent.dispatched import Dispatched

    chunks = [Chunk("kafka:t", "t", p, list(range(n))) for p, n in sizes.items()]
    entry = Dispatched(None, {TopicPartition("t", p): n for p, n in sizes.items()}, chunks, 0)
    entry.revoke({TopicPartition("t", p) for p in revoked})
    kept = set(sizes) - revoked
    assert {c.partition for c in entry.chunks} == kept == {tp.partition for tp in entry.offsets}
    assert entry.revoked == bool(set(sizes) & revoked)
    assert entry.dropped == sum(n for p, n in sizes.items() if p in revoked)
    assert sum(len(c.records) for c in entry.chunks) + entry.dropped == sum(sizes.values())


def test_sigterm_while_a_commit_is_owed_leaves_the_batch_in_hand_unrecorded() -> None:
    from kafka.structs import TopicPartition

    tp = TopicPartition("t", 0)
    agent, source = _scripted_agent(_batches([tp], 10, 2), commit_ok=[False] * 100)
    loop = threading.Thread(target=agent._loop, daemon=True)
    loop.start()
    wait_until(lambda: ("paused",) in source.events, timeout=10, message="the source paused")
    agent.stop()
    loop.join(10)
    assert not loop.is_alive()
    agent._shutdown()
    assert [e for e in source.events if e[0] == "recorded"] == [("recorded", 10)]
    assert source.events[-2:] == [("commit_sync", {tp: 10}), ("closed",)]


def test_worker_batches_merge_to_one_process_counts() -> None:
    """What `--workers` does with counts: each worker checks slices into its own BatchResult, which
    travels by pickle; merged into the served IdMetrics they equal one process's counts, ages and
    exemplars included."""
    import pickle

    records = _records([orjson.dumps(m) for m, _ in generate(400, seed=21)] + [None, b"oops", b"\xff"],
                       traced_every=9)
    config = {"policy": {"severity": {"owner_collision": "off"}}}
    one, served = _agent(config), _agent(config)
    workers = [_agent(config), _agent(config)]
    one.metrics.merge(one.checker.check_batch([Chunk("kafka:t", "t", 0, records)], 10**12).metrics)
    for start in range(0, len(records), 50):
        worker = workers[(start // 50) % 2]
        result = worker.checker.check_batch([Chunk("kafka:t", "t", 0, records[start:start + 50])], 10**12)
        served.metrics.merge(pickle.loads(pickle.dumps(result)).metrics)
    expected = counted(parse_metrics(_exposition(one)))
    assert counted(parse_metrics(_exposition(served))) == expected
    assert total(expected, "id_monitor_messages_total") == len(records)
    # Exemplars travel with the counts they belong to.
    from prometheus_client.openmetrics.exposition import generate_latest as openmetrics

    assert 'trace_id="4bf92f3577b34da6a3ce929d0e0e4736"' in openmetrics(served.metrics.registry).decode()


def test_metrics_batch_bounds_unknown_labels_as_other() -> None:
    agent = _agent({})
    batch = MetricsBatch()
    batch.message("kafka:not-configured", "ok", 3)
    agent.metrics.merge(batch)
    samples = counted(parse_metrics(_exposition(agent)))
    assert total(samples, "id_monitor_messages_total", source="other", result="ok") == 3


class _FailingSink:
    """A violation sink whose flush fails (broker gone) until `healthy` is set."""

    def __init__(self) -> None:
        self.healthy = threading.Event()
        self.failures = 0
        self.emitted: list = []

    def emit(self, finding, where) -> None:
        self.emitted.append(finding)

    def flush(self, timeout: float | None = None) -> None:
        if not self.healthy.is_set():
            self.failures += 1
            raise RuntimeError("3 violation records not acknowledged yet")

    def close(self) -> None:
        pass


def test_not_ready_and_says_why_while_violation_records_cannot_be_delivered(caplog: pytest.LogCaptureFixture) -> None:
    """Defect: with violation records configured, /readyz stayed 200 through a broker outage (the
    loop sat in the sink's flush and never refreshed readiness) and no broker_lost was logged."""
    from kafka.structs import TopicPartition

    tp = TopicPartition("t", 0)
    bad = [orjson.dumps({"thread_id": "undefined", "user_id": "u"})] * 5
    agent = _agent({})
    source = _ScriptedSource([{tp: _records(bad)}], commit_ok=[True], agent_stop=lambda: None)
    sink = _FailingSink()
    agent.source, agent.sink, agent.state.mode = source, sink, "kafka"
    agent.executor = InProcess(agent.checker)
    agent.state.started = True
    assert agent.readiness()[0] is True
    with caplog.at_level(logging.INFO, logger="id_monitor.agent"):
        loop = threading.Thread(target=agent._loop, daemon=True)
        loop.start()
        wait_until(lambda: not agent.readiness()[0], timeout=10, message="not ready while the flush fails")
        assert sink.failures >= 1
        assert agent.readiness()[1].startswith("violation records not delivered")
        assert any(r.getMessage() == "broker_lost" for r in caplog.records)
        assert agent.state.pending_offsets == {}  # nothing committed while records are unsent
        sink.healthy.set()
        wait_until(lambda: agent.readiness()[0], timeout=10, message="ready again")
        agent.stop()
        loop.join(10)
    assert any(r.getMessage() == "broker_reachable_again" for r in caplog.records)
    assert len(sink.emitted) == 5 and source.events[0] == ("commit_sent", {tp: 5})
