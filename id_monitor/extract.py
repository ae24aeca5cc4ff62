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


class _Node:
    """One level of the path trie: dict keys to look up here, and `*` (every item of a list).

    An entry is (fields, others, child): the field names whose path ends here, the owner/type
    ranks whose path ends here, and the next level. `keys` and `map` hold the same entries: a
    walk iterates whichever side is smaller, the configured keys or the object's own keys.
    """

    __slots__ = ("keys", "map", "size", "star")

    def __init__(self) -> None:
        self.keys: list[tuple[str, _Entry]] = []
        self.map: dict[str, _Entry] = {}
        self.size = 0
        self.star: _Entry | None = None


_Entry = tuple[tuple[str, ...], tuple[int, ...], "_Node | None"]


class _Builder:
    __slots__ = ("children", "fields", "others", "star")

    def __init__(self) -> None:
        self.fields: list[str] = []
        self.others: list[int] = []
        self.children: dict[str, _Builder] = {}
        self.star: _Builder | None = None

    def add(self, segments: Sequence[str], target: str | int) -> None:
        node = self
        for segment in segments:
            if segment == "*":
                node.star = node.star or _Builder()
                node = node.star
            else:
                node = node.children.setdefault(segment, _Builder())
        bucket: list[Any] = node.fields if isinstance(target, str) else node.others
        if target not in bucket:
            bucket.append(target)

    def entry(self) -> _Entry:
        child = self.freeze() if (self.children or self.star) else None
        return tuple(self.fields), tuple(self.others), child

    def freeze(self) -> _Node:
        node = _Node()
        node.keys = [(key, child.entry()) for key, child in self.children.items()]
        node.map = dict(node.keys)
        node.size = len(node.keys)
        node.star = self.star.entry() if self.star is not None else None
        return node


class Extraction:
    """What one message carries: values per field (in message order, duplicates removed), the owner
    (first string or integer at the owner paths, in path order), the message type, and how many
    values were dropped because the message carried more than the per-message limit."""

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
        paths = 0
        for name in self.field_names:
            for path in fields[name]:
                builder.add(path.split("."), name)
                paths += 1
        # owner and type candidates are ranked by path order: the lowest rank found wins
        rank = 0
        for path in owner_paths:
            builder.add(path.split("."), rank)
            rank += 1
        self._type_start = rank
        for path in type_paths:
            builder.add(path.split("."), rank)
            rank += 1
        self._root = builder.freeze()
        self._max_values = max_values
        # Without `*`, a message cannot carry more values than there are paths.
        self._may_overflow = any("*" in p.split(".") for n in fields for p in fields[n]) or paths > max_values

    def extract(self, message: Mapping[str, Any]) -> Extraction:
        return Extraction(*self.collect(message))

    def collect(self, message: Mapping[str, Any]) -> tuple[dict[str, list[Any]], str | None, str | None, int]:
        """`extract` as a plain tuple (values, owner, message_type, dropped), for the hot path."""
        if type(message) is not dict:  # any other Mapping (decoded JSON is always a dict)
            message = dict(message) if isinstance(message, Mapping) else {}
        values: dict[str, list[Any]] = {}
        others: list[tuple[int, Any]] = []
        budget = [self._max_values * 4]
        _walk(self._root, message, values, others, budget)
        owner: str | None = None
        message_type: str | None = None
        if others:
            type_start = self._type_start
            owner_rank = type_rank = 1 << 30
            for rank, value in others:
                if rank < type_start:
                    if rank < owner_rank and (type(value) is str or type(value) is int):
                        owner, owner_rank = str(value), rank
                elif rank < type_rank and type(value) is str:
                    message_type, type_rank = value, rank
        dropped = 0
        if self._may_overflow:
            dropped = 1 if budget[0] < 0 else 0
            room = self._max_values
            for name, bucket in values.items():
                if len(bucket) > room:
                    dropped += len(bucket) - room
                    del bucket[room:]
                room -= len(bucket)
            if dropped:
                for name in [n for n, b in values.items() if not b]:
                    del values[name]
        return values, owner, message_type, dropped


def _add(fields: tuple[str, ...], value: Any, values: dict[str, list[Any]]) -> None:
    for name in fields:
        bucket = values.get(name)
        if bucket is None:
            values[name] = [value]
        elif value not in bucket:
            bucket.append(value)


def _walk(
    node: _Node, obj: Any, values: dict[str, list[Any]], others: list[tuple[int, Any]], budget: list[int]
) -> None:
    """Collect every configured path present in obj. `budget` bounds the work a message with huge
    lists under a `*` path can cause (it goes to 0 or below when the walk stopped early)."""
    if type(obj) is dict:
        if len(obj) < node.size:  # fewer keys in the object than configured here: walk the object
            lookup = node.map.get
            for key, value in obj.items():
                entry = lookup(key)
                if entry is None or value is None:
                    continue
                fields, ranks, child = entry
                if fields:
                    if len(fields) == 1:
                        bucket = values.get(fields[0])
                        if bucket is None:
                            values[fields[0]] = [value]
                        elif value not in bucket:
                            bucket.append(value)
                    else:
                        _add(fields, value, values)
                if ranks:
                    for rank in ranks:
                        others.append((rank, value))
                if child is not None and (type(value) is dict or type(value) is list):
                    _walk(child, value, values, others, budget)
        else:
            get = obj.get
            for key, (fields, ranks, child) in node.keys:
                value = get(key)
                if value is None:
                    continue
                if fields:
                    if len(fields) == 1:
                        bucket = values.get(fields[0])
                        if bucket is None:
                            values[fields[0]] = [value]
                        elif value not in bucket:
                            bucket.append(value)
                    else:
                        _add(fields, value, values)
                if ranks:
                    for rank in ranks:
                        others.append((rank, value))
                if child is not None and (type(value) is dict or type(value) is list):
                    _walk(child, value, values, others, budget)
    elif type(obj) is list and node.star is not None:
        fields, ranks, child = node.star
        for item in obj:
            budget[0] -= 1
            if budget[0] < 0:
                return
            if item is None:
                continue
            if fields:
                _add(fields, item, values)
            for rank in ranks:
                others.append((rank, item))
            if child is not None and (type(item) is dict or type(item) is list):
                _walk(child, item, values, others, budget)
