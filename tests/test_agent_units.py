"""The agent's pure parts, without a broker: line reading, traceparent, throttled JSON logs,
backoff, violation records, the health server, and the Checker's counting."""

from __future__ import annotations

import io
import json
import logging
import urllib.request

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from id_monitor.agent import Agent, Checker, trace_id_from_headers
from id_monitor.config import Config
from id_monitor.health import HealthServer
from id_monitor.logs import JsonFormatter, Throttle
from id_monitor.model import Finding
from id_monitor.sinks.violations import StreamViolationSink, violation_record
from id_monitor.sources.kafka import Backoff
from id_monitor.sources.stream import Oversized, read_lines
from id_monitor.traffic import generate
from tests.kafka_broker import counted, parse_metrics, total

# -- read_lines ------------------------------------------------------------------------------


@given(st.lists(st.binary(max_size=40).filter(lambda b: b"\n" not in b and b"\r" not in b), max_size=30),
       st.integers(min_value=1, max_value=30))
def test_read_lines_yields_every_line_or_its_oversize(lines: list[bytes], limit: int) -> None:
    data = b"".join(line + b"\n" for line in lines)
    out = list(read_lines(io.BytesIO(data), limit))
    assert len(out) == len(lines)
    for got, line in zip(out, lines):
        if len(line) > limit:
            assert got == Oversized(len(line))
        else:
            assert got == line


def test_read_lines_handles_crlf_and_a_last_line_without_newline() -> None:
    assert list(read_lines(io.BytesIO(b"a\r\nbb\nccc"), 10)) == [b"a", b"bb", b"ccc"]
    assert list(read_lines(io.BytesIO(b"x" * 100 + b"\nok\n"), 10)) == [Oversized(100), b"ok"]


def test_read_lines_skips_a_huge_line_in_bounded_pieces() -> None:
    huge = b"y" * (3 * (1 << 16) + 5)
    assert list(read_lines(io.BytesIO(huge + b"\n{}\n"), 1000)) == [Oversized(len(huge)), b"{}"]


# -- traceparent -----------------------------------------------------------------------------


def test_trace_id_from_a_valid_traceparent() -> None:
    header = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    assert trace_id_from_headers([("other", b"x"), ("traceparent", header)]) == "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.mark.parametrize("value", [
    b"", b"garbage", b"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
    b"00-zzzz2f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", b"\xff\xfe", b"00-abc-def-01",
])
def test_invalid_traceparent_gives_no_exemplar(value: bytes) -> None:
    assert trace_id_from_headers([("traceparent", value)]) is None
    assert trace_id_from_headers(None) is None


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
    finding = Finding("isolation_breach", "connection_id", "violation", "ws_conn", "ws_conn",
                      "ws_conn_********_1757367656601_1_********", "owner differs")
    stream = io.StringIO()
    sink = StreamViolationSink(stream)
    sink.emit(finding, source="kafka:events", observed_ms=5, topic="events", partition=2, offset=17)
    record = json.loads(stream.getvalue())
    assert record == violation_record(finding, source="kafka:events", observed_ms=5, topic="events",
                                      partition=2, offset=17)
    assert record["rule"] == "isolation_breach" and record["partition"] == 2 and record["offset"] == 17
    assert "test_use" not in stream.getvalue()


# -- Checker ---------------------------------------------------------------------------------


def _agent(config: dict | None = None, stream: bytes = b"", output: io.StringIO | None = None) -> Agent:
    return Agent.from_config(Config.model_validate(config or {}), input_stream=io.BytesIO(stream),
                             output=output, registry=CollectorRegistry(), serve_http=False)


def test_checker_counts_every_outcome_and_never_raises() -> None:
    agent = _agent({"limits": {"max_message_bytes": 512}})
    checker: Checker = agent.checker
    good = orjson.dumps(next(generate(1, seed=2))[0])
    hostile = [None, b"", b"\xff", b"[1]", b"{" * 5000, b"x" * 600, "{\"a\": \"\ud800\"}", b"nul\x00l"]
    results = [checker.check("stdin", value) for value in hostile] + [checker.check("stdin", good[:500])]
    assert results[0] == "skipped"
    assert all(r in ("ok", "malformed") for r in results[1:])
    samples = parse_metrics(_exposition(agent))
    assert total(samples, "id_monitor_messages_total") == len(results)
    assert total(samples, "id_monitor_messages_total", result="malformed") == checker.totals.malformed


def test_checker_survives_a_judge_that_raises() -> None:
    agent = _agent()

    class Broken:
        def check(self, message, observed_ms):
            raise RuntimeError("bug")

        malformed = agent.checker.judge.malformed

    agent.checker.judge = Broken()
    assert agent.checker.check("stdin", b'{"thread_id": "x"}') == "malformed"
    assert agent.checker.totals.errors == 1


def test_stream_mode_counts_and_writes_violations_to_output() -> None:
    messages = b"".join(orjson.dumps(m) + b"\n" for m, _ in generate(100, seed=8))
    out = io.StringIO()
    agent = _agent({"violations": {"redact": "hash"}}, stream=messages + b"not json\n\n", output=out)
    assert agent.run() == 0
    samples = parse_metrics(_exposition(agent))
    assert total(samples, "id_monitor_messages_total", result="ok") == 100
    assert total(samples, "id_monitor_messages_total", result="malformed") == 1
    assert total(samples, "id_monitor_messages_total", result="skipped") == 1
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


