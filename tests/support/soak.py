"""A soak of the agent: all-unique IDs at full speed on stdin, memory and series sampled over time.

    scripts/soak --minutes N [--interval 10] [--json FILE]

`id-monitor run` (stream mode, the default config and schema) reads JSON Lines from a pipe that
this process fills as fast as the agent takes them, with traffic in which every thread, run,
connection, request and event ID is new (and owners are drawn from 10,000 users), so every
per-value structure (owner tracking, caches, shape tracking) sees only values it has not seen.
Every `interval` seconds it samples the agent's resident memory (VmRSS) and scrapes /metrics for
the number of exported `id_monitor_` series.

Verdict (exit 1 when broken): the least-squares slope of RSS over the last half of the run must be
below `--max-slope` MB/min (0.3 by default: the creep once seen under hostile uniques, 3.3 MB in
4 minutes, is 0.8 MB/min), the series count must not change in the last half, and it must never
pass the configured bound: the series that config and schema fix (every known series is exported
at 0 before the first message) plus, per configured field, `metrics.unknown_shapes.top` shape
series and one `other`. The CI test (tests/test_soak.py) runs a short form.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_SLOPE_MB_PER_MIN = 0.3


@dataclass
class Sample:
    seconds: float
    rss_mb: float
    series: int
    messages: float


@dataclass
class SoakResult:
    minutes: float
    samples: list[Sample] = field(default_factory=list)
    series_before_input: int = 0
    series_bound: int = 0  # before input, plus (top + 1) unknown-shape series per configured field
    exit_code: int | None = None

    @property
    def messages(self) -> float:
        return self.samples[-1].messages if self.samples else 0.0

    @property
    def rate(self) -> float:
        return self.messages / self.samples[-1].seconds if self.samples else 0.0

    def last_half(self) -> list[Sample]:
        return self.samples[len(self.samples) // 2:]

    def slope_mb_per_min(self) -> float:
        """Least-squares slope of RSS against time over the last half of the samples."""
        return least_squares_slope([(s.seconds / 60, s.rss_mb) for s in self.last_half()])

    def series_counts(self) -> set[int]:
        return {s.series for s in self.samples}

    def summary(self) -> dict:
        rss = [s.rss_mb for s in self.samples]
        return {
            "minutes": self.minutes, "messages": int(self.messages), "messages_per_s": round(self.rate),
            "samples": len(self.samples), "rss_first_mb": rss[0] if rss else None,
            "rss_min_mb": min(rss, default=None), "rss_max_mb": max(rss, default=None),
            "rss_last_mb": rss[-1] if rss else None,
            "rss_slope_last_half_mb_per_min": round(self.slope_mb_per_min(), 4),
            "series_before_input": self.series_before_input, "series_bound": self.series_bound,
            "series": sorted(self.series_counts()),
            "series_last_half": sorted({s.series for s in self.last_half()}),
        }


def least_squares_slope(points: list[tuple[float, float]]) -> float:
    """The slope of the least-squares line through `points` (x, y); 0 for fewer than two."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if spread == 0:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def scrape(port: int) -> tuple[int, float]:
    """(number of exported id_monitor_ series, messages counted so far)."""
    from tests.support.metrics import parse_metrics, total
    from tests.support.net import http_get

    status, body = http_get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    if status != 200:
        raise RuntimeError(f"/metrics answered {status}")
    samples = parse_metrics(body)
    series = sum(1 for name, _ in samples if name.startswith("id_monitor_"))
    return series, total(samples, "id_monitor_messages_total")


_HEX_TAIL = re.compile(r"^(.*[_-])([0-9a-f]{8,16})$")


def _slotted(value, slots: list[int]):
    """`value` with the random hex tail of every ID (keys ending in `_id`, owners excepted) made a
    `%0Nx` slot; the tail widths in `slots`, in the order orjson writes them."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if isinstance(item, str) and key.endswith("_id") and key != "user_id":
                match = _HEX_TAIL.match(item)
                if match:
                    slots.append(len(match.group(2)))
                    item = f"{match.group(1)}\x00{len(match.group(2))}\x00"
            out[key] = _slotted(item, slots)
        return out
    return value


def unique_lines(seed: int, templates: int = 2000):
    """Endless JSON Lines in which every ID is new, in chunks of `templates` lines.

    The traffic generator makes realistic messages but only ~3k a second, slower than the agent
    reads; so `templates` messages are made once and each pass writes them with fresh hex tails:
    the n-th tail of width w is n times an odd constant modulo 16**w, a bijection, so no tail ever
    repeats while the shapes (and the ID formats) stay the generator's."""
    import orjson

    from id_monitor.traffic import Mix, TrafficGenerator

    mix = Mix(users=10_000, thread_messages=1.0, run_messages=1.0, connection_messages=1.0)
    generator = TrafficGenerator(seed=seed, mix=mix)
    parts: list[bytes] = []
    widths: list[int] = []
    for _ in range(templates):
        slots: list[int] = []
        text = orjson.dumps(_slotted(generator.next()[0], slots)).replace(b"%", b"%%")
        for width in slots:
            text = text.replace(b"\\u0000%d\\u0000" % width, b"%%0%dx" % width, 1)
        parts.append(text + b"\n")
        widths.extend(slots)
    template = b"".join(parts)
    moduli = [16 ** w for w in widths]
    multiplier = 0x9E3779B97F4A7C15  # odd: n -> n * multiplier mod 16**w is a bijection
    counter = 1
    while True:
        values = tuple((counter + i) * multiplier % modulus for i, modulus in enumerate(moduli))
        counter += len(moduli)
        yield template % values


