"""JSON Lines (or a JSON array) from stdin or a file: the agent's embedded default without Kafka.

Records come from the bounded record reader (`read_records`): one runaway line costs at most
`max_bytes` of memory and is reported as `too_large`, never buffered whole. A batch holds what
can be read without waiting (at most FILE_BATCH records): a live pipe's lines are checked and
counted as soon as they arrive, a file is read in full batches.
"""

from __future__ import annotations

import os
import select
import stat
from collections.abc import Iterator
from typing import Any, BinaryIO

from id_monitor.sources.records import read_records
from id_monitor.sources.batch import Batch, Chunk, LineRecord

STDIN_SOURCE = "stdin"
FILE_BATCH = 512


class _Live:
    """A binary stream whose `read` returns what is there instead of waiting for a full chunk."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.read = getattr(stream, "read1", stream.read)
        self.readline = stream.readline


def _live_fd(stream: BinaryIO) -> int | None:
    """The file descriptor of a stream whose reads may wait (a pipe, a terminal, a socket); None
    for a regular file or an in-memory stream, which never make a reader wait."""
    try:
        fd = stream.fileno()
        return None if stat.S_ISREG(os.fstat(fd).st_mode) else fd
    except (OSError, AttributeError, ValueError):
        return None


def _has_data(fd: int) -> bool:
    try:
        return bool(select.select([fd], [], [], 0)[0])
    except (OSError, ValueError):
        return False


class StreamSource:
    """Records of one stream, labelled `source` (default `stdin`); no offsets to commit."""

    commits = False

    def __init__(self, stream: BinaryIO, max_bytes: int, *, source: str = STDIN_SOURCE) -> None:
        self.source = source
        self.eof = False
        self.reachable = True
        self._fd = _live_fd(stream)
        self._records: Iterator[Any] = read_records(_Live(stream), max_bytes, blank_lines=True)

    def poll_batch(self, timeout_ms: int = 0) -> Batch | None:
        """The next records (blocking until at least one arrives), or None at end of input."""
        records: list[LineRecord] = []
        fd = self._fd
        for line, raw, problem in self._records:
            records.append(LineRecord(raw, line, problem))
            # A live stream's batch ends when nothing more has arrived, so what was read is
            # counted now instead of when the next line comes (which may be much later).
            if len(records) >= FILE_BATCH or (fd is not None and not _has_data(fd)):
                break
        else:
            self.eof = True
        if not records:
            return None
        return Batch([Chunk(self.source, None, None, records)], {})

    def assigned(self) -> frozenset[Any]:
        return frozenset()

    def close(self, timeout_ms: int = 0) -> None:
        pass
