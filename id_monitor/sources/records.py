"""Reading message files in constant memory: JSON Lines, or one JSON array of messages.

Both forms are split into raw records without decoding them, so `decode_message` stays the one
place that parses (with its size and depth limits). Memory is bounded by `max_bytes` whatever the
input: a line or array element longer than that is never held whole; it is skipped up to its
end and reported as a `too_large` record with its line number.

Which form: a file whose first non-blank byte is `[` is a JSON array; it is split by a small
incremental scanner that tracks strings and nesting and yields each top-level element with the
line it starts on. After the array's closing `]`, any further content is read as JSON Lines.
Anything else is JSON Lines; blank lines are skipped.

Records are `(line, raw, problem)`: `raw` is the bytes to decode, or None when `problem` says why
there is nothing to decode (`too_large`, or `truncated` for an array cut short).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

Record = tuple[int, "bytes | None", "str | None"]

_BOM = b"\xef\xbb\xbf"
_WHITESPACE = b" \t\r\n"
# Outside a string: a complete string literal (the common case, skipped in one step), or a single
# structural byte. An unterminated literal (cut by the chunk end) matches as a lone quote.
_TOKEN = re.compile(rb'"(?:[^"\\\n]|\\.)*"|["\[\]{},\n]')
_IN_STRING = re.compile(rb'["\\\n]')


def read_records(stream: BinaryIO, max_bytes: int, chunk_size: int = 1 << 16, *,
                 blank_lines: bool = False) -> Iterator[Record]:
    """Yield (line, raw, problem) for every message in a JSON Lines or JSON array stream; with
    `blank_lines`, a blank JSON Lines line is yielded as (line, None, None) instead of skipped."""
    head = stream.read(chunk_size)
    head = head.removeprefix(_BOM)
    skipped_lines = 0
    while head and not head.strip(_WHITESPACE):  # a long run of leading blank lines
        skipped_lines += head.count(b"\n")
        head = stream.read(chunk_size)
    if head.lstrip(_WHITESPACE).startswith(b"["):
        splitter = _ArraySplitter(stream, max_bytes, chunk_size, blank_lines)
        splitter.line += skipped_lines
        yield from splitter.records(head)
    else:
        yield from _lines(_Prefixed(head, stream), max_bytes, skipped_lines, blank_lines)


class _Prefixed:
    """A stream with already-read bytes put back in front (readline only)."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self._head = head
        self._stream = stream

    def readline(self, limit: int) -> bytes:
        if not self._head:
            return self._stream.readline(limit)
        cut = self._head.find(b"\n", 0, limit)
        if cut >= 0:
            line, self._head = self._head[: cut + 1], self._head[cut + 1 :]
            return line
        if len(self._head) >= limit:
            line, self._head = self._head[:limit], self._head[limit:]
            return line
        line, self._head = self._head, b""
        return line + self._stream.readline(limit - len(line)) if not line.endswith(b"\n") else line


def _lines(stream: _Prefixed | BinaryIO, max_bytes: int, line: int, blank_lines: bool = False) -> Iterator[Record]:
    limit = max_bytes + 2  # room for "\r\n" after a line of exactly max_bytes
    while True:
        chunk = stream.readline(limit)
        if not chunk:
            return
        line += 1
        if not chunk.endswith(b"\n") and len(chunk) >= limit:
            # Too long: drop it up to the next newline, in bounded pieces.
            while True:
                rest = stream.readline(1 << 20)
                if not rest or rest.endswith(b"\n"):
                    break
            yield line, None, "too_large"
            continue
        text = chunk.rstrip(b"\r\n")
        if len(text) > max_bytes:
            yield line, None, "too_large"
        elif text.strip(_WHITESPACE):
            yield line, text, None
        elif blank_lines:
            yield line, None, None


