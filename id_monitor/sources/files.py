"""Reading message records from a file or a pipe in bounded memory: JSON Lines or one JSON array.

Records are split from the raw bytes without decoding them, so `decode_message` stays the one
place that parses (with its size and depth limits). The result is a function of the bytes alone:
the same input gives the same records, line numbers and problems however the stream happens to
deliver it (a file read in 64 KiB blocks, a pipe a few bytes at a time), because every rule below
is stated on bytes and the splitter carries its whole state from one read to the next.

- A UTF-8 byte-order mark as the first three bytes is dropped.
- The first byte that is not whitespace (space, tab, CR, LF) decides the form: `[` opens a JSON
  array, anything else means JSON Lines. Leading blank lines are skipped either way.
- JSON Lines: a record is the bytes of one line, without its LF and one CR before it. Blank
  lines (whitespace only) are skipped, whatever their length. A last line without LF counts.
- JSON array: a record is one top-level element, from its first non-whitespace byte to the comma
  or bracket that ends it, trailing whitespace removed; strings (with escapes) and nesting are
  tracked so commas inside elements do not split. `[1,,2]` gives an empty record for the
  missing element (decoding reports it); a trailing comma before `]` adds nothing. After the
  closing `]`, the rest of the input is read as JSON Lines, its first line starting right after
  the bracket. An input that ends inside the array gives one `truncated` record, at the line
  of the unfinished element (or of the end, between elements).
- Line numbers are 1 + the number of LF bytes before the record's first byte.
- A record whose bytes (for an element: up to its terminator, trailing whitespace included) are
  more than `max_bytes` is never held whole: it is skipped up to its end and reported as
  `too_large`.

Records are `(line, raw, problem)`: `raw` is the bytes to decode, or None when `problem` says
why there is nothing to decode (`too_large`, `truncated`).

Each read asks the stream for at most `chunk_size` bytes with `read1` when it has it (a
buffered pipe), so a line typed into a live stdin is delivered as soon as it arrives rather than
when a whole chunk has filled. `RecordReader.buffered` says whether the next record (or the
end) is already in hand: when it is False, the next step reads and may block, which is when
a live consumer should flush what it has counted.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterator
from typing import BinaryIO

Record = tuple[int, "bytes | None", "str | None"]

_BOM = b"\xef\xbb\xbf"
_WHITESPACE = b" \t\r\n"
_NOT_WHITESPACE = re.compile(rb"[^ \t\r\n]")
_LF, _CR, _QUOTE, _BACKSLASH, _COMMA = 0x0A, 0x0D, 0x22, 0x5C, 0x2C
_OPEN = (0x7B, 0x5B)  # { [
_OPEN_ARRAY = 0x5B
_CLOSE_ARRAY, _CLOSE_OBJECT = 0x5D, 0x7D
# Inside an element, outside strings: the bytes that change the splitter's state (commas only
# at the top level). Line feeds between them are counted in one step.
_STRUCTURAL_TOP = re.compile(rb'["\[\]{},]')
_STRUCTURAL_NESTED = re.compile(rb'["\[\]{}]')
# A whole string literal without an LF in it: skipped in one step (it changes no state). A
# literal cut by the end of a read, or holding an LF, is walked byte by byte instead.
_STRING_LITERAL = re.compile(rb'"[^"\\\n]*(?:\\[^\n][^"\\\n]*)*"')
_STRING_STOP = re.compile(rb'["\\\n]')

_START, _LINES, _ARRAY = "start", "lines", "array"


def read_records(stream: BinaryIO, max_bytes: int, chunk_size: int = 1 << 16) -> RecordReader:
    """The records of a JSON Lines or JSON array stream, in order (an iterator of (line, raw, problem))."""
    return RecordReader(stream, max_bytes, chunk_size)


class RecordReader(Iterator[Record]):
    """Splits a byte stream into records as the module docstring describes.

    Memory: at most one record of `max_bytes` being assembled plus the records split from one
    read (at most `chunk_size` bytes), whatever the input.
    """

    def __init__(self, stream: BinaryIO, max_bytes: int, chunk_size: int = 1 << 16) -> None:
        if max_bytes < 1 or chunk_size < 1:
            raise ValueError("max_bytes and chunk_size must be positive")
        read1: Callable[[int], bytes] | None = getattr(stream, "read1", None)
        self._read = read1 if read1 is not None else stream.read
        self._max = max_bytes
        self._chunk_size = chunk_size
        self._ready: deque[Record] = deque()
        self._ended = False
        self._mode = _START
        self._head = b""  # the first bytes while they may still be a byte-order mark
        self._line = 1  # line of the next byte
        # JSON Lines: the current line so far
        self._undecided = True  # no non-whitespace byte yet: an array may still begin
        self._buf = bytearray()  # its bytes while they fit (size <= max + 1, room for a CR)
        self._size = 0
        self._blank = True
        self._last_cr = False
        # JSON array: the current element and where the scan is
        self._started = False
        self._element_line = 0
        self._element = bytearray()
        self._element_size = 0
        self._depth = 0
        self._in_string = False
        self._escape = False

    def __iter__(self) -> RecordReader:
        return self

    def __next__(self) -> Record:
        while not self._ready:
            if self._ended:
                raise StopIteration
            chunk = self._read(self._chunk_size)
            if chunk:
                self._feed(chunk)
            else:
                self._finish()
        return self._ready.popleft()

    @property
    def buffered(self) -> bool:
        """True when the next record, or the end, is available without reading the stream."""
        return bool(self._ready) or self._ended

    # -- dispatch -------------------------------------------------------------------------

    def _feed(self, data: bytes) -> None:
        pos = 0
        if self._mode is _START:
            data = self._head + data
            if len(data) < len(_BOM) and _BOM.startswith(data):
                self._head = data
                return
            self._head = b""
            if data.startswith(_BOM):
                pos = len(_BOM)
            self._mode = _LINES
        while pos < len(data):
            pos = self._feed_lines(data, pos) if self._mode is _LINES else self._feed_array(data, pos)

    def _finish(self) -> None:
        if self._mode is _START:  # one or two bytes that began like a byte-order mark
            self._mode = _LINES
            self._feed_lines(self._head, 0)
        if self._mode is _LINES:
            if self._size:
                self._end_line()
        elif self._started:
            self._ready.append((self._element_line, None, "truncated"))
        else:
            self._ready.append((self._line, None, "truncated"))
        self._ended = True

    # -- JSON Lines -----------------------------------------------------------------------

    def _feed_lines(self, data: bytes, pos: int) -> int:
        """Split `data[pos:]` into lines; returns where it stopped (the end, or an array's start)."""
        end = len(data)
        if self._undecided:  # only blank lines so far: skip them in one step
            first = _NOT_WHITESPACE.search(data, pos)
            stop = end if first is None else first.start()
            last_newline = data.rfind(b"\n", pos, stop)
            if last_newline >= 0:
                self._line += data.count(b"\n", pos, stop)
                self._reset_line()
                pos = last_newline + 1
            if first is None:
                self._extend(data, pos, end)
                return end
            self._undecided = False
            if data[stop] == _OPEN_ARRAY:
                self._reset_line()
                self._mode = _ARRAY
                return stop + 1
        while pos < end:
            newline = data.find(b"\n", pos)
            stop = end if newline < 0 else newline
            if self._size == 0 and newline >= 0:  # a whole line in this read: no copy into _buf
                self._whole_line(data, pos, newline)
            else:
                self._extend(data, pos, stop)
                if newline >= 0:
                    self._end_line()
            if newline < 0:
                return end
            self._line += 1
            pos = newline + 1
        return end

    def _whole_line(self, data: bytes, start: int, newline: int) -> None:
        stop = newline - 1 if newline > start and data[newline - 1] == _CR else newline
        if stop == start or (data[start] in _WHITESPACE and _NOT_WHITESPACE.search(data, start, stop) is None):
            return
        if stop - start > self._max:
            self._ready.append((self._line, None, "too_large"))
        else:
            self._ready.append((self._line, data[start:stop], None))

    def _extend(self, data: bytes, start: int, stop: int) -> None:
        if stop <= start:
            return
        self._size += stop - start
        if self._blank and _NOT_WHITESPACE.search(data, start, stop) is not None:
            self._blank = False
        self._last_cr = data[stop - 1] == _CR
        if self._size <= self._max + 1:
            self._buf += data[start:stop]
        else:
            self._buf.clear()

    def _end_line(self) -> None:
        length = self._size - 1 if self._last_cr else self._size
        if not self._blank:
            if length > self._max:
                self._ready.append((self._line, None, "too_large"))
            else:
                self._ready.append((self._line, bytes(self._buf[:length]), None))
        self._reset_line()

    def _reset_line(self) -> None:
        self._buf.clear()
        self._size = 0
        self._blank = True
        self._last_cr = False

    # -- JSON array -----------------------------------------------------------------------

    def _feed_array(self, data: bytes, pos: int) -> int:
        """Scan `data[pos:]` inside the array; returns where it stopped (the end, or after `]`)."""
        end = len(data)
        mark = pos  # start of this read's element bytes not yet kept
        while pos < end:
            if self._in_string:
                if self._escape:
                    self._escape = False
                    if data[pos] == _LF:
                        self._line += 1
                    pos += 1
                    continue
                found = _STRING_STOP.search(data, pos)
                if found is None:
                    pos = end
                    break
                pos = found.end()
                byte = data[found.start()]
                if byte == _BACKSLASH:
                    self._escape = True
                elif byte == _QUOTE:
                    self._in_string = False
                else:
                    self._line += 1
                continue
            if not self._started:
                first = _NOT_WHITESPACE.search(data, pos)
                if first is None:
                    self._line += data.count(b"\n", pos, end)
                    return end
                self._line += data.count(b"\n", pos, first.start())
                pos = first.start()
                byte = data[pos]
                if byte == _COMMA:
                    self._ready.append((self._line, b"", None))
                    pos += 1
                    continue
                if byte == _CLOSE_ARRAY:
                    return self._close(pos + 1)
                self._started = True
                self._element_line = self._line
                self._element.clear()
                self._element_size = 0
                mark = pos
            found = (_STRUCTURAL_NESTED if self._depth else _STRUCTURAL_TOP).search(data, pos)
            if found is None:
                self._line += data.count(b"\n", pos, end)
                pos = end
                break
            at = found.start()
            self._line += data.count(b"\n", pos, at)
            byte = data[at]
            pos = at + 1
            if byte == _QUOTE:
                literal = _STRING_LITERAL.match(data, at)
                if literal is not None:
                    pos = literal.end()
                else:
                    self._in_string = True
            elif byte in _OPEN:
                self._depth += 1
            elif byte == _CLOSE_ARRAY or byte == _CLOSE_OBJECT:
                if self._depth > 0:
                    self._depth -= 1
                elif byte == _CLOSE_ARRAY:  # the array's own `]`
                    self._keep(data, mark, at)
                    self._end_element()
                    return self._close(pos)
            elif byte == _COMMA and self._depth == 0:
                self._keep(data, mark, at)
                self._end_element()
        if self._started:
            self._keep(data, mark, end)
        return end

    def _keep(self, data: bytes, start: int, stop: int) -> None:
        self._element_size += stop - start
        if self._element_size <= self._max:
            self._element += data[start:stop]
        else:
            self._element.clear()

    def _end_element(self) -> None:
        self._started = False
        if self._element_size > self._max:
            self._ready.append((self._element_line, None, "too_large"))
        else:
            self._ready.append((self._element_line, bytes(self._element).rstrip(_WHITESPACE), None))
        self._element.clear()

    def _close(self, pos: int) -> int:
        """After the array's `]`: the rest is JSON Lines, starting on the bracket's line."""
        self._mode = _LINES
        self._undecided = False
        return pos
