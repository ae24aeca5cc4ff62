"""End to end: a real Prometheus scrapes the real agent consuming a real Kafka broker.

The stack (one per module):

- the session Kafka broker (tests/kafka_broker.py) with a fresh 2-partition topic per Kafka client,
  and a producer thread writing the traffic generator's realistic mix (target, legacy and unknown
  IDs, nested and flat envelopes, about 1% unreadable messages) with wall-clock timestamps to each,
  but no isolation breach: those are injected by the tests;
- one `id-monitor run` (the agent) per `kafka.client` (kafka-python, confluent-kafka), each
  consuming its own topic, metrics on a free loopback port: two instances of the agent's job;
- the example service (examples/chat_service) under uvicorn, with a client thread driving it;
- the scanner's textfile (`id-monitor scan --prometheus`) served the way node_exporter's textfile
  collector would serve it;
- Prometheus (tests/prometheus_server.py) scraping all three every 2 seconds and evaluating
  alerts/id-monitor.rules.yml every second.

Then: every query of every dashboard panel, with its template variables resolved through
Prometheus as Grafana resolves them, returns data with either client's agent as the only agent
instance selected; a copy of a dashboard with a misspelled metric
fails that check; the rules evaluate without error on real data; and an injected isolation breach
(through each client's agent, and through the service) makes IdMonitorIsolationBreach fire.
"""

from __future__ import annotations

import copy
import json
import math
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from tests.kafka_broker import KAFKA_CLIENTS, KafkaBroker
from tests.support.processes import stop_process
from tests.prometheus_server import (
    DASHBOARDS,
    RULES,
    PrometheusError,
    PrometheusServer,
    TextfileExporter,
    dashboard_queries,
    free_port,
    iter_panels,
    load_dashboard,
    resolve_variables,
    serve_textfile,
    start_prometheus,
    substitute,
)

ROOT = Path(__file__).resolve().parent.parent
AGENT_JOB = "id-monitor"  # the job name alerts/id-monitor.rules.yml expects for the agent
SERVICE_JOB = "chat-service"
SCAN_JOB = "node"
# A 2 s scrape: the agent renders ~3000 pre-created series per scrape while it consumes, and on
# a busy 2-core machine that can take more than a second; a timed-out scrape would mark every
# series of the agent stale. Rules are evaluated every second.
SCRAPE_INTERVAL = "2s"
# What Grafana would put in for that scrape interval (4x the scrape interval, and then some)
# and a short range.
INTERVALS = {"$__rate_interval": "20s", "$__range": "5m", "$__interval": "2s"}
MALFORMED_EVERY = 97  # about 1% of the messages cannot be read

pytestmark = [pytest.mark.kafka, pytest.mark.prometheus, pytest.mark.slow, pytest.mark.timeout(420)]


# -- the parts ---------------------------------------------------------------------------------


class Producer(threading.Thread):
    """Writes the generator's realistic mix to each of `topics` at about `rate` messages/s until
    stopped (every message to every topic)."""

    def __init__(self, bootstrap: str, topics: list[str], rate: float = 150.0) -> None:
        super().__init__(daemon=True, name="traffic-producer")
        self.bootstrap, self.topics, self.rate = bootstrap, topics, rate
        self.stopping = threading.Event()
        self.sent = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        from kafka import KafkaProducer

        from id_monitor.traffic import Mix, TrafficGenerator

        generator = TrafficGenerator(seed=6, mix=Mix(breach=0.0), now_ms=None)
        producer = KafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=5, acks=1)
        try:
            batch = max(1, int(self.rate / 10))
            while not self.stopping.is_set():
                for _ in range(batch):
                    self.sent += 1
                    if self.sent % MALFORMED_EVERY == 0:
                        value = b'{"type": "agent_started", "thread_id": "thread_'  # cut off mid-message
                    else:
                        message, _truth = generator.next()
                        value = orjson.dumps(message)
                    for topic in self.topics:
                        producer.send(topic, value)
                producer.flush(timeout=10)
                self.stopping.wait(0.1)
        except BaseException as exc:  # noqa: BLE001 -- reported in the diagnostics, never swallowed
            self.error = exc
        finally:
            producer.close(timeout=5)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=15)


