"""Find the Python files to scan, and say why any that cannot be scanned are left out.

The walk follows symlinks (code is often linked into place), but never into a directory it is
already inside (a symlink loop), and never twice into the same tree: a symlink pointing inside the
scan root is skipped as `symlink_duplicate` because its target is scanned at its real path. Files
that are not regular files (FIFOs, sockets, devices) are reported, never opened, so a FIFO cannot
hang the scan. Everything left out is reported with a reason; nothing is dropped silently.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from id_monitor.scan.paths import GlobSet


@dataclass(frozen=True, slots=True)
class Candidate:
    path: str  # what to open
    rel: str  # POSIX path relative to the scan root, used everywhere else


@dataclass(frozen=True, slots=True)
class Skipped:
    rel: str
    reason: str
    detail: str


def relative(path: Path, root: Path) -> str:
    try:
        rel = os.path.relpath(path, root)
    except ValueError:  # another drive on Windows
        rel = str(path)
    return Path(rel).as_posix()


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISDIR(mode):
        return "a directory"
    return "not a regular file"


class _Walker:
    def __init__(self, root: Path, exclude: tuple[str, ...], max_file_bytes: int) -> None:
        self.root = root
        self.root_real = os.path.realpath(root)
        self.exclude = GlobSet(exclude)
        self.max_file_bytes = max_file_bytes
        self.files: list[Candidate] = []
        self.skipped: list[Skipped] = []

    def skip(self, rel: str, reason: str, detail: str) -> None:
        self.skipped.append(Skipped(rel, reason, detail))

    def _inside_root(self, real: str) -> bool:
        return real == self.root_real or real.startswith(self.root_real.rstrip(os.sep) + os.sep)

    def file(self, path: str, rel: str, is_link: bool) -> None:
        try:
            st = os.stat(path)
        except OSError as exc:
            if is_link:
                self.skip(rel, "unreadable", f"dangling symlink to {os.readlink(path)}")
            else:
                self.skip(rel, "unreadable", exc.strerror or str(exc))
            return
        if not stat.S_ISREG(st.st_mode):
            self.skip(rel, "not_a_file", f"{_kind(st.st_mode)}, not opened")
            return
        if is_link and self._inside_root(os.path.realpath(path)):
            self.skip(rel, "symlink_duplicate", f"symlink to {relative(Path(os.path.realpath(path)), Path(self.root_real))}, scanned there")
            return
        if st.st_size > self.max_file_bytes:
            self.skip(rel, "too_large", f"{st.st_size} bytes > max-file-bytes {self.max_file_bytes} (generated?)")
            return
        self.files.append(Candidate(path, rel))

    def directory(self, path: str, rel: str, ancestors: frozenset[tuple[int, int]]) -> None:
        # Iterative over a stack so deep trees cannot exhaust the recursion limit.
        stack: list[tuple[str, str, frozenset[tuple[int, int]]]] = [(path, rel, ancestors)]
        while stack:
            current, current_rel, seen = stack.pop()
            try:
                st = os.stat(current)
                with os.scandir(current) as iterator:
                    entries = sorted(iterator, key=lambda e: e.name)
            except OSError as exc:
                self.skip(current_rel or ".", "unreadable", f"directory: {exc.strerror or exc}")
                continue
            seen = seen | {(st.st_dev, st.st_ino)}
            children: list[tuple[str, str, frozenset[tuple[int, int]]]] = []
            for entry in entries:
                child_rel = f"{current_rel}/{entry.name}" if current_rel else entry.name
                try:
                    is_link = entry.is_symlink()
                    is_dir = entry.is_dir(follow_symlinks=True)
                except OSError as exc:
                    self.skip(child_rel, "unreadable", exc.strerror or str(exc))
                    continue
                if is_dir:
                    if self.exclude.match(child_rel, is_dir=True, parents_checked=True):
                        continue
                    if is_link:
                        try:
                            target = os.stat(entry.path)
                        except OSError as exc:
                            self.skip(child_rel, "unreadable", exc.strerror or str(exc))
                            continue
                        real = os.path.realpath(entry.path)
                        if (target.st_dev, target.st_ino) in seen:
                            self.skip(child_rel, "symlink_loop", f"points back to {relative(Path(real), self.root)}/")
                            continue
                        if self._inside_root(real):
                            self.skip(child_rel, "symlink_duplicate", f"symlink to {relative(Path(real), Path(self.root_real))}/, scanned there")
                            continue
                    children.append((entry.path, child_rel, seen))
                elif entry.name.endswith(".py"):
                    if self.exclude.match(child_rel, parents_checked=True):
                        continue
                    self.file(entry.path, child_rel, is_link)
            stack.extend(reversed(children))


def discover(paths: list[Path], root: Path, exclude: tuple[str, ...], max_file_bytes: int) -> tuple[list[Candidate], list[Skipped]]:
    """Files to scan under `paths` (files or directories), and what was left out and why."""
    walker = _Walker(root, exclude, max_file_bytes)
    for path in paths:
        rel = relative(path, root)
        rel = "" if rel == "." else rel
        if path.is_dir():
            walker.directory(str(path), rel, frozenset())
        else:
            walker.file(str(path), rel or path.name, path.is_symlink())
    walker.files.sort(key=lambda c: c.rel)
    walker.skipped.sort(key=lambda s: s.rel)
    return walker.files, walker.skipped
