"""How an ID is shown in findings, logs and violation records.

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
"""

from __future__ import annotations

import hashlib

from id_monitor.model import IdInfo

REDACT_MODES = ("mask", "hash", "none")
MAX_SHOWN = 96
_SEPARATORS = frozenset("_-.:/@ ")
_RANDOM_PARTS = ("hex", "uuid", "thread8", "agent8")


def redact(value: object, mode: str = "mask", info: IdInfo | None = None) -> str:
    """The ID as it may be shown. `info` (the ID's classification) makes `mask` exact."""
    if not isinstance(value, str):
        return f"<{type(value).__name__}>"
    if mode == "mask":
        return _mask(value, info)
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


def shape(value: str) -> str:
    """Character classes only: `Temp_ID-12` -> `Aaaa_AA-99` (bounded like every shown ID)."""
    out = []
    for ch in value[:MAX_SHOWN]:
        if ch in _SEPARATORS:
            out.append(ch)
        elif ch.isdigit():
            out.append("9")
        elif ch.isupper():
            out.append("A")
        elif ch.isalpha():
            out.append("a")
        else:
            out.append("*")
    if len(value) > MAX_SHOWN:
        out.append(f"…(+{len(value) - MAX_SHOWN})")
    return "".join(out)


def _mask(value: str, info: IdInfo | None) -> str:
    if info is None or info.status == "unknown" or len(value) > MAX_SHOWN:
        return shape(value)
    hidden = bytearray(len(value))
    if info.status == "legacy" and info.owner is None:
        _hide_all_but_prefix(value, hidden)
    else:
        _hide_owner(value, info, hidden)
        for key in _RANDOM_PARTS:
            part = info.parts.get(key)
            if isinstance(part, str) and part:
                _hide_span(value, value.rfind(part), len(part), hidden)
        _hide_random_tail(value, info, hidden)
    return "".join(
        "*" if flag == 2 or (flag == 1 and ch not in "_-") else ch for flag, ch in zip(hidden, value)
    )


def _hide_span(value: str, start: int, length: int, hidden: bytearray) -> None:
    if start >= 0:
        hidden[start : start + length] = b"\x01" * length


def _hide_owner(value: str, info: IdInfo, hidden: bytearray) -> None:
    owner = info.owner
    if not owner:
        return
    end = len(value)
    if info.timestamp_ms is not None:
        at = value.rfind(f"_{info.timestamp_ms}")
        if at > 0:
            end = at
    start = value.rfind(owner, 0, end)
    if start >= 0:
        # The owner may itself contain `_` (`test_use`): hide it whole, separators included.
        hidden[start : start + len(owner)] = b"\x02" * len(owner)


def _hide_random_tail(value: str, info: IdInfo, hidden: bytearray) -> None:
    """The last segment of a target ID is its random part unless it is the counter or timestamp."""
    head, sep, tail = value.rpartition("_")
    if not sep or not tail:
        return
    if tail in (str(info.counter), str(info.timestamp_ms)):
        return
    _hide_span(value, len(head) + 1, len(tail), hidden)


def _hide_all_but_prefix(value: str, hidden: bytearray) -> None:
    """Legacy shapes are random apart from an optional word prefix (`thread_`, `conn_`)."""
    head, sep, _ = value.partition("_")
    keep = len(head) + 1 if sep and head.isalpha() else 0
    for i in range(keep, len(value)):
        hidden[i] = 1