class ServiceClient(threading.Thread):
    """Drives the example service like a few users would: connect, open threads, post messages
    (streamed to their own connection), page through them."""

    def __init__(self, base_url: str) -> None:
        super().__init__(daemon=True, name="service-client")
        self.base_url = base_url
        self.stopping = threading.Event()
        self.requests = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        import httpx

        users = [str(uuid.uuid5(uuid.NAMESPACE_DNS, f"user-{i}.example")) for i in range(4)]
        try:
            with httpx.Client(base_url=self.base_url, timeout=10) as client:
                while not self.stopping.is_set():
                    for user in users:
                        headers = {"X-User-ID": user}
                        connection = client.post("/connections", headers=headers).json()["connection_id"]
                        thread = client.post("/threads", json={"title": "costs"}, headers=headers).json()["thread_id"]
                        posted = client.post(
                            f"/threads/{thread}/messages",
                            json={"text": "summarize", "connection_id": connection},
                            headers=headers,
                        ).json()
                        client.get(f"/threads/{thread}/messages", params={"after": posted["message_id"]}, headers=headers)
                        self.requests += 4
                    self.stopping.wait(0.2)
        except BaseException as exc:  # noqa: BLE001 -- reported in the diagnostics
            self.error = exc

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=15)


def wait_http(url: str, process: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{process.args} exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} not answering after {timeout} s:\n{log.read_text()[-3000:]}")


def start_process(args: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=env)


def agent_command(config: Path) -> list[str]:
    return [sys.executable, "-m", "id_monitor", "run", "--config", str(config)]


@dataclass
class Stack:
    prometheus: PrometheusServer
    broker: KafkaBroker
    topics: dict[str, str]  # kafka.client -> the topic its agent consumes
    agents: dict[str, str]  # kafka.client -> its agent's instance (host:port)
    service_url: str
    producer: Producer
    client: ServiceClient
    logs: list[Path] = field(default_factory=list)

    def diagnostics(self) -> str:
        parts = [f"--- {log.name} (tail)\n{log.read_text(errors='replace')[-1500:]}" for log in self.logs]
        parts.append(f"--- producer sent {self.producer.sent}, error {self.producer.error!r}")
        parts.append(f"--- service client requests {self.client.requests}, error {self.client.error!r}")
        return "\n".join(parts)

    def value(self, expr: str) -> float | None:
        result = self.prometheus.query(expr)
        return float(result[0]["value"][1]) if result else None


