"""Baseline and ratchet: migrated share per service, new sites named, stable fingerprints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from id_monitor.scan.baseline import BaselineError, ServiceProgress, compare, read_baseline, write_baseline
from id_monitor.scan.config import ScanConfig
from id_monitor.scan.runner import run_scan


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def scan(root: Path):
    return run_scan([root], root, ScanConfig(), jobs=1)


BEFORE = {
    "api/users.py": "import uuid\n\ndef new_user():\n    return str(uuid.uuid4())\n\ndef new_session():\n    return uuid.uuid4().hex\n",
    "chat/threads.py": "from uuid import uuid4\n\ndef thread_id():\n    return uuid4().hex[:8]\n",
}


def test_migrated_share_is_one_minus_remaining_over_baseline(tmp_path: Path) -> None:
    write(tmp_path, BEFORE)
    write_baseline(scan(tmp_path), tmp_path / "baseline.json")
    # api migrates one of its two sites; chat unchanged.
    write(tmp_path, {"api/users.py": "import uuid\n\ndef new_user():\n    return ids.new('user')\n\n"
                                     "def new_session():\n    return uuid.uuid4().hex\n"})
    comparison = compare(scan(tmp_path), read_baseline(tmp_path / "baseline.json"))
    assert comparison.services["api"] == ServiceProgress("api", baseline=2, remaining=1)
    assert comparison.services["api"].migrated == pytest.approx(0.5)
    assert comparison.services["chat"].migrated == 0.0
    assert not comparison.failed and comparison.new_sites == []


def test_ratchet_fails_on_increase_and_names_the_new_site(tmp_path: Path) -> None:
    write(tmp_path, BEFORE)
    write_baseline(scan(tmp_path), tmp_path / "baseline.json")
    write(tmp_path, {"chat/threads.py": BEFORE["chat/threads.py"] + "\ndef message_id():\n    return str(uuid4())\n"})
    comparison = compare(scan(tmp_path), read_baseline(tmp_path / "baseline.json"))
    assert comparison.failed_services == ["chat"]
    assert comparison.services["chat"].increase == 1
    (new,) = comparison.new_sites
    assert (new.path, new.site.line, new.site.function, new.site.pattern) == ("chat/threads.py", 7, "message_id", "str")


def test_moving_code_around_does_not_make_sites_new(tmp_path: Path) -> None:
    write(tmp_path, BEFORE)
    write_baseline(scan(tmp_path), tmp_path / "baseline.json")
    shifted = BEFORE["api/users.py"].replace("import uuid\n", "import uuid\nimport logging\n\nLOG = logging.getLogger()\n")
    write(tmp_path, {"api/users.py": shifted})
    comparison = compare(scan(tmp_path), read_baseline(tmp_path / "baseline.json"))
    assert comparison.new_sites == [] and not comparison.failed


def test_swapping_one_site_for_another_names_it_without_failing(tmp_path: Path) -> None:
    write(tmp_path, BEFORE)
    write_baseline(scan(tmp_path), tmp_path / "baseline.json")
    write(tmp_path, {"api/users.py": "import uuid\n\ndef new_user():\n    return f'u_{uuid.uuid4()}'\n\n"
                                     "def new_session():\n    return uuid.uuid4().hex\n"})
    comparison = compare(scan(tmp_path), read_baseline(tmp_path / "baseline.json"))
    assert not comparison.failed  # same count
    assert [s.site.pattern for s in comparison.new_sites] == ["fstring"]


def test_a_new_service_with_sites_fails_the_ratchet(tmp_path: Path) -> None:
    write(tmp_path, BEFORE)
    write_baseline(scan(tmp_path), tmp_path / "baseline.json")
    write(tmp_path, {"search/index.py": "import uuid\nDOC = uuid.uuid4()\n"})
    comparison = compare(scan(tmp_path), read_baseline(tmp_path / "baseline.json"))
    assert comparison.failed_services == ["search"]
    assert comparison.services["search"].baseline is None and comparison.services["search"].migrated is None


def test_baseline_document_shape(tmp_path: Path) -> None:
    write(tmp_path, BEFORE)
    write_baseline(scan(tmp_path), tmp_path / "b.json")
    document = json.loads((tmp_path / "b.json").read_text())
    assert document["version"] == 1 and document["total"] == 3
    assert document["services"] == {"api": 2, "chat": 1}
    assert {s["path"] for s in document["sites"]} == {"api/users.py", "chat/threads.py"}


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "does not exist"), ("{not json", "cannot be read"), ('{"version": 99}', "not an id-monitor"),
     ('{"version": 1, "services": [], "sites": []}', "must be an object")],
)
def test_bad_baselines_are_usage_errors(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "baseline.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(BaselineError, match=message):
        read_baseline(path)
