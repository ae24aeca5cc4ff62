"""The pipeline's `Checker.check_batch` on the native engine against the Python engine: the same
BatchResult (metrics batch with exemplars, totals, violations with where they were seen, unknown
findings for shape tracking) on generated traffic and random records, and the engine selection
(`engine: auto | native | python`, fallbacks, one-line errors, --version, build_info)."""

from __future__ import annotations

from typing import Any, NamedTuple

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from id_monitor import native
from id_monitor.config import Config, ConfigError, load_config
from id_monitor.pipeline import Checker, build_engine
from id_monitor.schema import load_schema
from id_monitor.sources.batch import Chunk
from id_monitor.traffic import generate
from tests.native_reference import CONFIGS, NOW
from tests.native_strategies import message_bytes

SCHEMAS = {"netra": load_schema("netra")}
needs_core = pytest.mark.skipif(not native.available(), reason=native.unavailable_reason() or "no native core")
TRACEPARENT = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


class Record(NamedTuple):
    value: bytes | None
    headers: list[tuple[str, bytes]] | None
    offset: int
    problem: str | None = None


def _engine(config: Config, name: str):  # type: ignore[no-untyped-def]
    return build_engine(config.model_copy(update={"engine": name}))


def _plain(result: Any) -> dict[str, Any]:
    """A pipeline BatchResult as comparable data (exemplars by labels; age sums rounded)."""
    metrics = result.metrics
    return {
        "ids": metrics.ids,
        "findings": metrics.findings,
        "messages": metrics.messages,
        "ages": {k: (counts, round(total, 6), {i: (dict(e.labels), round(e.value, 6)) for i, e in ex.items()})
                 for k, (counts, total, ex) in metrics.ages.items()},
        "exemplars": {k: dict(e.labels) for k, e in metrics.exemplars.items()},
        "totals": result.totals.as_dict(),
        "violations": result.violations,
        "unknown": result.unknown,
    }


def _both(config: Config, chunks_of_batches: list[list[Chunk]]) -> None:
    """Every batch through one Checker per engine (owner tracking advances alike)."""
    python, fast = Checker(_engine(config, "python")), Checker(_engine(config, "native"))
    assert python.engine.name == "python" and fast.engine.name == "native"
    for chunks in chunks_of_batches:
        assert _plain(fast.check_batch(chunks, NOW)) == _plain(python.check_batch(chunks, NOW))


def _records(raws: list[bytes | None], traced: set[int] = frozenset()) -> list[Record]:  # type: ignore[assignment]
    return [Record(raw, [("traceparent", TRACEPARENT)] if i in traced else None, 100 + i)
            for i, raw in enumerate(raws)]


@needs_core
@pytest.mark.parametrize("name", list(CONFIGS))
def test_traffic_batches_give_the_same_batch_result(name):
    config = CONFIGS[name]
    raws: list[bytes | None] = [orjson.dumps(m) for m, _ in generate(2000, seed=3, now_ms=NOW)]
    raws[7:7] = [b"not json", None, b"[1]", b"\xff", b'{"thread_id": 5, "message_id": ["x", 7, null]}']
    records = _records(raws, traced={1, 8, 40, 41, 900})
    records.insert(20, Record(None, None, 99, "too_large"))
    records.insert(30, Record(bytearray(b'{"thread_id": "nope", "user_id": "u_1"}'), None, 98))  # type: ignore[arg-type]
    batches = [[Chunk("kafka:a", "a", 0, records[:1000]), Chunk("kafka:b", "b", 1, records[1000:1500])],
               [Chunk("kafka:a", "a", 0, records[1500:])]]
    _both(config, batches)


@needs_core
@pytest.mark.parametrize("name", list(CONFIGS))
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_random_records_give_the_same_batch_result(name, data):
    config = CONFIGS[name]
    schema = load_schema(config.schema)
    raws = data.draw(st.lists(message_bytes(schema, list(config.fields)), max_size=25))
    traced = data.draw(st.sets(st.integers(0, 30)))
    problems = data.draw(st.sets(st.integers(0, 30)))
    records = [Record(None, None, r.offset, "truncated") if i in problems else r
               for i, r in enumerate(_records(raws, traced))]
    _both(config, [[Chunk("stdin", None, None, records)], [Chunk("stdin", None, None, records[::-1])]])


@needs_core
def test_collisions_are_tracked_once_across_batches():
    """Owners sharing a prefix, over two batches: the owner_collision findings (violations under
    this policy) come out in the same messages on both engines."""
    config = load_config(env={"ID_MONITOR_POLICY__SEVERITY__OWNER_COLLISION": "violation"})
    raws = [orjson.dumps({"user_id": f"user_123{i}", "thread_id": "nope"}) for i in range(6)]
    records = _records(raws)
    _both(config, [[Chunk("stdin", None, None, records[:3])], [Chunk("stdin", None, None, records[3:])]])
    result = Checker(_engine(config, "native")).check_batch([Chunk("stdin", None, None, records)], NOW)
    assert [f.rule for f, _ in result.violations].count("owner_collision") == 5


