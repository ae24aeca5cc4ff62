"""How an ID is shown wherever it leaves the process: logs, violation records, spans, CLI output.

Findings carry raw values inside the process; every sink shows them through a `Redactor` in its
configured mode, so redaction is decided in one place, at the edge.

IDs embed a user's owner prefix and random parts that act as bearer references, so nothing
leaves id-monitor verbatim by default. Modes:

- `mask` (default): keep the shape an operator needs to recognise the format (prefix words,
  separators, timestamp, counter, lengths) and replace the owner and the random parts with `*`:
  `ws_conn_test_use_1757367656601_1_a2f73ae7` -> `ws_conn_********_1757367656601_1_********`.
  With the ID's `IdInfo` (the policy engine always passes it) the owner and random parts are
  known exactly; without it, or for an unknown string, only the character classes survive
  (`A` upper, `a` lower, `9` digit; separators kept): `undefined` -> `aaaaaaaaa`, so a
  placeholder still looks like a placeholder and a number like a number, but no content leaks.
- `hash`: `h:` + 12 hex of BLAKE2b: stable across processes, so the same ID can be followed
  through records without being revealed.
- `none`: the ID itself (for private debugging only).

Every mode bounds its output length, whatever the input.

An id_type is schema vocabulary (`thread`, `ws_conn`) unless the format takes it from the ID itself
(`base` formats: `{prefix}_{ts}_{counter}_{hex}`): then it is input, possibly user data. Outside
`none` mode such an id_type is shown only when the schema or the configuration names it (an
`expect` entry, a shape-only type); otherwise it is shown as `other`, and under `mask` the prefix
inside the ID is hidden as well.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import Any

from id_monitor.model import Finding, IdInfo

REDACT_MODES = ("mask", "hash", "none")
MAX_SHOWN = 96
_SEPARATORS = frozenset("_-.:/@ ")
_RANDOM_PARTS = ("hex", "uuid", "thread8", "agent8", "thread", "thread_head")


OTHER_TYPE = "other"


def json_type(value: object) -> str:
    """The JSON type name of a value that is not an ID string (what `not_a_string` shows)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "object"
    if value is None:
        return "null"
    return type(value).__name__


def redact(value: object, mode: str = "mask", info: IdInfo | None = None, *, hide_prefix: bool = False) -> str:
    """The ID as it may be shown. `info` (the ID's classification) makes `mask` exact;
    `hide_prefix` hides an id_type that came from the ID itself (see the module docstring)."""
    if not isinstance(value, str):
        return f"<{json_type(value)}>"
    if mode == "mask":
        return _mask(value, info, hide_prefix)
    if mode == "hash":
        digest = hashlib.blake2b(value.encode("utf-8", "surrogatepass"), digest_size=6).hexdigest()
        return f"h:{digest}"
    if mode == "none":
        return _bounded(value)
    raise ValueError(f"unknown redact mode {mode!r} (modes: {', '.join(REDACT_MODES)})")


def _bounded(text: str) -> str:
    if len(text) <= MAX_SHOWN:
        return text
    return f"{text[:MAX_SHOWN]}…(+{len(text) - MAX_SHOWN})"


def _shape_table() -> dict[int, str]:
    table = {}
    for code in range(128):
        ch = chr(code)
        if ch in _SEPARATORS:
            table[code] = ch
        elif ch.isdigit():
            table[code] = "9"
        elif ch.isupper():
            table[code] = "A"
        elif ch.isalpha():
            table[code] = "a"
        else:
            table[code] = "*"
    return table


_SHAPE = _shape_table()
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


_STAR_BYTES = bytes.maketrans(bytes(c for c in range(256) if c not in b"_-"), b"*" * 254)


def _stars(text: str) -> str:
    """Every character but `_` and `-` as `*` (keeps a uuid's 8-4-4-4-12 visible)."""
    if text.isascii():
        return text.encode().translate(_STAR_BYTES).decode()
    return "".join(ch if ch in "_-" else "*" for ch in text)


