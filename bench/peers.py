"""id-monitor against what a user would pick instead, on one generated file, in one run.

    python bench/peers.py [--n 100000] [--seed 0] [--batch 1000] [--no-benthos]

The file: `n` netra-envelope messages from `id_monitor.traffic` (JSON Lines, written to
.cache/). Contenders, each timed as wall and CPU seconds (CPU: user+system of the process or
child, so waiting for a core on a shared machine is not counted):

  id-monitor check      the CLI on the file (`id-monitor check FILE --json`, a child process)
  pipeline (python)     in process: decode_message + Judge.check + IdMetrics.record per message
  pipeline (native)     in process: the agent's `Checker.check_batch` on the native engine per
                        `--batch` messages (decode, extract, classify, judge in the core, GIL
                        released; the BatchResult the agent merges: metrics batch, violations,
                        unknown findings), owner-collision tracking in Python
  native core only      `NativeChecker.check_batch` per batch, without the pipeline's BatchResult
  pydantic              a pydantic v2 model of the envelope (flat, `payload`, `data`) with a
                        `Field(pattern=...)` per ID field (pydantic-core's Rust regex), the
                        pattern being every target format OR'ed with every legacy form
  floor                 orjson.loads + one combined `re` fullmatch per ID field
  benthos               Benthos v4.60 (`pure` + `io` components, built from the Go module proxy
                        into .cache/ when `go` is on PATH), a bloblang mapping with the same
                        regexes, reading the file and writing each message's invalid fields

Every contender's count of invalid IDs per field is checked against the project's `unknown`
count (the native engine's and the Python engine's must be equal; a peer that differs is
flagged). The peers only say valid / invalid per field: no types, owners, isolation,
references, timestamps, legacy grading or metrics.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from id_monitor.classify import Classifier
from id_monitor.config import load_config
from id_monitor.extract import MalformedMessage, decode_message
from id_monitor.sinks.metrics import IdMetrics
from id_monitor.judge import Judge
from id_monitor.schema import load_schema
from id_monitor.schema.segments import WORD_TOKEN
from id_monitor.traffic import generate_lines

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache"
NOW_MS = 1_757_930_000_000
BENTHOS_VERSION = "v4.60.0"
WRAPPERS = ("", "payload", "data")
# Rust regex and Go RE2 have no look-ahead: a word token as "letters/digits with a letter".
WORD_TOKEN_NO_LOOKAHEAD = "[0-9]{0,31}[a-z][a-z0-9]{0,31}"


def combined_pattern(schema: Any, portable: bool) -> str:
    """Every format of the schema (targets and legacy forms) as one alternation."""
    from id_monitor.classify.matcher import plain_pattern

    variants = sorted(schema.variants, key=lambda v: v.precedence)
    text = "|".join(f"(?:{plain_pattern(v)})" for v in variants)
    return text.replace(WORD_TOKEN, WORD_TOKEN_NO_LOOKAHEAD) if portable else text


def timed(run: Callable[[], Counter]) -> tuple[float, float, Counter]:
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    counts = run()
    return time.perf_counter() - start_wall, time.process_time() - start_cpu, counts


def timed_child(argv: list[str], **kwargs: Any) -> tuple[float, float, subprocess.CompletedProcess]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, check=False, **kwargs)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done


def python_pipeline(config: Any, lines: list[bytes]) -> Counter:
    schema = load_schema(config.schema)
    judge = Judge(config, Classifier(schema, cache_size=config.limits.cache_size,
                                     max_length=config.limits.max_id_length))
    metrics = IdMetrics(config, schema, ["bench"])
    limits = config.limits
    unknown: Counter = Counter()
    for raw in lines:
        try:
            message = decode_message(raw, limits.max_message_bytes, limits.max_depth)
        except MalformedMessage as exc:
            metrics.record("bench", judge.malformed(exc.reason), NOW_MS)
            continue
        report = judge.check(message, NOW_MS)
        metrics.record("bench", report, NOW_MS)
        for field, info in report.ids:
            if info.status == "unknown":
                unknown[field] += 1
    return unknown


def wired_pipeline(config: Any, lines: list[bytes], batch: int) -> Counter:
    """The agent's path on the native engine: Checker.check_batch on chunks of records."""
    from id_monitor.pipeline import Checker, build_engine
    from id_monitor.sources.batch import Chunk, LineRecord

    checker = Checker(build_engine(config.model_copy(update={"engine": "native"})))
    records = [LineRecord(raw, line) for line, raw in enumerate(lines, 1)]
    unknown: Counter = Counter()
    for start in range(0, len(records), batch):
        result = checker.check_batch([Chunk("bench", None, None, records[start:start + batch])], NOW_MS)
        for finding in result.unknown:
            unknown[finding.field] += 1
    return unknown


