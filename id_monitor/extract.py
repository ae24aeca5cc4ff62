"""Where IDs live in a message: decoding raw bytes safely, and pulling values out by field path.

`decode_message` is the one gate raw input passes: it bounds size before parsing and nesting
after, so a hostile message costs a fixed amount of work and ends as a counted `malformed`
finding with a reason, never an exception escaping a consumer loop.

`Extractor` compiles every configured dotted path (fields, owner, message type) into one trie
at construction, so extracting from a message is a single walk doing one dict lookup per
distinct path segment: `payload` is looked up once however many fields live under it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson

MALFORMED_REASONS = ("not_utf8", "not_json", "not_object", "too_large", "too_deep")
DEFAULT_MAX_DEPTH = 64


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
    if isinstance(raw, str):
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
        value = orjson.loads(raw)
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


class _Node:
    """One level of the path trie: dict keys to look up here, and `*` (every item of a list)."""

    __slots__ = ("keys", "star", "star_targets")

    def __init__(self) -> None:
        self.keys: list[tuple[str, tuple[int, ...], _Node | None]] = []
        self.star_targets: tuple[int, ...] = ()
        self.star: _Node | None = None


class _Builder:
    __slots__ = ("children", "star", "targets")

    def __init__(self) -> None:
        self.targets: list[int] = []
        self.children: dict[str, _Builder] = {}
        self.star: _Builder | None = None

    def add(self, segments: Sequence[str], target: int) -> None:
        node = self
        for segment in segments:
            if segment == "*":
                node.star = node.star or _Builder()
                node = node.star
            else:
                node = node.children.setdefault(segment, _Builder())
        if target not in node.targets:
            node.targets.append(target)

    def freeze(self) -> _Node:
        node = _Node()
        node.keys = [
            (key, tuple(child.targets), child.freeze() if (child.children or child.star) else None)
            for key, child in self.children.items()
        ]
        if self.star is not None:
            node.star_targets = tuple(self.star.targets)
            node.star = self.star.freeze() if (self.star.children or self.star.star) else None
        return node


class Extraction:
    """What one message carries: values per field (in path order, duplicates removed), the owner
    (first string or integer at the owner paths), the message type, and how many values were
    dropped because the message carried more than the per-message limit."""

    __slots__ = ("dropped", "message_type", "owner", "values")

    def __init__(
        self, values: dict[str, list[Any]], owner: str | None, message_type: str | None, dropped: int
    ) -> None:
        self.values = values
        self.owner = owner
        self.message_type = message_type
        self.dropped = dropped


class Extractor:
    """Compiled field, owner and type paths. Paths are dotted; `*` stands for every list item."""

    def __init__(
        self,
        fields: Mapping[str, Iterable[str]],
        owner_paths: Iterable[str] = (),
        type_paths: Iterable[str] = (),
        max_values: int = 256,
    ) -> None:
        self.field_names = list(fields)
        builder = _Builder()
        target = 0
        for name in self.field_names:
            for path in fields[name]:
                builder.add(path.split("."), target)
            target += 1
        self._owner_start = target
        for path in owner_paths:
            builder.add(path.split("."), target)
            target += 1
        self._type_start = target
        for path in type_paths:
            builder.add(path.split("."), target)
            target += 1
        self._root = builder.freeze()
        self._max_values = max_values

    def extract(self, message: Mapping[str, Any]) -> Extraction:
        found: list[tuple[int, Any]] = []
        _walk(self._root, message, found, self._max_values * 4)
        names, owner_start, type_start = self.field_names, self._owner_start, self._type_start
        values: dict[str, list[Any]] = {}
        owner: str | None = None
        owner_rank = type_rank = 1 << 30
        message_type: str | None = None
        kept = dropped = 0
        for target, value in found:
            if target < owner_start:
                name = names[target]
                bucket = values.get(name)
                if bucket is None:
                    if kept >= self._max_values:
                        dropped += 1
                        continue
                    values[name] = [value]
                    kept += 1
                elif value not in bucket:
                    if kept >= self._max_values:
                        dropped += 1
                        continue
                    bucket.append(value)
                    kept += 1
            elif target < type_start:
                if target < owner_rank and (type(value) is str or (type(value) is int)):
                    owner, owner_rank = str(value), target
            elif target < type_rank and type(value) is str:
                message_type, type_rank = value, target
        if len(found) >= self._max_values * 4:
            dropped += 1
        return Extraction(values, owner, message_type, dropped)


def _walk(node: _Node, obj: Any, out: list[tuple[int, Any]], budget: int) -> None:
    """Append (target, value) for every configured path present in obj. `budget` bounds the
    work a message with huge lists under a `*` path can cause."""
    if type(obj) is dict:
        get = obj.get
        for key, targets, child in node.keys:
            value = get(key)
            if value is None:
                continue
            for target in targets:
                out.append((target, value))
            if child is not None and (type(value) is dict or type(value) is list):
                _walk(child, value, out, budget)
    elif type(obj) is list and (node.star_targets or node.star is not None):
        star, star_targets = node.star, node.star_targets
        for item in obj:
            if len(out) >= budget:
                return
            if item is None:
                continue
            for target in star_targets:
                out.append((target, item))
            if star is not None and (type(item) is dict or type(item) is list):
                _walk(star, item, out, budget)
