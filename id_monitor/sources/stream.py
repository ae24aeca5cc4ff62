"""JSON Lines from stdin or a file: the agent's embedded default when no Kafka is configured.

Lines are read with a bound, so one runaway line (a log dump piped in by mistake) costs at most
`max_bytes` of memory: its length is measured while it is skipped, and it is reported as an
oversized line instead of being buffered whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

_CHUNK = 1 << 16


@dataclass(frozen=True, slots=True)
class Oversized:
    """A line longer than the limit; only its length is kept."""

    length: int


def read_lines(stream: BinaryIO, max_bytes: int) -> Iterator[bytes | Oversized]:
    """Each line's bytes without its line ending (`\\n` or `\\r\\n`), or `Oversized` for a line
    longer than `max_bytes`. A last line without a newline is still yielded."""
    readline = stream.readline
    while True:
        line = readline(max_bytes + 2)
        if not line:
            return
        if line.endswith(b"\n"):
            line = line[:-1]
            if line.endswith(b"\r"):
                line = line[:-1]
        elif len(line) > max_bytes:
            length = len(line)
            while True:
                rest = readline(_CHUNK)
                if not rest:
                    break
                if rest.endswith(b"\n"):
                    length += len(rest) - 1
                    break
                length += len(rest)
            yield Oversized(length)
            continue
        if len(line) > max_bytes:
            yield Oversized(len(line))
        else:
            yield line
