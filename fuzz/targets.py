"""Fuzz targets: one function per entry point that takes outside input, `target(data: bytes)`.

A target returns normally for every input the entry point handles as documented (a result, a
counted finding, a one-line error) and raises `Defect` (or lets an unexpected exception escape)
for anything else: that input is a crash, kept under `fuzz/seeds/<target>/` once fixed.

Targets take plain bytes (no fuzzer-specific data provider), so a seed file is replayed by calling
the target with its contents, with or without atheris. Where a target needs several inputs it
cuts the bytes at NUL (`_parts`); where it needs a small number it takes the first byte.

The engines are built once per process (module globals, lazily): a target measures the entry
point, not the set-up.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable
from functools import cache
from typing import Any

MAX_YAML_BYTES = 8192


class Defect(AssertionError):
    """The entry point broke its contract on this input."""


def _parts(data: bytes, count: int) -> list[bytes]:
    """`data` cut at NUL into exactly `count` parts (missing ones empty, the last keeps the rest)."""
    parts = data.split(b"\x00", count - 1)
    return parts + [b""] * (count - len(parts))


def _one_line(text: str, what: str) -> None:
    if not text or "\n" in text or "Traceback" in text:
        raise Defect(f"{what} is not one line: {text!r}")


# -- classify -------------------------------------------------------------------------------


@cache
def _classifiers() -> tuple[Any, ...]:
    from id_monitor.classify import Classifier

    return (Classifier("netra"), Classifier("netra", cache_size=0),
            Classifier("standard"), Classifier("standard", cache_size=0))


def _check_classify(text: str) -> None:
    from id_monitor.model import IdInfo

    netra, netra_plain, standard, standard_plain = _classifiers()
    for cached, plain in ((netra, netra_plain), (standard, standard_plain)):
        for _ in range(2):  # the second call may be a cache hit: it must give the same answer
            info = cached.classify(text)
            if type(info) is not IdInfo:
                raise Defect(f"classify returned {type(info).__name__}")
            if info.status not in ("target", "legacy", "unknown"):
                raise Defect(f"status {info.status!r}")
            if (info.status == "unknown") != (info.format is None):
                raise Defect(f"status {info.status} with format {info.format!r}")
            if info.reason == "error":
                raise Defect("a decoder raised inside classify")
        if plain.classify(text) != info:
            raise Defect("the cached and the uncached classifier disagree")


def classify_text(data: bytes) -> None:
    """`Classifier.classify` on any text (UTF-8 with undecodable bytes kept as surrogates)."""
    _check_classify(data.decode("utf-8", "surrogateescape"))


def classify_bytes(data: bytes) -> None:
    """Undecodable input: bytes are `not_a_string`; their Latin-1 reading is a str like any other."""
    from id_monitor.classify import NOT_A_STRING

    netra = _classifiers()[0]
    for value in (data, bytearray(data), memoryview(data)):
        if netra.classify(value) is not NOT_A_STRING:
            raise Defect(f"{type(value).__name__} is not reported as not_a_string")
    _check_classify(data.decode("latin-1"))


# -- the message path -------------------------------------------------------------------------


@cache
def _message_path() -> tuple[Any, ...]:
    from id_monitor.config import load_config
    from id_monitor.pipeline import Checker, build_engine
    from id_monitor.sinks.metrics import IdMetrics

    engine = build_engine(load_config(None, env={}))
    metrics = IdMetrics(engine.config, engine.schema, ["stdin"])
    return Checker(engine), metrics, [0]


def message(data: bytes) -> None:
    """Raw bytes → decode → judge → one batch's counts merged into the process metrics.

    The first byte picks the record's headers (none, a traceparent from the input); the rest is
    the message. Every record ends counted exactly once, never as a check failure (a bug), and the
    exported series stay those of the configuration and schema.
    """
    from id_monitor.sources.batch import Chunk, LineRecord

    checker, metrics, calls = _message_path()
    flags, payload = (data[0], data[1:]) if data else (0, b"")
    headers = None
    if flags & 1:
        trace, _, payload = payload.partition(b"\n")
        headers = [("traceparent", trace)]
    record = LineRecord(payload, 1, None, headers)
    result = checker.check_batch([Chunk("stdin", None, None, [record])], 1_757_000_000_000)
    totals = result.totals
    if totals.errors:
        raise Defect("judging raised (counted as check_failed)")
    if totals.ok + totals.malformed + totals.skipped != 1:
        raise Defect(f"one record counted as {totals}")
    metrics.merge(result.metrics)
    calls[0] += 1
    if calls[0] % 4096 == 1:
        series = series_count(metrics.registry)
        if calls[0] == 1:
            calls.append(series)
        elif series != calls[1]:
            raise Defect(f"exported series changed from {calls[1]} to {series}")


def series_count(registry: Any) -> int:
    """How many samples a scrape of `registry` exports (what the exposition writes one line each)."""
    return sum(len(family.samples) for family in registry.collect())


# -- the config and schema loaders ------------------------------------------------------------


@cache
def _scratch() -> tuple[str, int]:
    """One scratch file per process, rewritten in place (opening a new file costs more than loading)."""
    memory = "/dev/shm"
    folder = tempfile.mkdtemp(prefix="id-monitor-fuzz-", dir=memory if os.path.isdir(memory) else None)
    path = os.path.join(folder, "input.yaml")
    return path, os.open(path, os.O_RDWR | os.O_CREAT, 0o600)


def _write(data: bytes) -> str:
    path, fd = _scratch()
    data = data[:MAX_YAML_BYTES]
    os.pwrite(fd, data, 0)
    os.ftruncate(fd, len(data))
    return path


def config_yaml(data: bytes) -> None:
    """`load_config` on any file: a Config, or a ConfigError of one line; nothing else."""
    from id_monitor.config import ConfigError, load_config

    path = _write(data)
    try:
        load_config(path, env={})
    except ConfigError as exc:
        _one_line(str(exc), "ConfigError")


def schema_yaml(data: bytes) -> None:
    """`load_schema` on any file: a Schema (which compiles and classifies), or a SchemaError of one line."""
    from id_monitor.classify import Classifier
    from id_monitor.schema import SchemaError, load_schema

    path = _write(data)
    try:
        schema = load_schema(path)
    except SchemaError as exc:
        _one_line(str(exc), "SchemaError")
        return
    classifier = Classifier(schema, cache_size=0)
    for line in data.decode("utf-8", "replace").split()[:8]:
        info = classifier.classify(line.strip("'\""))
        if info.reason == "error":
            raise Defect("a decoder of a loaded schema raised inside classify")


# -- the `check` file reader ------------------------------------------------------------------


class _Pieces(io.RawIOBase):
    """A stream that hands out its bytes in the given sizes (cycled), as a pipe might."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self._data, self._sizes, self._pos, self._reads = data, sizes, 0, 0

    def read1(self, n: int = -1) -> bytes:
        size = self._sizes[self._reads % len(self._sizes)]
        size = size if n < 0 else min(n, size)
        self._reads += 1
        piece = self._data[self._pos : self._pos + size]
        self._pos += len(piece)
        return piece


