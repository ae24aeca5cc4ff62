"""Load and validate schema YAML files (builtin names or paths), following includes.

Every problem becomes a SchemaError naming the file, the format (when there is one) and what is
wrong, so the CLI can print one line and exit 2 instead of a traceback.
"""

from __future__ import annotations

import functools
import os
import re
from importlib import resources
from pathlib import Path
from typing import Any

from id_monitor.config.safe_yaml import YamlError, read_text, shown
from id_monitor.config.safe_yaml import load as load_yaml
from id_monitor.schema.model import STATUSES, Format, Schema, SchemaError, Variant
from id_monitor.schema.segments import DEFAULT_OWNER_CHARS
from id_monitor.schema.template import TemplateError, parse_template

BUILTIN_SCHEMAS = ("netra", "standard")
_NAME_RE = re.compile(r"[a-z][a-z0-9_]*")
_ID_TYPE_RE = re.compile(r"[a-z][a-z0-9_]*")
_TOP_KEYS = {"name", "description", "owner_width", "owner_chars", "include", "formats"}
_FORMAT_KEYS = {"name", "status", "id_type", "template", "templates", "segments", "description"}
_MAX_INCLUDE_DEPTH = 16


def _builtin_path(name: str) -> Path:
    return Path(str(resources.files("id_monitor.schema") / "schemas" / f"{name}.yaml"))


def load_schema(name_or_path: str | os.PathLike[str] = "netra") -> Schema:
    """Load a builtin schema by name (`netra`, `standard`) or a schema YAML file by path."""
    text = os.fspath(name_or_path)
    if text in BUILTIN_SCHEMAS:
        return _load_builtin(text)
    path = Path(text)
    try:
        exists = path.exists()
    except (OSError, ValueError) as exc:
        raise SchemaError(f"not a usable path ({exc})", file=repr(text)) from None
    if not exists and not text.endswith((".yaml", ".yml")) and os.sep not in text:
        raise SchemaError(f"no builtin schema {text!r} (builtin: {', '.join(BUILTIN_SCHEMAS)}) "
                          "and no such file", file=text)
    return _load_file(path)


@functools.cache
def _load_builtin(name: str) -> Schema:
    return _load_file(_builtin_path(name))


def _load_file(path: Path) -> Schema:
    formats: list[Format] = []
    data = _read(path)
    _collect(path, data, formats, stack=(path.resolve(),))
    return Schema(str(data.get("name") or path.stem), formats, file=str(path))


def _read(path: Path) -> dict[str, Any]:
    file = str(path)
    try:
        data = load_yaml(read_text(path))
    except FileNotFoundError:
        raise SchemaError("file not found", file=file) from None
    except IsADirectoryError:
        raise SchemaError("is a directory, not a schema file", file=file) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SchemaError(f"cannot read: {exc}", file=file) from None
    except YamlError as exc:
        where = f" at line {exc.line}" if exc.line is not None else ""
        raise SchemaError(f"{'invalid' if exc.syntax else 'unusable'} YAML{where}: {exc.problem}",
                          file=file) from None
    except ValueError as exc:  # e.g. a NUL byte in the path
        raise SchemaError(f"not a usable path ({exc})", file=repr(file)) from None
    if not isinstance(data, dict):
        raise SchemaError("a schema must be a mapping with a 'formats' list", file=file)
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise SchemaError(f"unknown top-level key(s) {sorted(map(str, unknown))} "
                          f"(allowed: {', '.join(sorted(_TOP_KEYS))})", file=file)
    return data


def _collect(path: Path, data: dict[str, Any], out: list[Format], stack: tuple[Path, ...]) -> None:
    file = str(path)
    includes = data.get("include") or []
    if isinstance(includes, str):
        includes = [includes]
    if not isinstance(includes, list):
        raise SchemaError("'include' must be a list of builtin schema names or file paths", file=file)
    for inc in includes:
        if not isinstance(inc, str) or not inc:
            raise SchemaError(f"include entry {shown(inc)} must be a builtin name or a path", file=file)
        inc_path = _builtin_path(inc) if inc in BUILTIN_SCHEMAS else (path.parent / inc)
        try:
            resolved = inc_path.resolve()
            exists = inc_path.is_file()
        except (OSError, ValueError) as exc:
            raise SchemaError(f"include entry {inc!r} is not a usable path ({exc})", file=file) from None
        if resolved in stack:
            raise SchemaError(f"include cycle through {inc!r}", file=file)
        if len(stack) >= _MAX_INCLUDE_DEPTH:
            raise SchemaError("includes nested too deeply", file=file)
        if not exists:
            raise SchemaError(f"included file {inc!r} not found (paths are relative to this file)",
                              file=file)
        _collect(inc_path, _read(inc_path), out, (*stack, resolved))

    owner_width = data.get("owner_width", 8)
    if not isinstance(owner_width, int) or isinstance(owner_width, bool) or not 1 <= owner_width <= 64:
        raise SchemaError(f"owner_width must be an integer 1-64, got {shown(owner_width)}", file=file)
    owner_chars = data.get("owner_chars", DEFAULT_OWNER_CHARS)
    if not isinstance(owner_chars, str):
        raise SchemaError("owner_chars must be a string like 'A-Za-z0-9_.@-'", file=file)
    formats = data.get("formats")
    if formats is None and includes:
        formats = []
    if not isinstance(formats, list):
        raise SchemaError("'formats' must be a list of format mappings", file=file)
    for raw in formats:
        fmt = _build_format(raw, file, order=len(out), owner_width=owner_width, owner_chars=owner_chars)
        for existing in out:
            if existing.name == fmt.name:
                raise SchemaError(f"duplicate format name (first defined in {existing.file})",
                                  file=file, format=fmt.name)
        out.append(fmt)


