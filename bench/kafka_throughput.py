"""Agent throughput on a real Kafka broker, against the raw kafka-python poll loop, in one run.

    .venv/bin/python bench/kafka_throughput.py [--messages 200000] [--partitions 1]
                                               [--batch-size 2000] [--workers 2]
                                               [--bootstrap HOST:PORT]

Starts its own broker with scripts/kafka (unless --bootstrap is given), produces `--messages`
realistic messages (~800 bytes, 5 ID fields, id_monitor.traffic) to a fresh topic, then consumes
the whole topic four times, each in a fresh child process and consumer group:

- raw:   a KafkaConsumer poll loop that touches every record's value and does nothing else
         (the floor: what reading the topic costs in Python at all);
- agent: the agent's full pipeline (`Agent.from_config`): decode, extract, classify, judge,
         Prometheus metrics (exemplars, age histogram), offset commit per batch, /metrics served;
- agent --workers N: the same with checking in N worker processes (`id-monitor run --workers`);
- raw again, so a drift in machine load shows.

Both use the same consumer settings (id_monitor.sources.kafka.ConsumerTuning). Rates are timed
from the first record received to the last one done, so group joins do not count. Printed: each
rate, agent / floor (target >= 0.8), the pipeline's cost per message without Kafka, and each
child's peak RSS (VmHWM; target for the agent < 150 MB). With workers the RSS is the whole process
tree: the main process's peak plus each worker's (a sum of peaks: an upper bound).
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- children ----------------------------------------------------------------------------------

def child_raw(bootstrap: str, topic: str, n: int, batch_size: int) -> dict:
    from kafka import KafkaConsumer

    from id_monitor.sources.kafka import ConsumerTuning

    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"raw-{time.time_ns()}",
                             enable_auto_commit=False,
                             **ConsumerTuning(max_poll_records=batch_size).as_kwargs())
    seen = 0
    size = 0
    first = None
    while seen < n:
        batch = consumer.poll(timeout_ms=1000)
        if batch and first is None:
            first = time.perf_counter()
        for records in batch.values():
            for record in records:
                size += len(record.value)
                seen += 1
    elapsed = time.perf_counter() - first
    consumer.close(autocommit=False)
    return {"messages": seen, "seconds": elapsed, "rate": seen / elapsed, "bytes": size,
            "peak_rss_mb": peak_rss_mb()}


def child_agent(bootstrap: str, topic: str, n: int, batch_size: int, workers: int = 1) -> dict:
    from id_monitor.agent import Agent
    from id_monitor.config import Config
    from id_monitor.logs import configure
    from id_monitor.sources.kafka import ConsumerTuning

    configure("warning")
    config = Config.model_validate({
        "kafka": {"bootstrap_servers": bootstrap, "group_id": f"agent-{time.time_ns()}", "topics": [topic]},
        "metrics": {"listen": f"127.0.0.1:{free_port()}"},
    })
    agent = Agent.from_config(config, tuning=ConsumerTuning(max_poll_records=batch_size), workers=workers)
    totals = agent.totals
    poll = agent.source.poll
    marks: dict[str, float] = {}

    def timed_poll(timeout_ms: int):
        done = totals.ok + totals.malformed + totals.skipped
        if done >= n:
            marks.setdefault("last", time.perf_counter())
            agent.stop()
            return {}
        batch = poll(timeout_ms)
        if batch and "first" not in marks:
            marks["first"] = time.perf_counter()
        return batch

    spent = {"poll": 0.0, "commit": 0.0}

    def accounted_poll(timeout_ms: int):
        started = time.perf_counter()
        batch = timed_poll(timeout_ms)
        if "first" in marks and "last" not in marks:
            spent["poll"] += time.perf_counter() - started
        return batch

    commit = agent.source.commit

    def accounted_commit(offsets, timeout_ms: int = 5000):
        started = time.perf_counter()
        ok = commit(offsets, timeout_ms=timeout_ms)
        spent["commit"] += time.perf_counter() - started
        return ok

    commit_async, settle = agent.source.commit_async, agent.source.settle

    def accounted_commit_async(offsets, timeout_ms: int = 5000):
        started = time.perf_counter()
        pending = commit_async(offsets, timeout_ms=timeout_ms)
        spent["commit"] += time.perf_counter() - started
        return pending

    def accounted_settle(pending, timeout_ms: int):
        started = time.perf_counter()
        ok = settle(pending, timeout_ms)
        spent["commit"] += time.perf_counter() - started
        return ok

    agent.source.poll = accounted_poll
    agent.source.commit = accounted_commit
    agent.source.commit_async = accounted_commit_async
    agent.source.settle = accounted_settle
    agent.run()
    done = totals.ok + totals.malformed + totals.skipped
    elapsed = marks["last"] - marks["first"]
    workers_rss = list(getattr(agent.executor, "peak_rss_mb", {}).values())
    result = {"messages": done, "seconds": elapsed, "rate": done / elapsed, "peak_rss_mb": peak_rss_mb(),
              "workers_rss_mb": workers_rss, "exit_code": agent.exit_code,
              "commits": agent.state.commits, "batches": agent.state.batches,
              "poll_us": spent["poll"] / done * 1e6, "commit_us": spent["commit"] / done * 1e6}
    if workers == 1:  # after the RSS reading: it holds input
        result["pipeline_us_per_message"] = pipeline_cost(config)
    return result


def pipeline_cost(config) -> float:
    """The Checker alone (no Kafka, no HTTP) over fresh messages, in microseconds per message."""
    from collections import namedtuple

    from prometheus_client import CollectorRegistry

    from id_monitor.pipeline import Checker, Chunk, build_engine
    from id_monitor.sinks.metrics import IdMetrics
    from id_monitor.traffic import generate_lines

    engine = build_engine(config.model_copy(update={"kafka": None}))
    metrics = IdMetrics(engine.config, engine.schema, ["kafka:bench"], registry=CollectorRegistry())
    checker = Checker(engine)
    record = namedtuple("record", "value headers offset")
    lines = [record(line.rstrip(b"\n"), None, i) for i, line in enumerate(generate_lines(20_000, seed=99))]
    started = time.perf_counter()
    for start in range(0, len(lines), 2000):  # the agent's default batch
        metrics.merge(checker.check_batch([Chunk("kafka:bench", "bench", 0, lines[start:start + 2000])], 0).metrics)
    return (time.perf_counter() - started) / len(lines) * 1e6


# -- parent ------------------------------------------------------------------------------------

def produce(bootstrap: str, topic: str, n: int, partitions: int) -> float:
    from kafka import KafkaAdminClient, KafkaProducer
    from kafka.admin import NewTopic

    from id_monitor.traffic import generate_lines

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic, partitions, 1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, batch_size=512 * 1024, acks=1)
    size = 0
    for line in generate_lines(n, seed=7):
        value = line.rstrip(b"\n")
        size += len(value)
        producer.send(topic, value)
    producer.flush()
    producer.close()
    return size / n


def run_child(kind: str, bootstrap: str, topic: str, n: int, batch_size: int, workers: int = 1) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--bootstrap", bootstrap, "--topic", topic,
         "--messages", str(n), "--batch-size", str(batch_size), "--workers", str(workers)],
        capture_output=True, text=True, check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"{kind} child failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--partitions", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2, help="worker processes for the second agent run")
    parser.add_argument("--bootstrap", help="use this broker instead of starting one")
    parser.add_argument("--topic", help=argparse.SUPPRESS)
    parser.add_argument("--child", choices=["raw", "agent"], help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        if args.child == "raw":
            result = child_raw(args.bootstrap, args.topic, args.messages, args.batch_size)
        else:
            result = child_agent(args.bootstrap, args.topic, args.messages, args.batch_size, args.workers)
        print(json.dumps(result))
        return

    broker_dir = None
    bootstrap = args.bootstrap
    kafka = [str(ROOT / "scripts" / "kafka")]
    if bootstrap is None:
        broker_dir = Path(tempfile.mkdtemp(prefix="idm-kafka-bench-"))
        port, cport = free_port(), free_port()
        flags = ["--port", str(port), "--controller-port", str(cport), "--dir", str(broker_dir), "--heap", "1g"]
        started = time.perf_counter()
        subprocess.run(kafka + ["up", *flags], check=True, stdout=subprocess.DEVNULL)
        print(f"broker: started in {time.perf_counter() - started:.1f} s")
        bootstrap = f"127.0.0.1:{port}"
    try:
        topic = f"bench-{time.time_ns()}"
        started = time.perf_counter()
        avg = produce(bootstrap, topic, args.messages, args.partitions)
        print(f"produced {args.messages} messages of {avg:.0f} bytes on average "
              f"({args.partitions} partition(s)) in {time.perf_counter() - started:.1f} s")
        raw1 = run_child("raw", bootstrap, topic, args.messages, args.batch_size)
        agent = run_child("agent", bootstrap, topic, args.messages, args.batch_size)
        parallel = run_child("agent", bootstrap, topic, args.messages, args.batch_size, args.workers)
        raw2 = run_child("raw", bootstrap, topic, args.messages, args.batch_size)
    finally:
        if broker_dir is not None:
            subprocess.run(kafka + ["down", *flags], check=False, stdout=subprocess.DEVNULL)
            shutil.rmtree(broker_dir, ignore_errors=True)

    floor = max(raw1["rate"], raw2["rate"])
    print(f"raw poll loop (floor): {raw1['rate']:>9,.0f} msg/s, then {raw2['rate']:,.0f} msg/s "
          f"(peak RSS {raw1['peak_rss_mb']:.0f} MB)")
    print(f"agent full pipeline:   {agent['rate']:>9,.0f} msg/s over {agent['messages']:,} messages, "
          f"{agent['batches']} batches, {agent['commits']} commits")
    print(f"agent / floor:         {agent['rate'] / floor:.2f}   (target >= 0.8)")
    agent_us, floor_us = 1e6 / agent["rate"], 1e6 / floor
    rest = agent_us - agent["poll_us"] - agent["commit_us"]
    print(f"agent per message:     {agent_us:.1f} us = poll {agent['poll_us']:.1f} (floor: {floor_us:.1f}) "
          f"+ commit {agent['commit_us']:.1f} + checking and loop {rest:.1f}")
    print(f"checking alone:        {agent['pipeline_us_per_message']:.1f} us/message "
          f"(decode, extract, classify, judge, metrics; no Kafka)")
    print(f"agent peak RSS:        {agent['peak_rss_mb']:.0f} MB   (target < 150 MB)")
    tree = parallel["peak_rss_mb"] + sum(parallel["workers_rss_mb"])
    print(f"agent --workers {args.workers}:     {parallel['rate']:>9,.0f} msg/s, {parallel['batches']} batches, "
          f"{parallel['commits']} commits; / floor {parallel['rate'] / floor:.2f}, "
          f"x{parallel['rate'] / agent['rate']:.2f} over --workers 1")
    print(f"  per message:         {1e6 / parallel['rate']:.1f} us; main process waits: poll "
          f"{parallel['poll_us']:.1f} + commit {parallel['commit_us']:.1f}")
    print(f"  peak RSS, tree:      {tree:.0f} MB = main {parallel['peak_rss_mb']:.0f} + workers "
          + " + ".join(f"{r:.0f}" for r in parallel["workers_rss_mb"]) + "   (sum of peaks; target < 150 MB)")


if __name__ == "__main__":
    main()
