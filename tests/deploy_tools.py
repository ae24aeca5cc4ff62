"""The deploy tests' tools: helm (built by scripts/bootstrap), the chart, the manifest validator.

A missing tool skips a test with the reason, except under CI (`CI` set), where it fails: there
scripts/bootstrap installs everything, so a missing tool is a broken install step.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "deploy" / "helm" / "id-monitor"
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
HELM_VERSION = "v3.22.0"
KUBE_VERSION = "1.33"


def missing(tool: str, how: str) -> None:
    message = f"{tool} is not installed ({how})"
    if os.environ.get("CI"):
        pytest.fail(message + ": under CI scripts/bootstrap must have installed it")
    pytest.skip(message)


def helm_binary() -> str:
    built = ROOT / ".cache" / f"helm-{HELM_VERSION}" / "helm"
    found = os.environ.get("HELM") or (str(built) if built.is_file() else shutil.which("helm"))
    if not found:
        missing("helm", "scripts/bootstrap builds it into .cache/")
    return found


def helm(*args: str, chart: Path = CHART, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Runs `helm ARGS... CHART` (offline: lint and template need no cluster)."""
    done = subprocess.run([helm_binary(), *args, str(chart)], capture_output=True, text=True, timeout=120,
                          check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed:\n{done.stderr}")
    return done


def render(values: Path | None = None, *sets: str, chart: Path = CHART) -> str:
    args = ["template", "release", "--namespace", "observability", "--kube-version", KUBE_VERSION]
    if values is not None:
        args += ["-f", str(values)]
    for item in sets:
        args += ["--set", item]
    return helm(*args, chart=chart).stdout


def objects(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def find(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    matches = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(matches) == 1, f"expected one {kind} {name or ''}, got {len(matches)}"
    return matches[0]


def load_validator() -> Any:
    """deploy/validate.py as a module (it is a script of the repository, not of the package)."""
    spec = importlib.util.spec_from_file_location("deploy_validate", ROOT / "deploy" / "validate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("deploy_validate", module)
    spec.loader.exec_module(module)
    return module
