"""End to end: a blue/green rollout judged by `id-monitor verdict` against a real Prometheus.

Two real agents (`id-monitor run` on stdin), one per revision, as a sidecar of each would be. The
traffic generator's messages carry the revision of the service instance that produced them (the
`revision` field, configured as the revision source), and the test shifts the traffic from blue
to green in the steps 0 / 10 / 50 / 100 %. After each step Prometheus has scraped both agents,
and the real CLI decides:

- a clean green: inconclusive at 0 % (no traffic to judge), then passes 10, 50 and 100 %;
- a green that emits a request-ID format the schema does not know fails at 10 %;
- a green with one isolation breach fails at 10 %, on one message;
- a green with too little traffic is inconclusive, not passed;
- random revision values never become a label: only blue, green and other exist.

The verdict tables are printed (run with -s to see them; docs/rollout.md shows them).
"""

from __future__ import annotations

import json
import random
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest

from id_monitor.traffic import Mix, TrafficGenerator, shifted
from tests.kafka_broker import PYTHON, ROOT, AgentProcess
from tests.prometheus_server import PrometheusServer, prometheus_binary, start_prometheus

pytestmark = [pytest.mark.prometheus, pytest.mark.slow, pytest.mark.timeout(300)]

STEPS = (0.0, 0.1, 0.5, 1.0)
PER_STEP = 3500  # messages per step: at 10 % green sees 350 messages, ~1500 IDs
REVISION = {"values": ["blue", "green"], "field": "revision"}
CLEAN = Mix(breach=0.0)


class Revision:
    """One revision's traffic source: the generator's messages stamped with the revision."""

    def __init__(self, name: str, seed: int, mix: Mix | None = None,
                 transform: Callable[[dict], dict] | None = None) -> None:
        self.name = name
        self.generator = TrafficGenerator(seed=seed, mix=mix)
        self.transform = transform or (lambda message: message)

    def next(self) -> bytes:
        message, _truth = self.generator.next()
        return orjson.dumps({**self.transform(message), "revision": self.name})


def new_request_format(message: dict) -> dict:
    """The planted fault: this release writes request IDs in a format no schema knows."""
    def walk(node: object) -> object:
        if isinstance(node, dict):
            return {k: (f"rq2-{random.Random(str(v)).getrandbits(64):016x}" if k == "request_id" else walk(v))
                    for k, v in node.items()}
        return node
    return walk(message)  # type: ignore[return-value]


def one_breach() -> bytes:
    """A message whose connection ID belongs to another user than the message's own."""
    message, truth = TrafficGenerator(seed=99, mix=Mix(breach=1.0)).next()
    assert truth.breach
    return orjson.dumps({**message, "revision": "green"})


