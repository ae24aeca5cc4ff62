"""What every source hands the pipeline: a Batch of Chunks of raw records, plus what to commit.

A record is anything with `.value` (bytes, or None for a tombstone), `.headers` and `.offset`
(kafka-python's records as they are; `LineRecord` for streams). A stream record that could not be
read at all (`too_large`, `truncated`) has `.value` None and `.problem` set.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple


class Chunk(NamedTuple):
    """Records of one source partition (or one stream) within a batch."""

    source: str
    topic: str | None
    partition: int | None
    records: Sequence[Any]


class Batch(NamedTuple):
    """One poll's records, and the offsets to commit once they are all recorded (empty for a
    source without commits)."""

    chunks: list[Chunk]
    offsets: dict[Any, int]


class LineRecord(NamedTuple):
    """One record of a stream: the raw bytes (None when unreadable), the line it starts on."""

    value: bytes | None
    offset: int
    problem: str | None = None
    headers: Any = None
