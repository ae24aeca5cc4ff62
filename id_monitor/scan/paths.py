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

from fnmatch import fnmatchcase

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