def native_pipeline(config: Any, lines: list[bytes], batch: int) -> Counter:
    from id_monitor.native.engine import NativeChecker

    checker = NativeChecker(config)
    ids: Counter = Counter()
    findings: Counter = Counter()
    unknown: Counter = Counter()
    for start in range(0, len(lines), batch):
        result = checker.check_batch(lines[start:start + batch], NOW_MS)
        ids.update(result.ids)  # what a metrics merge does once per batch
        findings.update(result.findings)
        for field, values in result.unknown.items():
            unknown[field] += len(values)
    return unknown


def floor(fields: list[str], pattern: str, lines: list[bytes]) -> Counter:
    fullmatch = re.compile(pattern).fullmatch
    loads = orjson.loads
    invalid: Counter = Counter()
    for raw in lines:
        message = loads(raw)
        for name in fields:
            for where in WRAPPERS:
                holder = message.get(where) if where else message
                value = holder.get(name) if type(holder) is dict else None
                if type(value) is str and fullmatch(value) is None:
                    invalid[name] += 1
    return invalid


def pydantic_peer(fields: list[str], pattern: str, lines: list[bytes]) -> Counter:
    from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

    anchored = f"^(?:{pattern})$"
    ids = {name: (str | None, Field(default=None, pattern=anchored)) for name in fields}
    inner = create_model("Inner", __config__=ConfigDict(extra="ignore"), **ids)  # type: ignore[call-overload]
    envelope: type[BaseModel] = create_model(  # type: ignore[call-overload]
        "Envelope", __config__=ConfigDict(extra="ignore"), payload=(inner | None, None), data=(inner | None, None),
        **ids)
    validate = envelope.model_validate_json
    invalid: Counter = Counter()
    for raw in lines:
        try:
            validate(raw)
        except ValidationError as exc:
            for error in exc.errors():
                if error["type"] == "string_pattern_mismatch":
                    invalid[str(error["loc"][-1])] += 1
    return invalid


def benthos_binary() -> Path | None:
    """The peer binary, built once into .cache/ from bench/benthos_peer (None without go)."""
    binary = CACHE / f"benthos-peer-{BENTHOS_VERSION}"
    if binary.exists():
        return binary
    go = shutil.which("go")
    if go is None:
        return None
    env = {**os.environ, "GOPATH": str(CACHE / "go"), "GOMODCACHE": str(CACHE / "go" / "mod"), "GOFLAGS": "-mod=mod"}
    print(f"building Benthos {BENTHOS_VERSION} (pure + io) into {binary} ...", flush=True)
    done = subprocess.run([go, "build", "-o", str(binary), "."], cwd=ROOT / "bench" / "benthos_peer", env=env,
                          capture_output=True, text=True, timeout=3000, check=False)
    if done.returncode != 0:
        print(f"benthos: build failed: {done.stderr.strip().splitlines()[-1:]}")
        return None
    return binary


def benthos_config(fields: list[str], pattern: str, source: Path, out: Path) -> str:
    """Input file (lines) -> a bloblang mapping listing the invalid ID fields -> output file."""
    # a literal pattern: bloblang compiles it once (a pattern built at run time is compiled per call)
    regex = "^(?:" + pattern.replace("\\", "\\\\").replace('"', '\\"') + ")$"
    checks = []
    for name in fields:
        for where in WRAPPERS:
            path = f"this.{where}.{name}" if where else f"this.{name}"
            checks.append(f'  if {path}.type() == "string" && !{path}.re_match("{regex}") '
                          f'{{ "{name}" }} else {{ deleted() }},')
    mapping = "root = [\n" + "\n".join(checks) + "\n].join(\",\")"
    indented = "\n".join("        " + line for line in mapping.splitlines())
    return f"""input:
  file:
    paths: [ "{source}" ]
    scanner:
      lines: {{}}
pipeline:
  threads: -1
  processors:
    - mapping: |
{indented}
output:
  file:
    path: "{out}"
    codec: lines
logger:
  level: ERROR
metrics:
  none: {{}}
"""