def record_reader(data: bytes) -> None:
    """The record reader gives the same records, line numbers and problems whatever the read sizes.

    Byte 0 picks `max_bytes` (1..64), bytes 1-3 the read sizes (1..16 each); the rest is the input,
    read whole, in those sizes and (up to 64 bytes, to keep runs fast) byte by byte.
    """
    from id_monitor.sources.files import read_records

    head, payload = data[:4].ljust(4, b"\x00"), data[4:]
    max_bytes = 1 + head[0] % 64
    sizes = [1 + b % 16 for b in head[1:4]]
    whole = list(read_records(io.BytesIO(payload), max_bytes, chunk_size=len(payload) + 1))
    for pattern in (sizes, [1]) if len(payload) <= 64 else (sizes,):
        pieces = list(read_records(_Pieces(payload, pattern), max_bytes))
        if pieces != whole:
            raise Defect(f"read sizes {pattern} give other records than one read")
    for line, raw, problem in whole:
        if (raw is None) == (problem is None):
            raise Defect(f"record at line {line}: raw and problem both set or both missing")
        if raw is not None and len(raw) > max_bytes:
            raise Defect(f"record of {len(raw)} bytes > max_bytes {max_bytes}")
        if not 1 <= line <= payload.count(b"\n") + 1:
            raise Defect(f"line {line} outside the input")


# -- the HTTP request collector ---------------------------------------------------------------


