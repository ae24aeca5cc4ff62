"""Files that cannot be scanned are reported as skipped with a reason, and never stop the scan."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from id_monitor.scan.config import ScanConfig
from id_monitor.scan.read import scan_file
from id_monitor.scan.runner import run_scan
from id_monitor.scan.targets import Targets

GOOD = "import uuid\nrequest_id = str(uuid.uuid4())\n"


def scan(root: Path, **config: object) -> dict[str, tuple[str, str | None, str | None]]:
    result = run_scan([root], root, ScanConfig(**config), jobs=1)  # type: ignore[arg-type]
    return {f.path: (f.state, f.reason, f.detail) for f in result.files}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "svc").mkdir()
    (tmp_path / "svc" / "good.py").write_text(GOOD)
    return tmp_path


def test_python2_file_is_skipped_as_syntax_error_with_a_hint(tree: Path) -> None:
    (tree / "svc" / "old.py").write_text('import uuid\nprint "legacy", uuid.uuid4()\n')
    files = scan(tree)
    state, reason, detail = files["svc/old.py"]
    assert (state, reason) == ("skipped", "syntax_error")
    assert "line 2" in detail and "Python 2" in detail
    assert "1 line(s) mention uuid4" in detail  # what a reviewer must check by hand
    assert files["svc/good.py"][0] == "hits"  # the scan went on


def test_non_utf8_bytes_are_a_decode_error(tree: Path) -> None:
    (tree / "svc" / "latin.py").write_bytes(b"import uuid\nname = '\xe9t\xe9'\nx = uuid.uuid4()\n")
    state, reason, detail = scan(tree)["svc/latin.py"]
    assert (state, reason) == ("skipped", "decode_error")
    assert "utf-8" in detail.lower()


def test_null_bytes_are_a_syntax_error(tree: Path) -> None:
    (tree / "svc" / "nul.py").write_bytes(b"import uuid\x00\nx = uuid.uuid4()\n")
    assert scan(tree)["svc/nul.py"][:2] == ("skipped", "syntax_error")


def test_huge_generated_file_is_skipped_by_size(tree: Path) -> None:
    (tree / "svc" / "generated_pb2.py").write_text("import uuid\n" + "x = uuid.uuid4()\n" * 5000)
    state, reason, detail = scan(tree, max_file_bytes=10_000)["svc/generated_pb2.py"]
    assert (state, reason) == ("skipped", "too_large")
    assert "max-file-bytes 10000" in detail


def test_absurdly_deep_expression_is_skipped(tree: Path) -> None:
    (tree / "svc" / "parens.py").write_text("import uuid\nx = " + "(" * 300 + "uuid.uuid4()" + ")" * 300 + "\n")
    (tree / "svc" / "unary.py").write_text("import uuid\nx = " + "-" * 900 + "uuid.uuid4()\n")
    files = scan(tree)
    # Beyond the parser's own limit: a syntax error; within it but beyond the recursion limit of
    # the analysis: too_complex. Either way skipped with a reason, and the scan finished.
    assert files["svc/parens.py"][:2] == ("skipped", "syntax_error")
    assert "too many nested parentheses" in files["svc/parens.py"][2]
    assert files["svc/unary.py"][:2] == ("skipped", "too_complex")
    assert files["svc/good.py"][0] == "hits"


def test_symlink_loop_is_reported_not_followed(tree: Path) -> None:
    os.symlink("..", tree / "svc" / "loop")
    files = scan(tree)
    assert files["svc/loop"] == ("skipped", "symlink_loop", "points back to ./")
    assert files["svc/good.py"][0] == "hits"


def test_symlink_into_the_tree_is_not_scanned_twice(tree: Path) -> None:
    os.symlink("svc", tree / "alias")
    os.symlink("good.py", tree / "svc" / "same.py")
    files = scan(tree)
    assert files["alias"][:2] == ("skipped", "symlink_duplicate")
    assert files["svc/same.py"][:2] == ("skipped", "symlink_duplicate")
    assert sum(1 for state, _, _ in files.values() if state == "hits") == 1


def test_symlinked_code_outside_the_tree_is_followed(tmp_path: Path) -> None:
    outside, root = tmp_path / "vendor", tmp_path / "repo"
    outside.mkdir()
    root.mkdir()
    (outside / "lib.py").write_text(GOOD)
    os.symlink(outside, root / "vendored")
    assert scan(root)["vendored/lib.py"][0] == "hits"


def test_dangling_symlink_is_unreadable(tree: Path) -> None:
    os.symlink("/nonexistent/target.py", tree / "svc" / "gone.py")
    assert scan(tree)["svc/gone.py"] == ("skipped", "unreadable", "dangling symlink to /nonexistent/target.py")


def test_fifo_is_never_opened(tree: Path) -> None:
    os.mkfifo(tree / "svc" / "pipe.py")  # opening it for reading would block forever
    assert scan(tree)["svc/pipe.py"] == ("skipped", "not_a_file", "a FIFO, not opened")


def test_directory_named_like_a_module_is_walked(tree: Path) -> None:
    (tree / "svc" / "package.py").mkdir()
    (tree / "svc" / "package.py" / "inner.py").write_text(GOOD)
    assert scan(tree)["svc/package.py/inner.py"][0] == "hits"


def test_file_gone_between_walk_and_read_is_unreadable(tmp_path: Path) -> None:
    result = scan_file(str(tmp_path / "vanished.py"), "vanished.py", Targets.of(), 1000)
    assert (result.reason, result.detail) == ("unreadable", "No such file or directory")


def test_file_swapped_for_a_fifo_after_the_walk_is_not_read(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "swapped.py")
    result = scan_file(str(tmp_path / "swapped.py"), "swapped.py", Targets.of(), 1000)
    assert result.reason == "not_a_file"


def test_file_growing_past_the_cap_while_read_is_too_large(tmp_path: Path) -> None:
    (tmp_path / "big.py").write_text("x = 1\n" * 100)
    assert scan_file(str(tmp_path / "big.py"), "big.py", Targets.of(), 50).reason == "too_large"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_permission_denied_is_unreadable(tree: Path) -> None:
    secret = tree / "svc" / "secret.py"
    secret.write_text(GOOD)
    secret.chmod(0)
    try:
        assert scan(tree)["svc/secret.py"][:2] == ("skipped", "unreadable")
    finally:
        secret.chmod(0o644)


def test_every_bad_file_at_once_in_worker_processes(tree: Path) -> None:
    """The parallel path reports the same reasons as the in-process one."""
    (tree / "svc" / "old.py").write_text('print "x"\nimport uuid\nuuid.uuid4()\n')
    (tree / "svc" / "latin.py").write_bytes(b"import uuid\nname = '\xe9'\nuuid.uuid4()\n")
    os.symlink("/nonexistent", tree / "svc" / "gone.py")
    os.mkfifo(tree / "svc" / "pipe.py")
    for i in range(400):  # enough files to use the process pool
        (tree / "svc" / f"clean_{i}.py").write_text("x = 1\n")
    result = run_scan([tree], tree, ScanConfig(), jobs=2)
    reasons = {f.path: f.reason for f in result.files if f.state == "skipped"}
    assert reasons == {"svc/old.py": "syntax_error", "svc/latin.py": "decode_error",
                       "svc/gone.py": "unreadable", "svc/pipe.py": "not_a_file"}
    assert len(result.active_sites) == 1
    assert len(result.files) == 405



def _die_on_f200(chunk: list[tuple[str, str]]) -> list[object]:
    """A worker that dies like one killed by the OOM killer when it meets f_200.py."""
    from id_monitor.scan.read import scan_file as scan_one

    if any(rel.endswith("f_200.py") for _, rel in chunk):
        os._exit(9)
    return [scan_one(path, rel, Targets.of(), 1_000_000) for path, rel in chunk]


def test_a_dying_worker_does_not_lose_files(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """If a worker process dies, the files it had are scanned in this process."""
    from id_monitor.scan import runner

    for i in range(400):
        (tree / "svc" / f"f_{i}.py").write_text(GOOD if i % 4 == 0 else "x = 1\n")
    monkeypatch.setattr(runner, "_scan_chunk", _die_on_f200)
    result = run_scan([tree], tree, ScanConfig(), jobs=2)
    assert len(result.files) == 401
    assert len(result.active_sites) == 101
    assert sorted(f.path for f in result.files) == sorted(["svc/good.py", *(f"svc/f_{i}.py" for i in range(400))])