def soak(minutes: float, interval: float = 10.0, seed: int = 1, progress=None, engine: str = "auto") -> SoakResult:
    """Run the agent for `minutes` under all-unique traffic on `engine`; the samples taken."""
    import yaml

    from tests.support.net import free_port
    from tests.support.wait import wait_until

    result = SoakResult(minutes=minutes)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="id-monitor-soak-") as tmp:
        config = Path(tmp) / "soak.yaml"
        config.write_text(yaml.safe_dump({"engine": engine, "metrics": {"listen": f"127.0.0.1:{port}"}}))
        env = {k: v for k, v in os.environ.items() if not k.startswith("ID_MONITOR_")}
        log = open(Path(tmp) / "agent.log", "wb")  # noqa: SIM115 - the agent's stderr, closed below
        agent = subprocess.Popen([sys.executable, "-m", "id_monitor", "run", "--config", str(config)],
                                 cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log)
        stop = threading.Event()

        def feed() -> None:
            try:
                for chunk in unique_lines(seed):
                    if stop.is_set():
                        break
                    agent.stdin.write(chunk)
            except (BrokenPipeError, ValueError, OSError):
                pass

        try:
            result.series_before_input = wait_until(lambda: scrape(port)[0], timeout=60,
                                                    message="the agent's /metrics")
            result.series_bound = result.series_before_input + configured_shape_series(config)
            feeder = threading.Thread(target=feed, daemon=True)
            started = time.monotonic()
            feeder.start()
            end = started + minutes * 60
            next_at = started + interval
            while next_at <= end + 1e-6:
                time.sleep(max(0.0, next_at - time.monotonic()))
                if agent.poll() is not None:
                    tail = (Path(tmp) / "agent.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"the agent exited with {agent.returncode} during the soak:\n{tail}")
                series, messages = scrape(port)
                sample = Sample(round(time.monotonic() - started, 1), round(rss_mb(agent.pid), 2), series, messages)
                result.samples.append(sample)
                if progress is not None:
                    progress(sample)
                next_at += interval
        finally:
            stop.set()
            try:
                agent.stdin.close()
            except OSError:
                pass
            try:
                result.exit_code = agent.wait(timeout=30)
            except subprocess.TimeoutExpired:
                agent.kill()
                result.exit_code = agent.wait(timeout=10)
            log.close()
    return result


def configured_shape_series(config_path: Path) -> int:
    """The most `id_monitor_unknown_shapes` series the config allows: per field, `top` + other."""
    from id_monitor.config import load_config

    config = load_config(config_path)
    spec = config.metrics.unknown_shapes
    return len(config.fields) * (spec.top + 1) if spec.enabled else 0


def verdict(result: SoakResult, max_slope: float = MAX_SLOPE_MB_PER_MIN) -> list[str]:
    """What broke (empty when the soak passed)."""
    problems = []
    slope = result.slope_mb_per_min()
    if slope >= max_slope:
        problems.append(f"RSS still rising in the last half: {slope:.3f} MB/min (bound {max_slope})")
    settled = {s.series for s in result.last_half()}
    if len(settled) != 1:
        problems.append(f"the number of exported series still changes in the last half: {sorted(settled)}")
    highest = max(result.series_counts(), default=0)
    if highest > result.series_bound:
        problems.append(f"{highest} series exported, above the configured bound {result.series_bound}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to run (default 10)")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between samples (default 10)")
    parser.add_argument("--max-slope", type=float, default=MAX_SLOPE_MB_PER_MIN,
                        help=f"RSS slope bound over the last half, MB/min (default {MAX_SLOPE_MB_PER_MIN})")
    parser.add_argument("--seed", type=int, default=1, help="traffic seed (default 1)")
    parser.add_argument("--engine", choices=["auto", "native", "python"], default="auto",
                        help="the engine the agent checks on (default auto)")
    parser.add_argument("--json", type=Path, help="also write the samples and summary to this file")
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.interval <= 0 or args.interval > args.minutes * 60:
        parser.error("--minutes and --interval must be positive, the interval shorter than the run")

    def progress(sample: Sample) -> None:
        print(f"{sample.seconds:7.1f} s  rss {sample.rss_mb:7.2f} MB  series {sample.series}  "
              f"messages {int(sample.messages):,}", flush=True)

    result = soak(args.minutes, args.interval, args.seed, progress, engine=args.engine)
    summary = result.summary()
    problems = verdict(result, args.max_slope)
    print(json.dumps(summary))
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "samples": [asdict(s) for s in result.samples],
                                         "problems": problems}, indent=1))
    for problem in problems:
        print(f"soak: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