@pytest.fixture(scope="module")
def stack(kafka_broker: KafkaBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not os.access(sys.executable, os.X_OK):
        pytest.fail("no Python interpreter to run the agent")
    work = tmp_path_factory.mktemp("live")
    topics = {client: kafka_broker.create_topic(f"agent-events-{uuid.uuid4().hex[:8]}", partitions=2)
              for client in KAFKA_CLIENTS}
    agent_ports = {client: free_port() for client in KAFKA_CLIENTS}
    service_port = free_port()
    agent_logs = {client: work / f"agent-{client}.log" for client in KAFKA_CLIENTS}
    service_log = work / "chat-service.log"
    processes: list[subprocess.Popen] = []
    threads: list[Producer | ServiceClient] = []
    exporter: TextfileExporter | None = None
    prometheus: PrometheusServer | None = None
    try:
        agents = {}
        for client in KAFKA_CLIENTS:
            config = work / f"agent-{client}.yaml"
            config.write_text(yaml.safe_dump(agent_config(kafka_broker, topics[client], client,
                                                          agent_ports[client], work / f"mappings-{client}.sqlite")))
            agents[client] = start_process(agent_command(config), agent_logs[client])
            processes.append(agents[client])
        service = start_process(
            [sys.executable, "-m", "examples.chat_service", "--host", "127.0.0.1", "--port", str(service_port)],
            service_log,
        )
        processes.append(service)
        for client in KAFKA_CLIENTS:
            wait_http(f"http://127.0.0.1:{agent_ports[client]}/metrics", agents[client], agent_logs[client])
        wait_http(f"http://127.0.0.1:{service_port}/healthz", service, service_log)

        textfile = work / "id_monitor_scan.prom"
        scanned = subprocess.run(
            [sys.executable, "-m", "id_monitor", "scan", str(ROOT / "tests" / "data" / "scan" / "sample"),
             "--prometheus", str(textfile)],
            check=False, capture_output=True, text=True, cwd=ROOT, timeout=120,
        )
        assert textfile.exists(), f"id-monitor scan wrote no textfile ({scanned.returncode}):\n{scanned.stderr}"
        exporter = serve_textfile(textfile)

        producer = Producer(kafka_broker.bootstrap, list(topics.values()))
        users = ServiceClient(f"http://127.0.0.1:{service_port}")
        for thread in (producer, users):
            thread.start()
            threads.append(thread)

        instances = {name: f"127.0.0.1:{port}" for name, port in agent_ports.items()}
        prometheus = start_prometheus(
            work / "prometheus",
            {
                AGENT_JOB: list(instances.values()),
                SERVICE_JOB: [f"127.0.0.1:{service_port}"],
                SCAN_JOB: [exporter.address],
            },
            [RULES],
            scrape_interval=SCRAPE_INTERVAL,
            evaluation_interval="1s",
        )
        live = Stack(prometheus, kafka_broker, topics, instances, f"http://127.0.0.1:{service_port}", producer,
                     users, [*agent_logs.values(), service_log, prometheus.log_path])
        for job in (AGENT_JOB, SERVICE_JOB, SCAN_JOB):
            prometheus.wait_until_scraped(job, timeout=60)
        counting = {f'job="{AGENT_JOB}", instance="{instance}"' for instance in instances.values()}
        counting.add(f'job="{SERVICE_JOB}"')
        for selector in sorted(counting):
            prometheus.wait_for(
                f"IDs counted by {selector}",
                lambda selector=selector: (live.value(f"sum(rate(id_monitor_ids_total{{{selector}}}[20s]))") or 0) > 0,
                timeout=90,
            )
        yield live
    finally:
        for thread in threads:
            thread.stop()
        if prometheus is not None:
            prometheus.stop()
        if exporter is not None:
            exporter.close()
        for process in processes:
            stop_process(process)


def agent_config(broker: KafkaBroker, topic: str, client: str, port: int, mapping_state: Path) -> dict[str, Any]:
    return {
        "schema": "netra",
        "kafka": {
            "bootstrap_servers": broker.bootstrap,
            "group_id": f"id-monitor-live-{uuid.uuid4().hex[:8]}",
            "topics": [topic],
            "client": client,
        },
        "metrics": {"listen": f"127.0.0.1:{port}"},
        # a mapping, so its panels' series exist (pre-created at 0); the traffic's legacy
        # thread IDs feed its coverage
        "mappings": {"threads": {"legacy_paths": ["legacy_thread_id"], "target_paths": ["thread_id"],
                                 "expect": ["thread"], "covers": ["thread_id"]}},
        "mapping_state": {"path": str(mapping_state)},
    }


# -- dashboards against live data -----------------------------------------------------------------


def panel_problems(server: PrometheusServer, dashboard: dict[str, Any], unselected: frozenset[str] = frozenset()
                   ) -> list[str]:
    """Each panel query that errors or returns no finite sample, named and with its query;
    the `unselected` instances are left out of $instance, as a Grafana user would untick them."""
    values = resolve_variables(server, dashboard, INTERVALS)
    if "instance" in values:
        values["instance"] = [i for i in values["instance"] if i not in unselected]
    problems = [f"variable ${name} has no values" for name, found in values.items() if not found]
    for query in dashboard_queries(dashboard):
        expr = substitute(query.expr, values, INTERVALS)
        try:
            result = server.query(expr)
        except PrometheusError as exc:
            problems.append(f"{query.name}: {exc}\n    {expr}")
            continue
        if not any(math.isfinite(float(sample["value"][1])) for sample in result):
            problems.append(f"{query.name}: no data ({len(result)} series, none finite)\n    {expr}")
    return problems


def settled_problems(stack: Stack, dashboard: dict[str, Any], timeout: float = 45,
                     unselected: frozenset[str] = frozenset()) -> list[str]:
    """Panel problems once the data had time to arrive (a 20 s rate window needs a few scrapes);
    what is still wrong after `timeout` is returned."""
    deadline = time.monotonic() + timeout
    while True:
        problems = panel_problems(stack.prometheus, dashboard, unselected)
        if not problems or time.monotonic() > deadline:
            return problems
        time.sleep(2)


@pytest.mark.parametrize("path", DASHBOARDS, ids=[p.stem for p in DASHBOARDS])
def test_every_panel_query_returns_data(stack: Stack, path: Path, kafka_client: str) -> None:
    """With only this client's agent selected among the agent's instances (the service stays)."""
    dashboard = load_dashboard(path)
    queries = dashboard_queries(dashboard)
    assert len(queries) >= 8
    others = frozenset(instance for client, instance in stack.agents.items() if client != kafka_client)
    assert others and stack.agents[kafka_client] not in others
    problems = settled_problems(stack, dashboard, unselected=others)
    assert problems == [], "\n".join(problems) + "\n" + stack.diagnostics()


def test_variables_resolve_to_the_live_jobs(stack: Stack) -> None:
    dashboard = load_dashboard(ROOT / "dashboards" / "id-monitor-migration.json")
    values = resolve_variables(stack.prometheus, dashboard, INTERVALS)
    assert {AGENT_JOB, SERVICE_JOB} <= set(values["job"])
    assert set(stack.agents.values()) <= set(values["instance"])  # one agent instance per Kafka client
    assert values["scan_job"] == [SCAN_JOB]
    assert values["service"], "the scanner's textfile names no service"
    assert "thread_id" in values["field"]


def test_a_misspelled_metric_in_a_copy_fails_the_live_check(stack: Stack) -> None:
    intact = load_dashboard(ROOT / "dashboards" / "id-monitor-overview.json")
    assert settled_problems(stack, intact) == []

    broken = copy.deepcopy(intact)
    panel = next(p for p in iter_panels(broken) if p["title"] == "IDs checked by status, per job and field")
    target = panel["targets"][0]
    assert "id_monitor_ids_total" in target["expr"]
    target["expr"] = target["expr"].replace("id_monitor_ids_total", "id_monitor_id_total")

    name = "id-monitor-overview: IDs checked by status, per job and field [A]"
    problems = panel_problems(stack.prometheus, broken)
    mine = [p for p in problems if p.startswith(name)]
    assert len(mine) == 1, problems
    assert mine[0].startswith(f"{name}: no data")
    assert "id_monitor_id_total" in mine[0]
    # The same panel, spelled right, has data on the same server right after: the name made the difference.
    assert not any(p.startswith(name) for p in settled_problems(stack, intact))


# -- rules against live data ---------------------------------------------------------------------------


def test_rules_evaluate_cleanly_on_live_data(stack: Stack) -> None:
    def evaluated() -> list[dict[str, Any]] | None:
        groups = stack.prometheus.rule_groups()
        rules = [r for g in groups for r in g["rules"]]
        done = all(not r.get("lastEvaluation", "").startswith("0001-") for r in rules)
        return rules if rules and done else None

    rules = stack.prometheus.wait_for("every rule evaluated once", evaluated, timeout=30)
    assert {g["file"] for g in stack.prometheus.rule_groups()} == {str(RULES)}
    broken = [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"]
    assert broken == []

    ratio = stack.prometheus.wait_for(
        "the 5m violation ratio of the agent",
        lambda: stack.value(f'job:id_monitor_violation_ratio:ratio_rate5m{{job="{AGENT_JOB}"}}'),
        timeout=30,
    )
    # The mix carries ~2% unknown IDs per field: violations, but far from all IDs.
    assert 0 < ratio < 0.2


def breach_alerts(stack: Stack, job: str, source: str | None = None) -> list[dict[str, Any]]:
    return [
        a for a in stack.prometheus.alerts()
        if a["labels"].get("alertname") == "IdMonitorIsolationBreach" and a["labels"].get("job") == job
        and (source is None or a["labels"].get("source") == source)
    ]


def breach_count(stack: Stack, job: str, source: str | None = None) -> float:
    where = f', source="{source}"' if source else ""
    return stack.value(f'sum(id_monitor_findings_total{{job="{job}", rule="isolation_breach"{where}}})') or 0.0


def wait_for_firing_breach(stack: Stack, job: str, source: str | None = None, timeout: float = 60) -> dict[str, Any]:
    def firing() -> dict[str, Any] | None:
        return next((a for a in breach_alerts(stack, job, source) if a["state"] == "firing"), None)

    try:
        return stack.prometheus.wait_for(f"IdMonitorIsolationBreach firing for {job}", firing, timeout)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{stack.diagnostics()}") from None


def test_breach_through_the_agent_fires_the_alert(stack: Stack, kafka_client: str) -> None:
    """On this client's topic, which only this client's agent consumes: the alert for its source."""
    from id_monitor.traffic import Mix, TrafficGenerator

    topic = stack.topics[kafka_client]
    source = f"kafka:{topic}"
    assert breach_count(stack, AGENT_JOB, source) == 0
    assert breach_alerts(stack, AGENT_JOB, source) == []

    message, truth = TrafficGenerator(seed=66, mix=Mix(breach=1.0)).next()
    assert truth.breach
    stack.broker.produce(topic, [orjson.dumps(message)])

    alert = wait_for_firing_breach(stack, AGENT_JOB, source)
    assert alert["labels"]["severity"] == "page"
    assert alert["labels"]["field"] == "connection_id"
    assert alert["labels"]["source"] == source
    assert alert["annotations"]["runbook_url"].endswith("docs/runbooks.md#idmonitorisolationbreach")
    assert breach_count(stack, AGENT_JOB, source) == 1
    instance = stack.agents[kafka_client]
    assert stack.value(f'sum(id_monitor_findings_total{{job="{AGENT_JOB}", instance="{instance}", '
                       f'rule="isolation_breach"}})') == 1


def test_breach_through_the_service_fires_the_alert(stack: Stack) -> None:
    """A user posts a message whose reply streams to another user's connection: the FastAPI layer
    counts the breach, Prometheus scrapes it, the alert fires for the service's job."""
    import httpx

    assert breach_count(stack, SERVICE_JOB) == 0
    assert breach_alerts(stack, SERVICE_JOB) == []
    alice, mallory = (str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{name}.example")) for name in ("alice", "mallory"))
    assert alice[:8] != mallory[:8]  # owners are compared on user_id[:8]
    with httpx.Client(base_url=stack.service_url, timeout=10) as client:
        victims_connection = client.post("/connections", headers={"X-User-ID": alice}).json()["connection_id"]
        thread = client.post("/threads", json={"title": "x"}, headers={"X-User-ID": mallory}).json()["thread_id"]
        client.post(
            f"/threads/{thread}/messages",
            json={"text": "hi", "connection_id": victims_connection},
            headers={"X-User-ID": mallory},
        )

    alert = wait_for_firing_breach(stack, SERVICE_JOB)
    assert alert["labels"]["severity"] == "page"
    assert alert["labels"]["field"] == "connection_id"
    assert alert["labels"]["source"] == "http"


def test_scan_panels_read_the_scanner_textfile(prometheus_factory, textfile_exporter, tmp_path: Path) -> None:
    """Without Kafka: the scanner's textfile, served as node_exporter would, feeds exactly the
    migration dashboard's code panels (the traffic panels have nothing to show)."""
    textfile = tmp_path / "id_monitor_scan.prom"
    subprocess.run(
        [sys.executable, "-m", "id_monitor", "scan", str(ROOT / "tests" / "data" / "scan" / "sample"),
         "--prometheus", str(textfile)],
        check=True, capture_output=True, cwd=ROOT, timeout=120,
    )
    exporter = textfile_exporter(textfile)
    server = prometheus_factory({SCAN_JOB: [exporter.address]})
    server.wait_until_scraped(SCAN_JOB)
    server.wait_for("scan metrics", lambda: server.query("id_monitor_scan_call_sites"), timeout=30)

    dashboard = load_dashboard(ROOT / "dashboards" / "id-monitor-migration.json")
    code_panels = {p["title"] for p in iter_panels(dashboard) if "id_monitor_scan_" in json.dumps(p.get("targets", []))}
    assert len(code_panels) == 4
    problems = panel_problems(server, dashboard)
    failing = {p.split(": ", 1)[1].split(" [", 1)[0] for p in problems if not p.startswith("variable ")}
    traffic_panels = {p["title"] for p in iter_panels(dashboard) if p.get("targets")} - code_panels
    assert failing == traffic_panels
    # ... and the call sites Prometheus holds are the ones the scanner counted
    total = float(server.query("sum(id_monitor_scan_call_sites)")[0]["value"][1])
    counted = sum(float(line.rsplit(" ", 1)[1]) for line in textfile.read_text().splitlines()
                  if line.startswith("id_monitor_scan_call_sites{"))
    assert total == counted > 0
