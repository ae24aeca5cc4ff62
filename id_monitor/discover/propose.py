"""A shape -> a schema format: the template the schema language (docs/schema.md) reads, and a
complete schema file that includes the current schema and adds one format per proposed shape."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from typing import Any

from id_monitor.discover.tokenise import (
    HEX,
    LOWER,
    MIXED,
    NUM,
    TEXT,
    TRUNCATED,
    TS_MS,
    TS_S,
    ULID,
    UPPER,
    UPPER_HEX,
    UUID,
)

_ID_TYPE_RE = re.compile(r"[a-z][a-z0-9]*")
_TOKEN_CHARS = {LOWER: "a-z0-9", UPPER: "A-Z0-9", MIXED: "A-Za-z0-9"}


def _escape(text: str) -> str:
    return "".join(ch * 2 if ch in "{}[]" else ch for ch in text)


def _span(lo: int, hi: int) -> str:
    return f"{lo}" if lo == hi else f"{lo}-{hi}"


def template(atoms: Sequence[Any]) -> str | None:
    """The template for rendered atoms (see ShapeMiner._render_atoms), or None when the shape
    cannot be written as one (non-ASCII text, input cut at the length limit)."""
    out: list[str] = []
    used: dict[str, int] = {}

    def name(base: str) -> str:
        used[base] = used.get(base, 0) + 1
        return base if used[base] == 1 else f"{base}{used[base]}"

    for atom in atoms:
        if isinstance(atom, str):
            if not atom.isascii() or not atom.isprintable():
                return None
            out.append(_escape(atom))
            continue
        text, kind, detail = atom
        if kind == "literal":
            if not text.isascii():
                return None
            out.append(_escape(text))
        elif kind == "enum":
            if not all(w.isascii() for w in detail):
                return None
            out.append(f"{{{name('kind')}:enum({'|'.join(detail)})}}")
        elif kind in (TEXT, TRUNCATED):
            return None
        elif kind == TS_MS:
            seg = name("ts")
            out.append("{ts}" if seg == "ts" else f"{{{seg}:digits(13)}}")
        elif kind == TS_S:
            seg = name("ts")
            out.append("{ts:ts_s}" if seg == "ts" else f"{{{seg}:digits(10)}}")
        elif kind == UUID:
            out.append(f"{{{name('uuid')}:uuid(strict=false)}}")
        elif kind == ULID:
            seg = name("ulid")
            out.append("{ulid}" if seg == "ulid" else f"{{{seg}:token(26,chars=A-Za-z0-9)}}")
        elif kind == NUM:
            lo, hi, padded = detail
            if not padded and hi <= 19 and "counter" not in used:
                used["counter"] = 1
                out.append("{counter}")
            elif hi <= 19:
                out.append(f"{{{name('n')}:digits({_span(lo, hi)})}}")
            else:
                out.append(f"{{{name('n')}:token({_span(lo, hi)},chars=0-9)}}")
        elif kind == HEX:
            lo, hi, _ = detail
            seg = name("hex")
            out.append("{hex}" if seg == "hex" and lo == hi == 8 else f"{{{seg}:hex({_span(lo, hi)})}}")
        elif kind == UPPER_HEX:
            lo, hi, _ = detail
            out.append(f"{{{name('hex')}:hex({_span(lo, hi)},case=upper)}}")
        elif kind in _TOKEN_CHARS:
            lo, hi, _ = detail
            out.append(f"{{{name('w')}:token({_span(lo, hi)},chars={_TOKEN_CHARS[kind]})}}")
        else:  # pragma: no cover - every class is handled above
            return None
    return "".join(out)


def id_type(atoms: Sequence[Any]) -> str:
    """The first literal word, lower-cased, when it makes a valid id_type; else `discovered`."""
    for atom in atoms:
        if not isinstance(atom, str) and atom[1] == "literal":
            word = atom[0].lower()
            return word if _ID_TYPE_RE.fullmatch(word) else "discovered"
    return "discovered"


def schema_document(rows: Iterable[Any], base_schema: str, status: str, existing: Iterable[str],
                    total: int) -> dict[str, Any]:
    """A schema mapping: include the base schema, add one format per row that has a template."""
    from id_monitor.schema import BUILTIN_SCHEMAS

    include = base_schema if base_schema in BUILTIN_SCHEMAS else os.path.abspath(base_schema)
    taken = set(existing)
    formats = []
    n = 0
    for row in rows:
        if row.template is None:
            continue
        n += 1
        while f"discovered_{n}" in taken:
            n += 1
        fmt_name = f"discovered_{n}"
        taken.add(fmt_name)
        where = f" in {row.field}" if row.field else ""
        formats.append({
            "name": fmt_name,
            "status": status,
            "id_type": row.id_type,
            "description": f"shape {row.shape}: {row.count} of {total} IDs{where} ({row.share:.1%})",
            "template": row.template,
        })
    return {"name": "discovered", "include": [include], "formats": formats}