class Rollout:
    """Two agents, a Prometheus scraping both, and the counts sent so far."""

    def __init__(self, directory: Path) -> None:
        config = {"revision": REVISION}
        self.agents = {name: AgentProcess(directory, config, name=name, stdin=True) for name in ("blue", "green")}
        self.sent = {"blue": 0, "green": 0, "other": 0}
        self.prometheus: PrometheusServer = start_prometheus(
            directory / "prometheus", {"id-monitor": [a.url.removeprefix("http://") for a in self.agents.values()]},
            scrape_interval="2s")
        try:
            self.prometheus.wait_until_scraped("id-monitor")
        except AssertionError as exc:
            targets = [(t["scrapeUrl"], t["health"], t["lastError"]) for t in self.prometheus.targets()]
            raise AssertionError(f"{exc}\ntargets: {targets}") from None

    def send(self, agent: str, lines: list[bytes], revision: str) -> None:
        process = self.agents[agent].proc
        process.stdin.write(b"".join(line + b"\n" for line in lines))
        process.stdin.flush()
        self.sent[revision] += len(lines)

    def step(self, blue: Revision, green: Revision, share: float, volume: int = PER_STEP,
             extra_green: list[bytes] = ()) -> None:
        to_blue, to_green = [], list(extra_green)
        for canary in shifted(volume, share):
            (to_green if canary else to_blue).append(green.next() if canary else blue.next())
        self.send("blue", to_blue, "blue")
        self.send("green", to_green, "green")
        self.wait_scraped()

    def wait_scraped(self) -> None:
        """Until Prometheus holds every message sent so far, per revision (exact counts)."""
        def seen() -> bool:
            for agent in self.agents.values():
                agent.assert_alive()
            got = {s["metric"].get("revision"): float(s["value"][1]) for s in
                   self.prometheus.query("sum by (revision) (id_monitor_messages_total)")}
            return all(got.get(name, 0.0) == count for name, count in self.sent.items())
        self.prometheus.wait_for(f"Prometheus to hold {self.sent}", seen, timeout=90)

    def verdict(self, *extra: str) -> tuple[int, str]:
        done = subprocess.run(
            [str(PYTHON), "-m", "id_monitor", "verdict", "--prometheus", self.prometheus.url,
             "--baseline", 'revision="blue"', "--canary", 'revision="green"', "--window", "1h", *extra],
            cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode in (0, 1, 3), done.stderr
        assert not done.stderr, done.stderr
        return done.returncode, done.stdout

    def close(self) -> None:
        self.prometheus.stop()
        for agent in self.agents.values():
            agent.close()


@pytest.fixture
def rollout(tmp_path: Path) -> Iterator[Rollout]:
    if prometheus_binary() is None:
        pytest.fail("prometheus is not installed: run scripts/bootstrap (Debian package `prometheus`)")
    stack = Rollout(tmp_path)
    try:
        yield stack
    finally:
        stack.close()


def show(scenario: str, share: float, code: int, table: str) -> None:
    print(f"\n### {scenario}, {share:.0%} of the traffic on green (exit {code})\n{table}")


def decisions(rollout: Rollout) -> dict[str, str]:
    code, out = rollout.verdict("--json")
    return {s["signal"]: s["decision"] for s in json.loads(out)["signals"]} | {"": str(code)}


def test_a_clean_green_passes_every_step(rollout: Rollout) -> None:
    blue, green = Revision("blue", seed=1), Revision("green", seed=2, mix=CLEAN)
    for share in STEPS:
        rollout.step(blue, green, share)
        code, table = rollout.verdict()
        show("clean green", share, code, table)
        assert code == (3 if share == 0.0 else 0), table
    # Random revision values (a buggy or hostile producer) never become labels.
    rng = random.Random(7)
    junk = [orjson.dumps({**blue.generator.next()[0], "revision": f"{rng.getrandbits(40):x}"}) for _ in range(100)]
    rollout.send("green", junk, "other")
    rollout.wait_scraped()
    assert set(rollout.prometheus.label_values("revision")) == {"blue", "green", "other"}
    code, _ = rollout.verdict()
    assert code == 0  # `other` is neither side


def test_a_green_with_a_new_unknown_format_fails_at_ten_percent(rollout: Rollout) -> None:
    blue, green = Revision("blue", seed=1), Revision("green", seed=2, mix=CLEAN, transform=new_request_format)
    rollout.step(blue, green, 0.0)
    assert rollout.verdict()[0] == 3
    rollout.step(blue, green, 0.1)
    code, table = rollout.verdict()
    show("green with an unknown request-ID format", 0.1, code, table)
    assert code == 1, table
    got = decisions(rollout)
    assert got["unknown_share"] == "fail" and got["violation_ratio"] == "fail" and got[""] == "1"
    assert got["isolation_breaches"] == "pass" and got["legacy_share"] == "pass"


def test_one_isolation_breach_on_green_fails_at_ten_percent(rollout: Rollout) -> None:
    blue, green = Revision("blue", seed=1), Revision("green", seed=2, mix=CLEAN)
    rollout.step(blue, green, 0.0)
    rollout.step(blue, green, 0.1, extra_green=[one_breach()])
    code, table = rollout.verdict()
    show("green with one isolation breach", 0.1, code, table)
    assert code == 1, table
    got = decisions(rollout)
    assert got["isolation_breaches"] == "fail"
    assert {got[s] for s in ("unknown_share", "legacy_share", "malformed_share")} == {"pass"}


def test_a_green_with_too_little_traffic_is_inconclusive(rollout: Rollout) -> None:
    blue, green = Revision("blue", seed=1), Revision("green", seed=2, mix=CLEAN, transform=new_request_format)
    rollout.step(blue, green, 0.1, volume=200)  # 20 messages on green, even with a planted fault
    code, table = rollout.verdict()
    show("green with too little traffic", 0.1, code, table)
    assert code == 3, table
    assert set(decisions(rollout).values()) <= {"inconclusive", "3"}
    assert rollout.verdict("--inconclusive-passes")[0] == 0
