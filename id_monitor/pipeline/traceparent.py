"""W3C Trace Context `traceparent`: the one parser, for Kafka record headers and HTTP alike.

    traceparent = version "-" trace-id "-" parent-id "-" trace-flags
    00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01

Lowercase hex only; version `ff` is invalid; version 00 has exactly these four fields, while a
later version may append `-`-separated fields, which are ignored; an all-zero trace-id or
parent-id is invalid; bit 0 of the flags is `sampled`. Anything else gives None: a malformed
header is never an exemplar label.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?", re.DOTALL)
_ZERO_TRACE = "0" * 32
_ZERO_PARENT = "0" * 16
HEADER = "traceparent"


class TraceParent(NamedTuple):
    version: str
    trace_id: str
    parent_id: str
    flags: int

    @property
    def sampled(self) -> bool:
        return bool(self.flags & 0x01)


def parse_traceparent(value: str | bytes | bytearray | None) -> TraceParent | None:
    """The parsed header, or None when it is not a valid `traceparent`."""
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray)):
        try:
            value = value.decode("ascii")
        except UnicodeDecodeError:
            return None
    if not isinstance(value, str) or len(value) > 512:
        return None
    match = _TRACEPARENT.fullmatch(value.strip(" \t"))
    if match is None:
        return None
    version, trace_id, parent_id, flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest is not None):
        return None
    if trace_id == _ZERO_TRACE or parent_id == _ZERO_PARENT:
        return None
    return TraceParent(version, trace_id, parent_id, int(flags, 16))


def exemplar_from_traceparent(value: str | bytes | bytearray | None) -> dict[str, str] | None:
    """Exemplar labels (trace_id, span_id) of a sampled trace; None otherwise (an unsampled trace
    is never exported, so an exemplar pointing at it would lead nowhere)."""
    parsed = parse_traceparent(value)
    if parsed is None or not parsed.sampled:
        return None
    return {"trace_id": parsed.trace_id, "span_id": parsed.parent_id}


def exemplar_from_headers(headers: Iterable[tuple[str, bytes]] | None) -> dict[str, str] | None:
    """The exemplar of a Kafka record's `traceparent` header, if any (header names are
    case-insensitive; the first traceparent header counts)."""
    if not headers:
        return None
    for key, value in headers:
        if key == HEADER or (len(key) == 11 and key.lower() == HEADER):
            return exemplar_from_traceparent(value)
    return None
