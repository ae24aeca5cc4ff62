"""Scanner configuration: one `[tool.id-monitor.scan]` table, read from the scan root's
pyproject.toml (or from the TOML file given with --config), then extended by command-line flags.

Lists that have a built-in default (`targets`, `test`, `exclude`) replace it when set; the
`extra-targets` and `extend-exclude` keys (and the repeatable CLI flags) add to it instead, as in
ruff's own configuration.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from id_monitor.scan.targets import DEFAULT_TARGETS, TargetError, Targets

DEFAULT_TEST_GLOBS: tuple[str, ...] = ("tests/", "test_*.py", "*_test.py", "conftest.py")
DEFAULT_EXCLUDE: tuple[str, ...] = (
    ".git/", ".hg/", ".svn/", ".venv/", "venv/", ".tox/", ".nox/", "node_modules/", "__pycache__/",
    "build/", "dist/", "site-packages/", ".mypy_cache/", ".ruff_cache/", ".pytest_cache/",
    ".hypothesis/", "*.egg-info/",
)
DEFAULT_MAX_FILE_BYTES = 2_000_000


class ScanConfigError(ValueError):
    """The configuration cannot be used; the message says where and why."""


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    targets: list[str] | None = None
    extra_targets: list[str] = Field(default_factory=list, alias="extra-targets")
    services: dict[str, str] = Field(default_factory=dict)
    test: list[str] | None = None
    allow: list[str] = Field(default_factory=list)
    exclude: list[str] | None = None
    extend_exclude: list[str] = Field(default_factory=list, alias="extend-exclude")
    max_file_bytes: int = Field(default=DEFAULT_MAX_FILE_BYTES, alias="max-file-bytes", gt=0)


@dataclass(frozen=True, slots=True)
class ScanConfig:
    targets: Targets = field(default_factory=Targets.of)
    services: tuple[tuple[str, str], ...] = ()
    test_globs: tuple[str, ...] = DEFAULT_TEST_GLOBS
    allow_globs: tuple[str, ...] = ()
    exclude_globs: tuple[str, ...] = DEFAULT_EXCLUDE
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    source: str = "defaults"


@dataclass(frozen=True, slots=True)
class Overrides:
    """What the command line adds on top of the file."""

    extra_targets: tuple[str, ...] = ()
    services: tuple[str, ...] = ()  # "GLOB=NAME"
    test_globs: tuple[str, ...] = ()  # replace when given
    allow_globs: tuple[str, ...] = ()
    exclude_globs: tuple[str, ...] = ()
    max_file_bytes: int | None = None


def load_scan_config(root: Path, config_file: Path | None = None, overrides: Overrides = Overrides()) -> ScanConfig:
    table, source = _read_table(root, config_file)
    try:
        parsed = _Table.model_validate(table)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ScanConfigError(f"{source}: [tool.id-monitor.scan] {problems}") from None
    services = list(parsed.services.items())
    for item in overrides.services:
        pattern, sep, name = item.partition("=")
        if not sep or not pattern or not name:
            raise ScanConfigError(f"--service {item!r}: expected GLOB=NAME, e.g. 'services/billing/**=billing'")
        services.insert(0, (pattern, name))  # flags win over the file
    try:
        targets = Targets.of(parsed.targets if parsed.targets is not None else list(DEFAULT_TARGETS),
                             [*parsed.extra_targets, *overrides.extra_targets])
    except TargetError as exc:
        raise ScanConfigError(f"{source}: {exc}") from None
    exclude = tuple(parsed.exclude) if parsed.exclude is not None else DEFAULT_EXCLUDE
    return ScanConfig(
        targets=targets,
        services=tuple(services),
        test_globs=overrides.test_globs or (tuple(parsed.test) if parsed.test is not None else DEFAULT_TEST_GLOBS),
        allow_globs=(*parsed.allow, *overrides.allow_globs),
        exclude_globs=(*exclude, *parsed.extend_exclude, *overrides.exclude_globs),
        max_file_bytes=overrides.max_file_bytes or parsed.max_file_bytes,
        source=source,
    )


def _read_table(root: Path, config_file: Path | None) -> tuple[dict, str]:
    if config_file is None:
        candidate = root / "pyproject.toml"
        if not candidate.is_file():
            return {}, "defaults"
        path, explicit = candidate, False
    else:
        path, explicit = config_file, True
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ScanConfigError(f"cannot read config {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScanConfigError(f"{path}: not valid TOML: {exc}") from None
    table = document.get("tool", {}).get("id-monitor", {}).get("scan")
    if table is None and explicit:
        # A dedicated file may hold the keys at top level.
        table = document
    if table is None:
        return {}, "defaults"
    if not isinstance(table, dict):
        raise ScanConfigError(f"{path}: [tool.id-monitor.scan] must be a table")
    return table, str(path)
