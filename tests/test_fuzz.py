"""The fuzz targets (fuzz/targets.py): every regression seed replays cleanly, each target survives a
short fuzz run of FUZZ_RUNS executions, and the targets do catch what they claim to catch.

The short run is atheris (libFuzzer) mutating the seeds without coverage instrumentation, two
targets at a time (about two minutes on two cores); `scripts/fuzz --minutes N` is the long,
coverage-guided run (docs/reliability.md).
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from fuzz import targets as fuzz_targets
from fuzz.run import SEEDS, seed_files
from fuzz.targets import TARGETS, Defect

ROOT = Path(__file__).resolve().parent.parent
FUZZ_RUNS = int(os.environ.get("ID_MONITOR_FUZZ_RUNS", "50000"))
SUMMARY = re.compile(r"^fuzz: (\S+) (\d+) runs in ([\d.]+) s, slowest ([\d.]+) ms", re.MULTILINE)


def test_every_target_has_seeds_and_every_seed_folder_a_target():
    folders = {p.name for p in SEEDS.iterdir() if p.is_dir()}
    assert folders == set(TARGETS)
    for name in TARGETS:
        assert seed_files(name), f"fuzz/seeds/{name} is empty"


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_regression_seeds_replay(name):
    for seed in seed_files(name):
        TARGETS[name](seed.read_bytes())


def _fuzz(name: str) -> subprocess.CompletedProcess[str]:
    try:
        import atheris  # noqa: F401
        engine = ["--no-coverage"]
    except ImportError:
        engine = ["--engine", "hypothesis"]
    return subprocess.run([sys.executable, "-m", "fuzz.run", name, "--runs", str(FUZZ_RUNS), *engine],
                          check=False, cwd=ROOT, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def short_runs() -> dict[str, subprocess.CompletedProcess[str]]:
    """Every target's short run, two at a time (the machine has two cores)."""
    slowest_first = ["config_yaml", "schema_yaml", "message", "record_reader"]
    order = slowest_first + [n for n in sorted(TARGETS) if n not in slowest_first]
    with ThreadPoolExecutor(2) as pool:
        return dict(zip(order, pool.map(_fuzz, order), strict=True))


@pytest.mark.slow
@pytest.mark.timeout(900)  # the first one waits for every target's short run (the module fixture)
@pytest.mark.parametrize("name", sorted(TARGETS))
def test_short_fuzz_run_finds_no_crash(name, short_runs):
    done = short_runs[name]
    assert done.returncode == 0, done.stderr[-3000:]
    summaries = SUMMARY.findall(done.stderr)
    assert summaries, done.stderr[-2000:]
    assert summaries[-1][0] == name
    assert int(summaries[-1][1]) >= FUZZ_RUNS


# -- the targets catch what they claim --------------------------------------------------------


def test_a_reader_that_depends_on_read_sizes_is_caught(monkeypatch):
    """The record_reader target fails when records change with the read sizes."""
    from id_monitor.sources import files

    real = files.read_records

    def size_dependent(stream, max_bytes, chunk_size=1 << 16):
        records = list(real(stream, max_bytes, chunk_size))
        return records if isinstance(stream, io.BytesIO) else records[:-1]

    data = b"\x10\x01\x01\x01" + b'{"a":1}\n{"b":2}\n'
    fuzz_targets.record_reader(data)
    monkeypatch.setattr(files, "read_records", size_dependent)
    with pytest.raises(Defect, match="read sizes"):
        fuzz_targets.record_reader(data)


def test_a_multi_line_config_error_is_caught(monkeypatch):
    from id_monitor.config import ConfigError

    def two_lines(path, env=None):
        raise ConfigError("file: key\nTraceback: more")

    monkeypatch.setattr("id_monitor.config.load_config", two_lines)
    with pytest.raises(Defect, match="not one line"):
        fuzz_targets.config_yaml(b"fields: 1")


def test_a_judge_that_raises_is_caught(monkeypatch):
    checker = fuzz_targets._message_path()[0]

    def broken(message, observed_ms):
        raise RuntimeError("bug")

    monkeypatch.setattr(checker.judge, "check", broken)
    if checker._native is not None:  # the native engine: its core fails too, so the Python path runs

        class Raising:
            def check_batch(self, *args, **kwargs):
                raise RuntimeError("core bug")

        monkeypatch.setattr(checker._native, "_core", Raising())
    with pytest.raises(Defect, match="judging raised"):
        fuzz_targets.message(b'\x00{"thread_id": "x"}')