def shape(value: str) -> str:
    """Character classes only: `Temp_ID-12` -> `Aaaa_AA-99` (bounded like every shown ID)."""
    out = value[:MAX_SHOWN].translate(_SHAPE)
    if not out.isascii():
        out = _NON_ASCII.sub("*", out)
    if len(value) > MAX_SHOWN:
        out += f"…(+{len(value) - MAX_SHOWN})"
    return out


def _mask(value: str, info: IdInfo | None, hide_prefix: bool = False) -> str:
    if info is None or info.status == "unknown" or len(value) > MAX_SHOWN:
        return shape(value)
    if hide_prefix and info.id_type and value.startswith(info.id_type):
        rest = _mask(value[len(info.id_type):], info)
        return shape(info.id_type) + rest
    if info.status == "legacy" and info.owner is None:
        # Legacy shapes are random apart from an optional word prefix (`thread_`, `conn_`).
        head, sep, rest = value.partition("_")
        if sep and head.isalpha():
            return f"{head}_{_stars(rest)}"
        return _stars(value)
    spans: list[tuple[int, int, bool]] = []  # (start, end, hide separators too)
    owner = info.owner
    if owner:
        end = len(value)
        if info.timestamp_ms is not None:
            at = value.rfind(f"_{info.timestamp_ms}")
            if at > 0:
                end = at
        start = value.rfind(owner, 0, end)
        if start >= 0:
            # The owner may itself contain `_` (`test_use`): hide it whole, separators included.
            spans.append((start, start + len(owner), True))
    parts = info.parts
    for key in _RANDOM_PARTS:
        part = parts.get(key)
        if isinstance(part, str) and part:
            start = value.rfind(part)
            if start >= 0:
                spans.append((start, start + len(part), False))
    # The last segment of a target ID is its random part unless it is the counter or timestamp.
    head, sep, tail = value.rpartition("_")
    if sep and tail and tail != str(info.counter) and tail != str(info.timestamp_ms):
        spans.append((len(head) + 1, len(value), False))
    spans.sort()
    out = []
    pos = 0
    for start, end, whole in spans:
        if end <= pos:
            continue
        start = max(start, pos)
        out.append(value[pos:start])
        out.append("*" * (end - start) if whole else _stars(value[start:end]))
        pos = end
    out.append(value[pos:])
    return "".join(out)


class Redactor:
    """Shows findings and IDs in one mode: the one place where a Finding becomes output.

    `known_types` are the id_types that may be shown as they are (the schema's fixed id_types,
    the configuration's `expect` and shape-only types): any other id_type came from input. An
    entry ending in `*` (`evt_*`, from a field's `expect`) is a known family: its members are shown
    as the family name, never with the rest of their text.
    """

    def __init__(self, mode: str = "mask", known_types: Iterable[str] = ()) -> None:
        if mode not in REDACT_MODES:
            raise ValueError(f"unknown redact mode {mode!r} (modes: {', '.join(REDACT_MODES)})")
        self.mode = mode
        known = frozenset(known_types)
        self.known_types = frozenset(t for t in known if not t.endswith("*"))
        self._families = tuple(sorted((t[:-1] for t in known if t.endswith("*") and len(t) > 1),
                                      key=len, reverse=True))

    def id_type(self, id_type: str | None) -> str | None:
        if id_type is None or self.mode == "none" or id_type in self.known_types:
            return id_type
        for family in self._families:
            if id_type.startswith(family):
                return family + "*"
        return OTHER_TYPE

    def value(self, value: object, info: IdInfo | None = None) -> str | None:
        if value is None:
            return None
        hide = info is not None and info.id_type is not None and info.id_type not in self.known_types
        return redact(value, self.mode, info, hide_prefix=hide)

    def finding(self, finding: Finding) -> dict[str, Any]:
        """A finding as output: rule, field, severity, format, id_type, id (redacted), detail,
        and location when the source knows it."""
        info = finding.info
        out: dict[str, Any] = {
            "rule": finding.rule,
            "field": finding.field,
            "severity": finding.severity,
            "format": info.format if info is not None else None,
            "id_type": self.id_type(info.id_type) if info is not None else None,
            "id": self.value(finding.value, info),
            "detail": finding.detail,
        }
        if finding.location is not None:
            out["location"] = finding.location
        return out