def test_engine_key_default_env_override_and_one_line_error(tmp_path):
    assert load_config(env={}).engine == "auto"
    assert load_config(env={"ID_MONITOR_ENGINE": "python"}).engine == "python"
    path = tmp_path / "c.yaml"
    path.write_text("engine: rust\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    assert "engine" in str(caught.value) and "\n" not in str(caught.value)


def test_unsupported_config_falls_back_or_is_a_config_error():
    config = Config.model_validate({"revision": {"values": ["v1", "v2"], "header": "x-revision"}})
    name, notice = native.resolve_engine("auto", SCHEMAS["netra"], config)
    assert name == "python" and notice is not None and "\n" not in notice
    assert build_engine(config).name == "python"
    with pytest.raises(ConfigError) as caught:
        build_engine(config.model_copy(update={"engine": "native"}))
    assert str(caught.value).startswith("engine: native:") and "\n" not in str(caught.value)
    assert build_engine(config.model_copy(update={"engine": "python"})).name == "python"


def test_auto_picks_native_exactly_when_the_core_is_built():
    assert build_engine(load_config(env={})).name == ("native" if native.available() else "python")


def test_native_refused_at_the_command_line_when_it_cannot_run(tmp_path):
    from id_monitor.cli import app

    path = tmp_path / "c.yaml"
    path.write_text("engine: native\nrevision:\n  values: [v1]\n  header: x-revision\n")
    (tmp_path / "m.jsonl").write_text('{"thread_id": "x"}\n')
    result = CliRunner().invoke(app, ["check", str(tmp_path / "m.jsonl"), "--config", str(path)])
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert "engine: native:" in result.output
    assert ("revision" if native.available() else "not built") in result.output


def test_version_names_the_engine_auto_picks(monkeypatch):
    from id_monitor import __version__
    from id_monitor.cli import app

    monkeypatch.delenv("ID_MONITOR_ENGINE", raising=False)
    shown = CliRunner().invoke(app, ["--version"])
    assert shown.exit_code == 0
    expected = "engine: native" if native.available() else "engine: python"
    assert shown.output.startswith(f"id-monitor {__version__}, {expected}")
    monkeypatch.setenv("ID_MONITOR_ENGINE", "python")
    assert "engine: python (configured)" in CliRunner().invoke(app, ["--version"]).output
    monkeypatch.setenv("ID_MONITOR_ENGINE", "rust")
    refused = CliRunner().invoke(app, ["--version"])
    assert refused.exit_code == 2 and "ID_MONITOR_ENGINE" in refused.output and refused.output.count("\n") == 1


@pytest.mark.parametrize("name", ["native", "python", "weird"])
def test_build_info_has_a_bounded_engine_label(name):
    from prometheus_client import CollectorRegistry

    from id_monitor import __version__
    from id_monitor.sinks.metrics import IdMetrics

    registry = CollectorRegistry()
    config = load_config(env={})
    IdMetrics(config, SCHEMAS["netra"], ["stdin"], registry, engine=name)
    shown = name if name != "weird" else "other"
    assert registry.get_sample_value("id_monitor_build_info", {"version": __version__, "engine": shown}) == 1


def test_auto_fallback_is_one_plain_notice_on_a_command(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "c.yaml"
    path.write_text("revision:\n  values: [v1]\n  header: x-revision\n")
    env = {"PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "id_monitor", "check", "-", "--config", str(path)],
                          input=b'{"thread_id": "x"}\n', env=env, capture_output=True, timeout=60, check=False)
    assert done.returncode == 1  # the unknown thread_id is a violation: checked, on the Python engine
    notices = [line for line in done.stderr.decode().splitlines() if line.startswith("id-monitor: ")]
    assert len(notices) == 1 and "using the Python engine" in notices[0]
    assert ("revision" if native.available() else "not built") in notices[0]


@needs_core
def test_a_core_that_raises_costs_no_message_the_python_path_checks_the_chunk(caplog):
    config = CONFIGS[next(iter(CONFIGS))]
    raws: list[bytes | None] = [orjson.dumps(m) for m, _ in generate(200, seed=4, now_ms=NOW)]
    chunks = [Chunk("stdin", None, None, _records(raws))]
    expected = _plain(Checker(_engine(config, "python")).check_batch(chunks, NOW))
    broken = Checker(_engine(config, "native"))

    class Raising:
        def check_batch(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("core bug")

    broken._native._core = Raising()  # type: ignore[union-attr]
    assert _plain(broken.check_batch(chunks, NOW)) == expected
    assert "native_check_failed" in caplog.text