def benthos_peer(binary: Path, fields: list[str], pattern: str, source: Path) -> tuple[float, float, Counter]:
    out = CACHE / "peers-benthos.out"
    config = CACHE / "peers-benthos.yaml"
    config.write_text(benthos_config(fields, pattern, source, out))
    out.unlink(missing_ok=True)
    wall, cpu, done = timed_child([str(binary), "-c", str(config)], timeout=3000)
    if done.returncode != 0:
        raise RuntimeError(f"benthos failed: {done.stderr.decode()[-400:]}")
    invalid: Counter = Counter()
    for line in out.read_text().splitlines():
        for name in filter(None, line.split(",")):
            invalid[name] += 1
    return wall, cpu, invalid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--no-benthos", action="store_true")
    args = parser.parse_args()

    from id_monitor import native

    CACHE.mkdir(exist_ok=True)
    source = CACHE / f"peers-{args.n}-{args.seed}.jsonl"
    if not source.exists():
        source.write_bytes(b"".join(generate_lines(args.n, seed=args.seed, now_ms=NOW_MS)))
    lines = source.read_bytes().splitlines()
    config = load_config(None, env={})
    fields = list(config.fields)
    schema = load_schema(config.schema)
    print(f"file: {source.name}, {len(lines)} messages, {source.stat().st_size / 1e6:.1f} MB; "
          f"fields: {len(fields)}; schema {schema.name} ({len(schema.variants)} templates)")

    rows: dict[str, tuple[float, float, Counter]] = {}
    wall, cpu, done = timed_child([sys.executable, "-m", "id_monitor", "check", str(source), "--json"], cwd=ROOT,
                                  env={**os.environ, "ID_MONITOR_ENGINE": "python"})
    cli_unknown: Counter = Counter()
    for line in done.stdout.splitlines():
        record = orjson.loads(line)
        if record["rule"] == "unknown_format":
            cli_unknown[record["field"]] += 1
    rows["id-monitor check (CLI, python engine)"] = (wall, cpu, cli_unknown)
    rows["pipeline (python, in process)"] = timed(lambda: python_pipeline(config, lines))
    if native.available():
        wired_pipeline(config, lines[:10], args.batch)  # compile the core's engine once, outside the timings
        rows[f"pipeline (native, batches of {args.batch})"] = timed(lambda: wired_pipeline(config, lines, args.batch))
        rows["native core only (NativeChecker)"] = timed(lambda: native_pipeline(config, lines, args.batch))
    else:
        print(f"native: {native.unavailable_reason()}")
    rows["pydantic v2 Field(pattern=...)"] = timed(lambda: pydantic_peer(fields, combined_pattern(schema, True), lines))
    rows["floor: orjson + combined re"] = timed(lambda: floor(fields, combined_pattern(schema, False), lines))
    if not args.no_benthos:
        binary = benthos_binary()
        if binary is None:
            print("benthos: skipped (go not found or build failed)")
        else:
            rows[f"benthos {BENTHOS_VERSION} (bloblang re_match)"] = benthos_peer(
                binary, fields, combined_pattern(schema, True), source)

    reference = rows["pipeline (python, in process)"][2]
    print(f"\n{'contender':44s} {'wall s':>8s} {'cpu s':>8s} {'msg/s (cpu)':>12s} {'cpu us/msg':>11s}  invalid IDs")
    for name, (wall, cpu, counts) in rows.items():
        same = "= unknown" if +counts == +reference else f"DIFFERS: {dict(counts - reference)} / {dict(reference - counts)}"
        print(f"{name:44s} {wall:8.2f} {cpu:8.2f} {len(lines) / cpu:12.0f} {cpu / len(lines) * 1e6:11.1f}  "
              f"{sum(counts.values())} {same}")
    cpu_of = {name: row[1] for name, row in rows.items()}
    native_name = next((n for n in rows if n.startswith("pipeline (native")), None)
    if native_name:
        mine = cpu_of[native_name]
        for peer in rows:
            if peer != native_name:
                print(f"  native pipeline vs {peer}: {cpu_of[peer] / mine:.2f}x the messages per CPU second")


if __name__ == "__main__":
    main()
