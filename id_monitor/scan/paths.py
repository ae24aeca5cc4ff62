"""Path globs, gitignore-style, for excludes, the allowlist, the test split and the service map.

Paths are POSIX, relative to the scan root. A glob is read as:
  - `name/` (trailing slash): a directory called `name` at any depth (`tests/`, `.venv/`);
    `a/b/` with an inner slash: that directory, anchored at the root;
  - no slash (`test_*.py`, `conftest.py`): the file's own name, at any depth;
  - otherwise (`services/billing/**`, `app/ids/generator.py`): the whole relative path, where `*`
    and `**` both cross directory levels.
Matching is case-sensitive so results do not depend on the platform.
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase, translate

ROOT_SERVICE = "(root)"


def matches(rel: str, pattern: str, *, is_dir: bool = False) -> bool:
    parts = rel.split("/")
    directories = parts if is_dir else parts[:-1]
    if pattern.endswith("/"):
        wanted = pattern.rstrip("/")
        if "/" in wanted:
            return any(fnmatchcase("/".join(directories[: i + 1]), wanted) for i in range(len(directories)))
        return any(fnmatchcase(directory, wanted) for directory in directories)
    if "/" not in pattern:
        return fnmatchcase(parts[-1], pattern)
    return fnmatchcase(rel, pattern) or (is_dir and fnmatchcase(rel + "/", pattern))


def _union(patterns: list[str]) -> re.Pattern[str] | None:
    return re.compile("|".join(f"(?:{translate(p)})" for p in patterns)) if patterns else None


class GlobSet:
    """Many globs compiled into a few regular expressions: the walk checks every entry against the
    excludes, so this is on the hot path for trees of thousands of files."""

    def __init__(self, patterns: tuple[str, ...]) -> None:
        self.patterns = patterns
        self._dir_any = _union([p.rstrip("/") for p in patterns if p.endswith("/") and "/" not in p.rstrip("/")])
        self._dir_anchored = [p.rstrip("/") for p in patterns if p.endswith("/") and "/" in p.rstrip("/")]
        self._name = _union([p for p in patterns if "/" not in p])
        self._path = _union([p for p in patterns if "/" in p and not p.endswith("/")])

    def match(self, rel: str, *, is_dir: bool = False, parents_checked: bool = False) -> bool:
        """`parents_checked`: the walk already matched every parent directory, so only the last
        component (and whole-path globs) need checking."""
        parts = rel.split("/")
        directories = parts if is_dir else parts[:-1]
        if parents_checked:
            directories = directories[-1:] if is_dir else []
        if self._dir_any is not None and any(self._dir_any.match(d) for d in directories):
            return True
        if self._dir_anchored and any(matches(rel, p + "/", is_dir=is_dir) for p in self._dir_anchored):
            return True
        if self._name is not None and self._name.match(parts[-1]):
            return True
        if self._path is not None and (self._path.match(rel) or (is_dir and self._path.match(rel + "/"))):
            return True
        return False


def matches_any(rel: str, patterns: tuple[str, ...], *, is_dir: bool = False) -> bool:
    return any(matches(rel, p, is_dir=is_dir) for p in patterns)


def service_for(rel: str, service_map: tuple[tuple[str, str], ...]) -> str:
    """First matching glob's service; else the first directory level; files at the root get
    `(root)`."""
    for pattern, name in service_map:
        if matches(rel, pattern):
            return name
    head, sep, _ = rel.partition("/")
    return head if sep and head not in ("", ".", "..") else ROOT_SERVICE


def scope_for(rel: str, test_globs: tuple[str, ...]) -> str:
    return "test" if matches_any(rel, test_globs) else "production"