def _build_format(raw: Any, file: str, *, order: int, owner_width: int, owner_chars: str) -> Format:
    if not isinstance(raw, dict):
        raise SchemaError(f"each format must be a mapping, got {type(raw).__name__}", file=file)
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise SchemaError(f"format name {shown(name)} must be lower-case letters, digits and '_'", file=file)

    def fail(problem: str) -> SchemaError:
        return SchemaError(problem, file=file, format=name)

    unknown = set(raw) - _FORMAT_KEYS
    if unknown:
        raise fail(f"unknown key(s) {sorted(map(str, unknown))} (allowed: {', '.join(sorted(_FORMAT_KEYS))})")
    status = raw.get("status")
    if status not in STATUSES:
        raise fail(f"status must be one of {', '.join(STATUSES)}, got {shown(status)}")
    if ("template" in raw) == ("templates" in raw):
        raise fail("give exactly one of 'template' or 'templates'")
    templates = raw.get("templates") if "templates" in raw else [raw.get("template")]
    if not isinstance(templates, list) or not templates or not all(isinstance(t, str) and t for t in templates):
        raise fail("templates must be non-empty strings")
    seg_opts = raw.get("segments") or {}
    if not isinstance(seg_opts, dict) or not all(isinstance(v, dict) for v in seg_opts.values()):
        raise fail("'segments' must map segment names to option mappings")

    id_type_raw = raw.get("id_type")
    if not isinstance(id_type_raw, str) or not id_type_raw:
        raise fail("id_type must be a fixed name or '{segment}'")
    id_type: str | None = id_type_raw
    id_type_segment: str | None = None
    m = re.fullmatch(r"\{([a-z][a-z0-9_]*)\}", id_type_raw)
    if m:
        id_type, id_type_segment = None, m.group(1)
    elif not _ID_TYPE_RE.fullmatch(id_type_raw):
        raise fail(f"id_type {id_type_raw!r} must be lower-case letters, digits and '_' or '{{segment}}'")

    fmt = Format(name=name, status=status, id_type=id_type, id_type_segment=id_type_segment,
                 templates=tuple(templates), order=order, file=file,
                 description=str(raw.get("description") or ""))
    variants: list[Variant] = []
    for template in templates:
        try:
            # Options apply to every template that uses the segment; unused ones are an error
            # only when no template uses them (checked below).
            used = {k: v for k, v in seg_opts.items()
                    if isinstance(k, str) and re.search(r"\{\s*" + re.escape(k) + r"\s*[:}]", template)}
            seqs = parse_template(template, owner_width=owner_width, owner_chars=owner_chars,
                                  segment_options=used)
        except TemplateError as exc:
            raise fail(f"template {template!r}: {exc}") from None
        for seq in seqs:
            variant = Variant(format=fmt, segments=seq, index=len(variants))
            _check_roles(variant, template, fail)
            if id_type_segment is not None and id_type_segment not in variant.names:
                raise fail(f"id_type {id_type_raw!r}: segment {id_type_segment!r} is missing "
                           f"from a variant of template {template!r}")
            variants.append(variant)
    for seg_name in seg_opts:
        if not any(seg_name in v.names for v in variants):
            raise fail(f"segments: {seg_name!r} is not used in any template")
    object.__setattr__(fmt, "variants", tuple(variants))
    return fmt


def _check_roles(variant: Variant, template: str, fail: Any) -> None:
    for role in ("owner", "timestamp", "counter"):
        count = sum(1 for s in variant.segments if s.role == role)
        if count > 1:
            raise fail(f"template {template!r}: at most one {role} segment per ID")