def test_check_records_counts_like_check_per_message() -> None:
    from collections import namedtuple

    Rec = namedtuple("Rec", "value headers offset")
    values = [orjson.dumps(m) for m, _ in generate(300, seed=13)] + [None, b"oops", b"[]", b"\xff"]
    traced = [("traceparent", b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")]
    records = [Rec(v, traced if i % 7 == 0 else [], i) for i, v in enumerate(values)]
    config = {"policy": {"severity": {"owner_collision": "off"}}}
    one, batch = _agent(config), _agent(config)
    for r in records:
        one.checker.check("kafka:t", r.value, topic="t", partition=0, offset=r.offset, observed_ms=10**12)
    batch.checker.check_records("kafka:t", "t", 0, records, observed_ms=10**12)
    assert one.checker.totals == batch.checker.totals
    assert counted(parse_metrics(_exposition(one))) == counted(parse_metrics(_exposition(batch)))
    assert total(counted(parse_metrics(_exposition(batch))), "id_monitor_messages_total") == len(records)


class _ScriptedSource:
    """A Kafka source that serves fixed batches and answers commits as told, writing every call
    into `events` so a test can check their order."""

    def __init__(self, batches: list[dict], commit_ok: list[bool], agent_stop) -> None:
        self.batches, self.commit_ok, self.agent_stop = list(batches), list(commit_ok), agent_stop
        self.events: list[tuple] = []
        self.reachable = True
        self.on_revoked = None

    def poll(self, timeout_ms: int) -> dict:
        if not self.batches:
            self.agent_stop()
            return {}
        return self.batches.pop(0)

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
        return frozenset()

    def close(self, timeout_ms: int = 3000) -> None:
        self.events.append(("closed",))


def test_kafka_loop_checks_a_batch_only_after_the_previous_commit_is_answered() -> None:
    from collections import namedtuple

    from kafka.structs import TopicPartition

    Rec = namedtuple("Rec", "value headers offset")
    tp = TopicPartition("t", 0)
    lines = [orjson.dumps(m) for m, _ in generate(30, seed=3)]
    batches = [{tp: [Rec(v, [], 10 * k + i) for i, v in enumerate(lines[10 * k:10 * k + 10])]}
               for k in range(3)]
    agent = _agent({})
    # The second commit fails: its offsets stay pending and go out with the third batch's.
    source = _ScriptedSource(batches, commit_ok=[True, False, True], agent_stop=agent.stop)
    agent.source = source
    checked = agent.checker.check_records

    def check_records(source_label, topic, partition, records, observed_ms):
        source.events.append(("checked", records[0].offset, records[-1].offset))
        return checked(source_label, topic, partition, records, observed_ms)

    agent.checker.check_records = check_records
    agent._run_kafka()
    agent._shutdown()
    assert source.events == [
        ("checked", 0, 9), ("commit_sent", {tp: 10}),
        ("commit_answered", {tp: 10}, True), ("checked", 10, 19), ("commit_sent", {tp: 20}),
        ("commit_answered", {tp: 20}, False), ("checked", 20, 29), ("commit_sent", {tp: 30}),
        ("commit_answered", {tp: 30}, True),
        ("closed",),
    ]
    assert agent.state.pending_offsets == {} and agent.state.commits == 2
    assert agent.checker.totals.ok == 30


def test_metric_deltas_from_worker_checkers_merge_to_one_process_counts() -> None:
    """What `--workers` does with counts: each worker checks slices into a private IdMetrics and
    hands over `take_delta()`; merged into the served IdMetrics they equal one process's counts,
    ages and exemplars included."""
    from collections import namedtuple

    Rec = namedtuple("Rec", "value headers offset")
    values = [orjson.dumps(m) for m, _ in generate(400, seed=21)] + [None, b"oops", b"\xff"]
    traced = [("traceparent", b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")]
    records = [Rec(v, traced if i % 9 == 0 else [], i) for i, v in enumerate(values)]
    config = {"policy": {"severity": {"owner_collision": "off"}}}
    one, served = _agent(config), _agent(config)
    workers = [_agent(config), _agent(config)]
    one.checker.check_records("kafka:t", "t", 0, records, observed_ms=10**12)
    for start in range(0, len(records), 50):
        worker = workers[(start // 50) % 2]
        worker.checker.check_records("kafka:t", "t", 0, records[start:start + 50], observed_ms=10**12)
        served.metrics.merge(worker.metrics.take_delta())
    expected = counted(parse_metrics(_exposition(one)))
    assert counted(parse_metrics(_exposition(served))) == expected
    assert total(expected, "id_monitor_messages_total") == len(records)
    # A delta is taken once: the worker's own counts are back at zero.
    for worker in workers:
        assert total(counted(parse_metrics(_exposition(worker))), "id_monitor_messages_total") == 0
    # Exemplars travel with the counts they belong to.
    from prometheus_client.openmetrics.exposition import generate_latest as openmetrics

    assert 'trace_id="4bf92f3577b34da6a3ce929d0e0e4736"' in openmetrics(served.metrics.registry).decode()
