"""The layering rule, checked by import-linter with the contracts in pyproject.toml: stages flow one
way (commands -> agent | otel -> pipeline -> sources | sinks -> judge -> extract | classify ->
schema -> config -> model), sources and sinks never import each other, no import cycles."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT = Path(sys.executable).with_name("lint-imports")


def lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT), "--no-cache"], cwd=root, env=env, capture_output=True, text=True, timeout=120)


def test_the_package_keeps_every_contract() -> None:
    done = lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.mark.parametrize("module, bad_import, contract", [
    ("id_monitor/model.py", "import id_monitor.agent", "Stages flow one way"),
    ("id_monitor/sinks/metrics.py", "import id_monitor.sources.kafka", "Sources and sinks never import each other"),
    ("id_monitor/schema/segments.py", "import id_monitor.schema.loader", "No import cycles"),
])
def test_a_wrong_import_breaks_its_contract(tmp_path: Path, module: str, bad_import: str, contract: str) -> None:
    shutil.copytree(ROOT / "id_monitor", tmp_path / "id_monitor", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    target.write_text(target.read_text() + f"\n{bad_import}  # noqa\n")
    done = lint(tmp_path)
    assert done.returncode != 0
    broken = [line for line in done.stdout.splitlines() if line.endswith("BROKEN")]
    assert any(contract in line for line in broken) or contract in done.stdout.split("Broken contracts")[-1], done.stdout