def _run_to_end(coroutine: Any) -> Any:
    """Run a coroutine that never waits on I/O (its awaits all complete at once) without a loop."""
    try:
        while True:
            coroutine.send(None)
    except StopIteration as done:
        return done.value


@cache
def _collector() -> Any:
    from fastapi import FastAPI

    from id_monitor.config import HttpSpec
    from id_monitor.sources.http import RequestCollector

    app = FastAPI()

    @app.get("/threads/{thread_id}")
    def thread(thread_id: str) -> None: ...

    @app.get("/users/{user_id}/runs/{run_id}")
    def run(user_id: str, run_id: str) -> None: ...

    @app.get("/files/{request_id:path}")
    def files(request_id: str) -> None: ...

    settings = HttpSpec(body_fields=["thread_id", "run_id"], max_body_bytes=4096,
                        headers={"x-request-id": "request_id", "x-thread-id": "thread_id"})
    return RequestCollector(app, settings, ["thread_id", "run_id", "user_id", "request_id"])


def http_request(data: bytes) -> None:
    """`RequestCollector.collect` on any path, query, headers and body (parts cut at NUL).

    Headers are `name: value` lines. The collector returns values of configured fields only, a
    body outcome of ok | malformed | skipped, and replays every body byte it read to the app.
    """
    from id_monitor.sources.http import Replay, by_field

    collector = _collector()
    path, query, header_text, body = _parts(data, 4)
    headers = [(name.strip().lower(), value.strip()) for name, _, value in
               (line.partition(b":") for line in header_text.split(b"\n")) if name.strip()]
    if body:
        headers.append((b"content-type", b"application/json"))
    scope = {"type": "http", "method": "GET", "path": path.decode("latin-1"), "raw_path": path,
             "root_path": "", "query_string": query, "headers": headers, "app": collector.app}
    half = len(body) // 2
    messages = [{"type": "http.request", "body": body[:half], "more_body": True},
                {"type": "http.request", "body": body[half:], "more_body": False}]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def collect() -> tuple[Any, ...]:
        replay = Replay(receive)
        found, outcome, user = await collector.collect(scope, replay)
        replayed = b""
        while replay.pending:
            replayed += (await replay.receive()).get("body", b"")
        return found, outcome, user, replayed

    found, outcome, _user, replayed = _run_to_end(collect())
    if outcome not in ("ok", "malformed", "skipped"):
        raise Defect(f"body outcome {outcome!r}")
    wanted = {"thread_id", "run_id", "user_id", "request_id"}
    for location, field, _value in found:
        if field not in wanted or location not in ("path", "header", "query", "body"):
            raise Defect(f"collected {location}:{field}, not a configured field")
    if replayed and replayed != body[: len(replayed)]:
        raise Defect("the replayed body is not the body the app was sent")
    by_field(found)


# -- discover's tokeniser and shape miner -----------------------------------------------------


@cache
def _miner() -> Any:
    from id_monitor.discover.shapes import ShapeMiner

    return ShapeMiner(min_support=2, capacity=16)


def discover_shapes(data: bytes) -> None:
    """`tokenise` is bounded and loses nothing it keeps; `ShapeMiner.observe` takes any string."""
    from id_monitor.discover.tokenise import MAX_ATOMS, MAX_INPUT, TRUNCATED, Run, tokenise

    value = data.decode("utf-8", "surrogateescape")
    atoms = tokenise(value)
    if len(atoms) > MAX_ATOMS:
        raise Defect(f"{len(atoms)} atoms > {MAX_ATOMS}")
    cut = bool(atoms) and isinstance(atoms[-1], Run) and atoms[-1].cls == TRUNCATED
    text = "".join(atom if isinstance(atom, str) else atom.text for atom in atoms)
    if not cut and text != value:
        raise Defect("the atoms do not spell the value")
    if cut and not value[:MAX_INPUT].startswith(text):
        raise Defect("the kept atoms are not a prefix of the value")
    miner = _miner()
    miner.observe(value)
    miner.observe(value)  # the second sighting goes through the plan cache
    if miner.total % 300 < 3:
        miner.rows(8)


TARGETS: dict[str, Callable[[bytes], None]] = {
    "classify_text": classify_text,
    "classify_bytes": classify_bytes,
    "message": message,
    "config_yaml": config_yaml,
    "schema_yaml": schema_yaml,
    "record_reader": record_reader,
    "http_request": http_request,
    "discover_shapes": discover_shapes,
}
