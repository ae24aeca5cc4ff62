"""Decoding raw message bytes safely: the one gate raw input passes.

`decode_message` bounds size before parsing and nesting after, so a hostile message costs a fixed
amount of work and ends as a counted `malformed` finding with a reason, never an exception
escaping a consumer loop.
"""

from __future__ import annotations

from typing import Any

import orjson

MALFORMED_REASONS = ("not_utf8", "not_json", "not_object", "too_large", "too_deep")
DEFAULT_MAX_DEPTH = 64
_loads = orjson.loads


class MalformedMessage(ValueError):
    """A message that cannot be judged; `.reason` is one of MALFORMED_REASONS."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def decode_message(
    raw: bytes | bytearray | memoryview | str, max_bytes: int, max_depth: int = DEFAULT_MAX_DEPTH
) -> dict[str, Any]:
    """Parse one JSON object of at most `max_bytes` bytes nested at most `max_depth` levels.

    Size is checked before parsing (an oversized message is never decoded); depth is checked
    only when the message has more brackets than `max_depth`, which ordinary messages never do.
    """
    if type(raw) is bytes:  # the common case first
        if len(raw) > max_bytes:
            raise MalformedMessage("too_large", f"{len(raw)} bytes > {max_bytes}")
        brackets = raw.count(b"{") + raw.count(b"[")
    elif isinstance(raw, str):
        if len(raw) > max_bytes:
            raise MalformedMessage("too_large", f"more than {max_bytes} bytes")
        if len(raw) * 4 > max_bytes:
            try:
                size = len(raw.encode("utf-8"))
            except UnicodeEncodeError:
                raise MalformedMessage("not_utf8", "lone surrogate in text") from None
            if size > max_bytes:
                raise MalformedMessage("too_large", f"{size} bytes > {max_bytes}")
        brackets = raw.count("{") + raw.count("[")
    else:
        if isinstance(raw, memoryview | bytearray):
            raw = bytes(raw)
        if len(raw) > max_bytes:
            raise MalformedMessage("too_large", f"{len(raw)} bytes > {max_bytes}")
        brackets = raw.count(b"{") + raw.count(b"[")
    try:
        value = _loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _classify_decode_error(raw, exc) from None
    if type(value) is not dict:
        raise MalformedMessage("not_object", f"top level is {_json_type(value)}")
    if brackets > max_depth and _depth_exceeds(value, max_depth):
        raise MalformedMessage("too_deep", f"nested deeper than {max_depth}")
    return value


def _classify_decode_error(raw: bytes | str, exc: orjson.JSONDecodeError) -> MalformedMessage:
    text = str(exc)
    if "depth limit" in text or "recursion" in text.lower():
        return MalformedMessage("too_deep", "nested deeper than the JSON parser allows")
    if isinstance(raw, bytes):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as err:
            return MalformedMessage("not_utf8", f"invalid UTF-8 at byte {err.start}")
    elif "not valid UTF-8" in text:
        return MalformedMessage("not_utf8", "lone surrogate in text")
    return MalformedMessage("not_json", text.split(": line")[0][:120])


def _depth_exceeds(value: Any, max_depth: int) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            return True
        children = node.values() if type(node) is dict else node
        for child in children:
            if type(child) is dict or type(child) is list:
                stack.append((child, depth + 1))
    return False


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "null" if value is None else type(value).__name__
