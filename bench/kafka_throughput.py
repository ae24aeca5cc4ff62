"""Agent throughput on a real Kafka broker, on each Kafka client, against that client's raw consume
loop, in one run.

    .venv/bin/python bench/kafka_throughput.py [--messages 200000] [--partitions 1]
                                               [--batch-size 2000] [--workers 2]
                                               [--clients kafka-python,confluent-kafka]
                                               [--bootstrap HOST:PORT]

Starts its own broker with scripts/kafka (unless --bootstrap is given), produces `--messages`
realistic messages (~800 bytes, 5 ID fields, id_monitor.traffic) to a fresh topic, then consumes
the whole topic several times, each in a fresh child process and consumer group:

- raw, per client: a poll loop (kafka-python `poll`, confluent-kafka `consume`) that touches every
  record's value and does nothing else (the floor: what reading the topic costs at all);
- agent, per client (`kafka.client`): the agent's full pipeline (`Agent.from_config`): decode,
  extract, classify, judge, Prometheus metrics (exemplars, age histogram), offset commit per
  batch, /metrics served;
- agent --workers N on kafka-python: the same with checking in N worker processes;
- raw again per client, so a drift in machine load shows.

Raw loop and agent of one client use the same consumer settings (config.kafka_consumer: the
agent's defaults mapped onto that client). Rates and CPU are timed from the first record received
to the last one done, so group joins do not count; CPU is the process's (all threads: librdkafka's
too). Printed per client: each rate and CPU per message, agent / raw loop of the same client
(targets: kafka-python >= 0.8, confluent-kafka >= 0.4, moonshot 0.7), which engine checked, the
agent's CPU per message by stage (the loop thread's CPU, `time.thread_time`, in: poll, the native
core's call, the batch glue around it, recording, commit, the rest of the loop; and the other
threads': the client's IO threads, the committer, /metrics), the pipeline's cost per message
without Kafka, and each child's peak RSS (VmHWM; target for the agent
< 150 MB). With workers the RSS is the whole process tree: the main process's peak plus each
worker's (a sum of peaks: an upper bound).
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

def consumer_settings(client: str, batch_size: int) -> dict:
    """The agent's consumer settings for `client`, in that client's own names."""
    from id_monitor.config.kafka_consumer import ConsumerSpec
    from id_monitor.config.kafka_consumer import consumer_settings as mapped

    return mapped(ConsumerSpec(max_poll_records=batch_size), client)


def child_raw(client: str, bootstrap: str, topic: str, n: int, batch_size: int) -> dict:
    """Read the topic and touch every value, nothing else: the floor for `client`."""
    group = f"raw-{time.time_ns()}"
    seen = size = 0
    first = cpu_first = None
    if client == "kafka-python":
        from kafka import KafkaConsumer

        consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                                 metrics_enabled=False, **consumer_settings(client, batch_size))
        while seen < n:
            batch = consumer.poll(timeout_ms=1000)
            if batch and first is None:
                first, cpu_first = time.perf_counter(), time.process_time()
            for records in batch.values():
                for record in records:
                    size += len(record.value)
                    seen += 1
        elapsed, cpu = time.perf_counter() - first, time.process_time() - cpu_first
        consumer.close(autocommit=False)
    else:
        from confluent_kafka import Consumer

        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
                             **consumer_settings(client, batch_size)})
        consumer.subscribe([topic])
        while seen < n:
            # Asking for no more than is left: the last call returns once the topic is read
            # instead of waiting out its timeout for a batch that cannot fill.
            batch = consumer.consume(min(batch_size, n - seen), 1.0)
            if batch and first is None:
                first, cpu_first = time.perf_counter(), time.process_time()
            for message in batch:
                if message.error() is None:
                    size += len(message.value())
                    seen += 1
        elapsed, cpu = time.perf_counter() - first, time.process_time() - cpu_first
        consumer.close()
    return {"messages": seen, "seconds": elapsed, "rate": seen / elapsed, "cpu_us": cpu / seen * 1e6,
            "bytes": size, "peak_rss_mb": peak_rss_mb()}


def child_agent(client: str, bootstrap: str, topic: str, n: int, batch_size: int, workers: int = 1) -> dict:
    from id_monitor.agent import Agent
    from id_monitor.config import Config
    from id_monitor.logs import configure

    configure("warning")
    config = Config.model_validate({
        "kafka": {"bootstrap_servers": bootstrap, "group_id": f"agent-{time.time_ns()}", "topics": [topic],
                  "client": client},
        "metrics": {"listen": f"127.0.0.1:{free_port()}"},
    })
    agent = Agent.from_config(config, batch_size=batch_size, workers=workers)
    totals = agent.totals
    source = agent.source
    poll_batch = source.poll_batch
    marks: dict[str, float] = {}
    spent = {"poll": 0.0, "commit": 0.0}
    # CPU of the loop's thread per stage (time.thread_time), while the run is timed.
    cpu = {"poll": 0.0, "check": 0.0, "core": 0.0, "record": 0.0, "commit": 0.0}

    def cpu_of(stage: str, call):
        def wrapper(*args, **kwargs):
            started = time.thread_time()
            try:
                return call(*args, **kwargs)
            finally:
                if "first" in marks and "last" not in marks:
                    cpu[stage] += time.thread_time() - started
        return wrapper

    def timed_poll_batch(timeout_ms: int):
        done = totals.ok + totals.malformed + totals.skipped
        if done >= n:
            if "last" not in marks:
                marks["last"], marks["cpu_last"] = time.perf_counter(), time.process_time()
                marks["thread_last"] = time.thread_time()
            agent.stop()
            return None
        started, cpu_started = time.perf_counter(), time.thread_time()
        batch = poll_batch(timeout_ms)
        if batch is not None and "first" not in marks:
            marks["first"], marks["cpu_first"] = time.perf_counter(), time.process_time()
            marks["thread_first"] = time.thread_time()
        elif "first" in marks:
            spent["poll"] += time.perf_counter() - started
            cpu["poll"] += time.thread_time() - cpu_started
        return batch

    def accounted(call):
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                if "first" in marks and "last" not in marks:
                    spent["commit"] += time.perf_counter() - started
        return wrapper

    source.poll_batch = timed_poll_batch
    source.commit, source.commit_async, source.settle = (
        cpu_of("commit", accounted(call)) for call in (source.commit, source.commit_async, source.settle))
    agent.checker.check_batch = cpu_of("check", agent.checker.check_batch)
    native = agent.checker._native
    if native is not None:  # the compiled core's call (its input list and result tuples included)
        native._core.check_batch = cpu_of("core", native._core.check_batch)
    agent._record = cpu_of("record", agent._record)
    agent.run()
    done = totals.ok + totals.malformed + totals.skipped
    elapsed = marks["last"] - marks["first"]
    workers_rss = list(getattr(agent.executor, "peak_rss_mb", {}).values())
    result = {"messages": done, "seconds": elapsed, "rate": done / elapsed, "peak_rss_mb": peak_rss_mb(),
              # CPU of this process (all its threads, librdkafka's included), not of workers.
              "cpu_us": (marks["cpu_last"] - marks["cpu_first"]) / done * 1e6,
              "workers_rss_mb": workers_rss, "exit_code": agent.exit_code, "engine": agent.engine.name,
              "commits": agent.state.commits, "batches": agent.state.batches,
              "poll_us": spent["poll"] / done * 1e6, "commit_us": spent["commit"] / done * 1e6,
              "loop_thread_cpu_us": (marks["thread_last"] - marks["thread_first"]) / done * 1e6,
              "stage_cpu_us": {stage: seconds / done * 1e6 for stage, seconds in cpu.items()}}
    if workers == 1:  # after the RSS reading: it holds input
        result["pipeline_us_per_message"] = pipeline_cost(config)
    return result


def pipeline_cost(config) -> float:
    """The Checker alone (no Kafka, no HTTP) over fresh messages, in CPU microseconds per message."""
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
    # Seen now, as the agent sees them (at time 0 every timestamped ID would be a skew violation).
    observed_ms = int(time.time() * 1000)
    started = time.process_time()
    for start in range(0, len(lines), 2000):  # the agent's default batch
        chunk = Chunk("kafka:bench", "bench", 0, lines[start:start + 2000])
        metrics.merge(checker.check_batch([chunk], observed_ms).metrics)
    return (time.process_time() - started) / len(lines) * 1e6


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


def run_child(kind: str, client: str, bootstrap: str, topic: str, n: int, batch_size: int,
              workers: int = 1) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--client", client, "--bootstrap", bootstrap, "--topic", topic,
         "--messages", str(n), "--batch-size", str(batch_size), "--workers", str(workers)],
        capture_output=True, text=True, check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"{kind} {client} child failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


CLIENTS = ("kafka-python", "confluent-kafka")
# agent / raw loop of the same client: the targets, then the moonshot (confluent-kafka).
TARGETS = {"kafka-python": "target >= 0.8", "confluent-kafka": "target >= 0.4, moonshot 0.7"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--partitions", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2,
                        help="worker processes for an extra kafka-python agent run (1: no such run)")
    parser.add_argument("--clients", default=",".join(CLIENTS), help="comma-separated: kafka-python,confluent-kafka")
    parser.add_argument("--bootstrap", help="use this broker instead of starting one")
    parser.add_argument("--topic", help=argparse.SUPPRESS)
    parser.add_argument("--client", choices=CLIENTS, help=argparse.SUPPRESS)
    parser.add_argument("--child", choices=["raw", "agent"], help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        if args.child == "raw":
            result = child_raw(args.client, args.bootstrap, args.topic, args.messages, args.batch_size)
        else:
            result = child_agent(args.client, args.bootstrap, args.topic, args.messages, args.batch_size,
                                 args.workers)
        print(json.dumps(result))
        return
    clients = [c for c in args.clients.split(",") if c]
    unknown = [c for c in clients if c not in CLIENTS]
    if unknown:
        parser.error(f"--clients: unknown client {unknown[0]!r} (clients: {', '.join(CLIENTS)})")

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
    raws: dict[str, list[dict]] = {c: [] for c in clients}
    agents: dict[str, dict] = {}
    parallel = None
    n, batch = args.messages, args.batch_size
    try:
        topic = f"bench-{time.time_ns()}"
        started = time.perf_counter()
        avg = produce(bootstrap, topic, n, args.partitions)
        print(f"produced {n} messages of {avg:.0f} bytes on average "
              f"({args.partitions} partition(s)) in {time.perf_counter() - started:.1f} s")
        for client in clients:
            raws[client].append(run_child("raw", client, bootstrap, topic, n, batch))
        for client in clients:
            agents[client] = run_child("agent", client, bootstrap, topic, n, batch)
        if args.workers > 1 and "kafka-python" in clients:
            parallel = run_child("agent", "kafka-python", bootstrap, topic, n, batch, args.workers)
        for client in clients:
            raws[client].append(run_child("raw", client, bootstrap, topic, n, batch))
    finally:
        if broker_dir is not None:
            subprocess.run(kafka + ["down", *flags], check=False, stdout=subprocess.DEVNULL)
            shutil.rmtree(broker_dir, ignore_errors=True)

    for client in clients:
        first, second = raws[client]
        floor = max(first, second, key=lambda r: r["rate"])
        agent = agents[client]
        print(f"\n{client}:")
        print(f"  raw consume loop:    {first['rate']:>9,.0f} msg/s, then {second['rate']:,.0f} msg/s; "
              f"CPU {floor['cpu_us']:.1f} us/message (peak RSS {floor['peak_rss_mb']:.0f} MB)")
        print(f"  agent ({agent['engine']} engine): {agent['rate']:>9,.0f} msg/s, CPU {agent['cpu_us']:.1f} us/message, "
              f"{agent['batches']} batches, {agent['commits']} commits")
        print(f"  agent / raw loop:    {agent['rate'] / floor['rate']:.2f}   ({TARGETS[client]})")
        agent_us = 1e6 / agent["rate"]
        rest = agent_us - agent["poll_us"] - agent["commit_us"]
        print(f"  agent per message:   {agent_us:.1f} us = poll {agent['poll_us']:.1f} "
              f"(raw loop: {1e6 / floor['rate']:.1f}) + commit {agent['commit_us']:.1f} + checking and loop {rest:.1f}")
        stages = agent["stage_cpu_us"]
        loop_cpu = agent["loop_thread_cpu_us"]
        glue = stages["check"] - stages["core"]
        loop_rest = loop_cpu - stages["poll"] - stages["check"] - stages["record"] - stages["commit"]
        print(f"  agent CPU / message: {agent['cpu_us']:.1f} us = loop thread {loop_cpu:.1f} (poll {stages['poll']:.1f}"
              f" [raw loop, all threads: {floor['cpu_us']:.1f}] + native core {stages['core']:.1f}"
              f" + batch glue {glue:.1f} + record {stages['record']:.1f} + commit {stages['commit']:.1f}"
              f" + loop {loop_rest:.1f}) + other threads {agent['cpu_us'] - loop_cpu:.1f}")
        print(f"  checking alone:      {agent['pipeline_us_per_message']:.1f} us CPU/message "
              f"(decode, extract, classify, judge, metrics; no Kafka)")
        print(f"  agent peak RSS:      {agent['peak_rss_mb']:.0f} MB   (target < 150 MB)")
    if parallel is not None:
        agent = agents["kafka-python"]
        floor = max(r["rate"] for r in raws["kafka-python"])
        tree = parallel["peak_rss_mb"] + sum(parallel["workers_rss_mb"])
        print(f"\nkafka-python agent --workers {args.workers}: {parallel['rate']:,.0f} msg/s, "
              f"{parallel['batches']} batches, {parallel['commits']} commits; / raw loop "
              f"{parallel['rate'] / floor:.2f}, x{parallel['rate'] / agent['rate']:.2f} over --workers 1")
        print(f"  per message:         {1e6 / parallel['rate']:.1f} us; main process waits: poll "
              f"{parallel['poll_us']:.1f} + commit {parallel['commit_us']:.1f}")
        print(f"  peak RSS, tree:      {tree:.0f} MB = main {parallel['peak_rss_mb']:.0f} + workers "
              + " + ".join(f"{r:.0f}" for r in parallel["workers_rss_mb"]) + "   (sum of peaks; target < 150 MB)")


if __name__ == "__main__":
    main()
