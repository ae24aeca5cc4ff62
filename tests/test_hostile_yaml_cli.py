"""Hostile config and schema files through the real CLI: one line on stderr, exit 2, in bounded
time and memory (the child runs under an address-space limit and a timeout)."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

MEMORY_LIMIT = 768 << 20  # bytes of address space for the child: the CLI itself needs ~450 MB
TIMEOUT = 60.0  # seconds; these inputs used to run past 120 s or end in a traceback at once


def alias_bomb() -> str:
    """Nine levels of nine aliases: ~300 bytes that stand for 387 million values."""
    levels = ["&a [x, x, x, x, x, x, x, x, x]"]
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        levels.append(f"&{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
    return "[" + ", ".join(levels) + "]"


QUIET = "metrics:\n  listen: 127.0.0.1:0\n"
HOSTILE_CONFIGS = {
    "alias_bomb": (QUIET + "policy:\n  references:\n    bomb: " + alias_bomb() + "\n", "aliases expand"),
    "deep_nesting": (QUIET + "policy:\n  references: " + "[" * 5000 + "]" * 5000 + "\n", "nesting depth"),
    "deep_nesting_within_libyaml": (QUIET + "policy:\n  references: " + "[" * 500 + "]" * 500 + "\n",
                                    "nesting deeper than 64"),
    "huge_integer": (QUIET + "limits:\n  max_depth: " + "9" * 5000 + "\n", "integer longer than"),
    "huge_duration": (QUIET + "policy:\n  max_age: 99999999999999999999d\n", "duration too large"),
    "impossible_date": (QUIET + "policy:\n  max_age: 2001-02-30\n", "day is out of range"),
    "recursive_alias": (QUIET + "policy:\n  references: &r {a: *r}\n", "recursive alias"),
}
HOSTILE_SCHEMAS = {
    "alias_bomb": ("name: bomb\nowner_width: " + alias_bomb() + "\nformats: []\n", "aliases expand"),
    "deep_nesting": ("name: deep\nformats: " + "[" * 5000 + "]" * 5000 + "\n", "nesting depth"),
    "huge_integer": ("name: big\nowner_width: " + "9" * 5000 + "\nformats: []\n", "integer longer than"),
}


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "id_monitor", *args], capture_output=True, text=True,
        stdin=subprocess.DEVNULL, timeout=TIMEOUT, preexec_fn=_limit_memory, check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr[-2000:]
    assert len(lines) == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    for text in expected:
        assert text in lines[0]


@pytest.mark.parametrize("command", ["check", "run"])
@pytest.mark.parametrize("case", sorted(HOSTILE_CONFIGS))
def test_hostile_config_is_one_line_and_exit_2(tmp_path: Path, command: str, case: str) -> None:
    text, problem = HOSTILE_CONFIGS[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(text)
    args = ["check", "--config", str(path), "/dev/null"] if command == "check" else \
        ["run", "--config", str(path), "--input", "/dev/null"]
    assert_one_line_error(run_cli(*args), path.name, problem)


@pytest.mark.parametrize("case", sorted(HOSTILE_SCHEMAS))
def test_hostile_schema_is_one_line_and_exit_2(tmp_path: Path, case: str) -> None:
    text, problem = HOSTILE_SCHEMAS[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(text)
    assert_one_line_error(run_cli("classify", "--schema", str(path), "thread_x"), path.name, problem)


def test_hostile_schema_named_by_a_config_is_one_line_for_check_and_run(tmp_path: Path) -> None:
    schema = tmp_path / "bomb-schema.yaml"
    schema.write_text(HOSTILE_SCHEMAS["alias_bomb"][0])
    config = tmp_path / "config.yaml"
    config.write_text(QUIET + f"schema: {schema}\n")
    assert_one_line_error(run_cli("check", "--config", str(config), "/dev/null"), "aliases expand")
    assert_one_line_error(run_cli("run", "--config", str(config), "--input", "/dev/null"), "aliases expand")


@pytest.mark.parametrize("command", ["check", "run"])
def test_unknown_schema_is_one_line_and_exit_2(tmp_path: Path, command: str) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(QUIET + "schema: nosuch\n")
    args = ["check", "--config", str(config), "/dev/null"] if command == "check" else \
        ["run", "--config", str(config), "--input", "/dev/null"]
    assert_one_line_error(run_cli(*args), "no builtin schema 'nosuch'")


def test_alias_bomb_in_an_environment_override_is_one_line_and_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(QUIET)
    result = subprocess.run(
        [sys.executable, "-m", "id_monitor", "check", "--config", str(config), "/dev/null"],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=TIMEOUT,
        preexec_fn=_limit_memory, check=False,
        env={**os.environ, "ID_MONITOR_POLICY__REFERENCES": "{bomb: " + alias_bomb() + "}"},
    )
    assert_one_line_error(result, "ID_MONITOR_POLICY__REFERENCES (environment)", "aliases expand")
