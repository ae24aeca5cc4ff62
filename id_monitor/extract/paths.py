"""Where IDs live in a message: pulling values out by field path.

`Extractor` compiles every configured dotted path (fields, owner, message type) into one trie
at construction, so extracting from a message is a single walk doing one dict lookup per
distinct path segment: `payload` is looked up once however many fields live under it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any


class _Node:
    """One level of the path trie: dict keys to look up here, and `*` (every item of a list).

    An entry is (field, fields, others, child): the field name whose path ends here when exactly
    one does (the common case, stored on its own so the walk needs no length test), else None and
    all of them in `fields`; the owner/type ranks whose path ends here; and the next level. `keys`
    and `map` hold the same entries: a walk iterates whichever side is smaller, the configured keys
    or the object's own keys.
    """

    __slots__ = ("keys", "map", "size", "star")

    def __init__(self) -> None:
        self.keys: list[tuple[str, _Entry]] = []
        self.map: dict[str, _Entry] = {}
        self.size = 0
        self.star: _Entry | None = None


_Entry = tuple["str | None", tuple[str, ...], tuple[int, ...], "_Node | None"]


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
        single = self.fields[0] if len(self.fields) == 1 else None
        return single, (() if single is not None else tuple(self.fields)), tuple(self.others), child

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
                field, fields, ranks, child = entry
                if field is not None:
                    bucket = values.get(field)
                    if bucket is None:
                        values[field] = [value]
                    elif value not in bucket:
                        bucket.append(value)
                elif fields:
                    _add(fields, value, values)
                if ranks:
                    for rank in ranks:
                        others.append((rank, value))
                if child is not None and (type(value) is dict or type(value) is list):
                    _walk(child, value, values, others, budget)
        else:
            get = obj.get
            for key, (field, fields, ranks, child) in node.keys:
                value = get(key)
                if value is None:
                    continue
                if field is not None:
                    bucket = values.get(field)
                    if bucket is None:
                        values[field] = [value]
                    elif value not in bucket:
                        bucket.append(value)
                elif fields:
                    _add(fields, value, values)
                if ranks:
                    for rank in ranks:
                        others.append((rank, value))
                if child is not None and (type(value) is dict or type(value) is list):
                    _walk(child, value, values, others, budget)
    elif type(obj) is list and node.star is not None:
        field, fields, ranks, child = node.star
        if field is not None:
            fields = (field,)
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