class _ArraySplitter:
    """Incremental splitter of a top-level JSON array into its element bytes."""

    def __init__(self, stream: BinaryIO, max_bytes: int, chunk_size: int, blank_lines: bool = False) -> None:
        self.stream = stream
        self.blank_lines = blank_lines
        self.max_bytes = max_bytes
        self.chunk_size = chunk_size
        self.line = 1
        self.depth = 0  # nesting inside the current element
        self.in_string = False
        self.escape = False
        self.opened = False  # the array's own `[` was seen
        self.closed = False
        self.started = False  # an element has begun
        self.start_line = 0
        self.buffer = bytearray()
        self.oversize = False

    def records(self, head: bytes) -> Iterator[Record]:
        chunk = head
        while chunk:
            rest = yield from self._scan(chunk)
            if self.closed:
                tail = chunk[rest:]
                yield from _lines(_Prefixed(tail, self.stream), self.max_bytes, self.line - 1, self.blank_lines)
                return
            chunk = self.stream.read(self.chunk_size)
        if self.started:
            yield self.start_line, None, "truncated"
        elif not self.closed:
            yield self.line, None, "truncated"

    def _begin(self, line: int) -> None:
        self.started = True
        self.start_line = line
        self.buffer.clear()
        self.oversize = False

    def _keep(self, piece: bytes) -> None:
        if self.oversize:
            return
        if len(self.buffer) + len(piece) > self.max_bytes:
            self.oversize = True
            self.buffer.clear()
        else:
            self.buffer += piece

    def _finish(self) -> Record:
        self.started = False
        if self.oversize:
            return self.start_line, None, "too_large"
        raw = bytes(self.buffer).strip(_WHITESPACE)
        self.buffer.clear()
        return self.start_line, raw, None

    def _scan(self, chunk: bytes) -> Iterator[Record]:  # returns the offset after the array
        pos = 0
        end = len(chunk)
        mark = 0  # start of the element bytes not yet kept from this chunk
        while pos < end:
            if self.in_string:
                if self.escape:
                    self.escape = False
                    pos += 1
                    continue
                m = _IN_STRING.search(chunk, pos)
                if m is None:
                    pos = end
                    break
                byte = chunk[m.start()]
                pos = m.end()
                if byte == 0x5C:  # backslash: the next byte is escaped (maybe in the next chunk)
                    self.escape = True
                elif byte == 0x22:
                    self.in_string = False
                else:
                    self.line += 1
                continue
            if not self.opened:
                stripped = len(chunk) - len(chunk[pos:].lstrip(_WHITESPACE))
                self.line += chunk.count(b"\n", pos, stripped)
                pos = stripped
                if pos < end:  # the `[` (read_records checked it is one)
                    self.opened = True
                    pos += 1
                continue
            m = _TOKEN.search(chunk, pos)
            token_start = m.start() if m else end
            if not self.started and self.depth == 0:
                gap = chunk[pos:token_start]
                if gap.strip(_WHITESPACE):  # a scalar element begins (number, true, null...)
                    lead = len(gap) - len(gap.lstrip(_WHITESPACE))
                    self.line += gap.count(b"\n", 0, lead)
                    self._begin(self.line)
                    mark = pos + lead
            if m is None:
                pos = end
                break
            token = m.group()
            pos = m.end()
            if len(token) > 1:  # a whole string literal
                if not self.started:
                    self._begin(self.line)
                    mark = token_start
                continue
            byte = token[0]
            if byte == 0x0A:
                self.line += 1
            elif byte == 0x22:
                if not self.started:
                    self._begin(self.line)
                    mark = token_start
                self.in_string = True
            elif byte in (0x7B, 0x5B):  # { [
                if not self.started:
                    self._begin(self.line)
                    mark = token_start
                self.depth += 1
            elif byte in (0x7D, 0x5D):  # } ]
                if self.depth > 0:
                    self.depth -= 1
                elif byte == 0x5D:  # the array's own closing bracket
                    if self.started:
                        self._keep(chunk[mark:token_start])
                        yield self._finish()
                    self.closed = True
                    return pos
                elif not self.started:  # a stray `}`: an element of its own, decoding rejects it
                    self._begin(self.line)
                    mark = token_start
            elif byte == 0x2C and self.depth == 0:  # , between elements
                if self.started:
                    self._keep(chunk[mark:token_start])
                    yield self._finish()
                else:
                    yield self.line, b"", None  # an empty element: decoding reports it
        if self.started:
            self._keep(chunk[mark:end])
        return end
