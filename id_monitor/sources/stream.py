"""JSON Lines (or a JSON array) from stdin or a file: the agent's embedded default without Kafka.

Records come from the bounded record reader (`files.read_records`, the one `id-monitor check` uses
too): one runaway line costs at most `max_bytes` of memory and is reported as `too_large`, never
buffered whole; blank lines are not messages. A batch holds what can be read without waiting (at
most FILE_BATCH records): a live pipe's lines are checked and counted as soon as they arrive, a
file is read in full batches.
"""

from __future__ import annotations

from typing import Any, BinaryIO

from id_monitor.sources.batch import Batch, Chunk, LineRecord
from id_monitor.sources.files import read_records

STDIN_SOURCE = "stdin"
FILE_BATCH = 512


class StreamSource:
    """Records of one stream, labelled `source` (default `stdin`); no offsets to commit."""

    def __init__(self, stream: BinaryIO, max_bytes: int, *, source: str = STDIN_SOURCE) -> None:
        self.source = source
        self.eof = False
        self.reachable = True
        self._records = read_records(stream, max_bytes)

    def poll_batch(self, timeout_ms: int = 0) -> Batch | None:
        """The next records (blocking until at least one arrives), or None at end of input."""
        records: list[LineRecord] = []
        reader = self._records
        for line, raw, problem in reader:
            records.append(LineRecord(raw, line, problem))
            # The batch ends before a read that may wait, so what was read is counted now
            # instead of when the next line arrives (which may be much later).
            if len(records) >= FILE_BATCH or not reader.buffered:
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
