"""The bounded record reader: the records are a function of the bytes alone, whatever sizes the
stream delivers them in; memory stays bounded; a live pipe's lines arrive as they are written."""

from __future__ import annotations

import json
import os
import queue
import random
import threading
import tracemalloc
from io import BytesIO

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from id_monitor.sources.files import RecordReader, read_records

BOM = b"\xef\xbb\xbf"
CHUNK_PATTERNS = [[1], [2], [3], [7], [64], [65536], [1, 2, 3, 7, 64]]


class Chunked:
    """A stream that hands out its bytes in the given sizes (cycled), as a pipe or socket might."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self.data, self.sizes, self.pos, self.reads = data, sizes, 0, 0

    def read1(self, n: int) -> bytes:
        size = min(n, self.sizes[self.reads % len(self.sizes)])
        self.reads += 1
        piece = self.data[self.pos : self.pos + size]
        self.pos += len(piece)
        return piece


class ReadOnly:
    """A stream with only read() (no read1): the reader falls back to it."""

    def __init__(self, data: bytes) -> None:
        self.stream = BytesIO(data)

    def read(self, n: int) -> bytes:
        return self.stream.read(n)


def whole(data: bytes, max_bytes: int) -> list:
    return list(read_records(BytesIO(data), max_bytes, chunk_size=len(data) + 1))


def chunked(data: bytes, max_bytes: int, sizes: list[int]) -> list:
    return list(read_records(Chunked(data, sizes), max_bytes))


structural = st.lists(
    st.sampled_from([b"[", b"]", b"{", b"}", b",", b'"', b"\\", b"\n", b"\r", b"\r\n", b" ", b"\t",
                     BOM, b"\xef", b"\xbb", b"a", b"12", b'"s"', b"null", b"\n\n"]),
    max_size=60,
).map(b"".join)
any_bytes = st.one_of(st.binary(max_size=300), structural)
chunk_sizes = st.one_of(st.sampled_from(CHUNK_PATTERNS), st.lists(st.integers(1, 40), min_size=1, max_size=8))


@settings(max_examples=800, deadline=None)
@given(any_bytes, st.integers(1, 24), chunk_sizes)
def test_any_bytes_give_the_same_records_in_any_chunk_sizes(data, max_bytes, sizes):
    assert chunked(data, max_bytes, sizes) == whole(data, max_bytes)


@settings(max_examples=300, deadline=None)
@given(any_bytes, st.integers(1, 24))
def test_every_fixed_chunk_size_and_a_read_only_stream_agree(data, max_bytes):
    expected = whole(data, max_bytes)
    for sizes in CHUNK_PATTERNS:
        assert chunked(data, max_bytes, sizes) == expected
    assert list(read_records(ReadOnly(data), max_bytes, chunk_size=5)) == expected


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.dictionaries(st.text(max_size=6), json_values, max_size=4), max_size=12), st.booleans(),
       st.booleans(), st.lists(st.integers(1, 50), min_size=1), st.integers(0, 3))
def test_json_lines_give_each_value_with_its_line(values, crlf, bom, sizes, blank_lines):
    # messages are objects (a first line starting with `[` would make the input an array)
    ending = b"\r\n" if crlf else b"\n"
    data = (BOM if bom else b"") + ending * blank_lines
    expected = []
    for index, value in enumerate(values):
        encoded = json.dumps(value).encode()
        expected.append((blank_lines + 2 * index + 1, encoded, None))
        data += encoded + ending + b"  " + ending  # each record, then a blank line
    records = chunked(data, 1 << 20, sizes)
    assert records == whole(data, 1 << 20) == expected


@settings(max_examples=150, deadline=None)
@given(st.lists(json_values, max_size=12), st.lists(st.sampled_from(["", " ", "\n", "\r\n", "\t"]), min_size=1),
       st.booleans(), st.lists(st.integers(1, 50), min_size=1), st.integers(0, 3))
def test_json_arrays_give_each_element_with_the_line_it_starts_on(values, gaps, bom, sizes, blank_lines):
    gap = iter(gaps * (3 * len(values) + 3))
    text = (BOM.decode() if bom else "") + "\n" * blank_lines + next(gap) + "[" + next(gap)
    expected = []
    for index, value in enumerate(values):
        text += next(gap)
        expected.append((1 + text.count("\n"), json.dumps(value).encode(), None))
        text += json.dumps(value, indent=1 if index % 2 else None) + next(gap)
        text += "," if index < len(values) - 1 else ""
    text += "]" + next(gap)
    data = text.encode()
    records = chunked(data, 1 << 20, sizes)
    assert records == whole(data, 1 << 20)
    assert [(line, json.loads(raw), problem) for line, raw, problem in records] == \
        [(line, json.loads(raw), problem) for line, raw, problem in expected]


@pytest.mark.parametrize("sizes", CHUNK_PATTERNS)
def test_byte_order_mark_is_dropped_for_both_forms(sizes):
    assert chunked(BOM + b'{"a":1}\n{"b":2}', 100, sizes) == [(1, b'{"a":1}', None), (2, b'{"b":2}', None)]
    assert chunked(BOM + b'[{"a":1},\n{"b":2}]', 100, sizes) == [(1, b'{"a":1}', None), (2, b'{"b":2}', None)]
    assert chunked(BOM + b"\n\n [1]", 100, sizes) == [(3, b"1", None)]
    # only at the very start, and a partial mark is data
    assert chunked(b"\n" + BOM + b"[1]", 100, sizes) == [(2, BOM + b"[1]", None)]
    assert chunked(b"\xef\xbb", 100, sizes) == [(1, b"\xef\xbb", None)]


@pytest.mark.parametrize("sizes", CHUNK_PATTERNS)
def test_array_after_leading_blank_lines_and_content_after_it(sizes):
    data = b"\r\n\n   \n  [ 1 ,\n  {\"a\": [1, 2]}  ,\n\"x,]\"]\n{\"after\": 1}\n"
    assert chunked(data, 100, sizes) == [
        (4, b"1", None), (5, b'{"a": [1, 2]}', None), (6, b'"x,]"', None), (7, b'{"after": 1}', None),
    ]
    assert chunked(b"[1] {}", 100, sizes) == [(1, b"1", None), (1, b" {}", None)]


@pytest.mark.parametrize("sizes", CHUNK_PATTERNS)
def test_empty_elements_and_trailing_comma(sizes):
    assert chunked(b"[1,,\n2,]", 100, sizes) == [(1, b"1", None), (1, b"", None), (2, b"2", None)]
    assert chunked(b"[]", 100, sizes) == []
    assert chunked(b"[,]", 100, sizes) == [(1, b"", None)]


@pytest.mark.parametrize("sizes", CHUNK_PATTERNS)
def test_oversized_lines_at_the_exact_bound(sizes):
    ten = b"0123456789"
    data = ten + b"\n" + ten + b"\r\n" + ten + b"x\n" + ten + b"\r\r\n" + b" " * 50 + b"\n" + ten + b"x"
    assert chunked(data, 10, sizes) == [
        (1, ten, None), (2, ten, None), (3, None, "too_large"), (4, None, "too_large"), (6, None, "too_large"),
    ]
    assert chunked(ten + b"\r", 10, sizes) == [(1, ten, None)]  # a last line without LF


@pytest.mark.parametrize("sizes", CHUNK_PATTERNS)
def test_oversized_elements_at_the_exact_bound(sizes):
    ten = b'"01234567"'
    data = b"[" + ten + b"," + ten + b"x,\n" + ten + b"  ,\n" + ten + b"\n]\n" + ten
    assert chunked(data, 10, sizes) == [
        (1, ten, None), (1, None, "too_large"), (2, None, "too_large"), (3, None, "too_large"), (5, ten, None),
    ]
    assert chunked(b"[  " + ten + b"]", 10, sizes) == [(1, ten, None)]  # leading whitespace is not counted


@pytest.mark.parametrize("sizes", CHUNK_PATTERNS)
def test_truncated_arrays(sizes):
    assert chunked(b"[", 100, sizes) == [(1, None, "truncated")]
    assert chunked(b"[1,\n\n", 100, sizes) == [(1, b"1", None), (3, None, "truncated")]
    assert chunked(b'[1,\n{"a": "],', 100, sizes) == [(1, b"1", None), (2, None, "truncated")]
    assert chunked(b'[{"a": [1, 2]', 100, sizes) == [(1, None, "truncated")]
    assert chunked(b'["\\', 100, sizes) == [(1, None, "truncated")]


@pytest.mark.parametrize("sizes", CHUNK_PATTERNS)
def test_strings_with_escapes_and_line_breaks_inside_elements(sizes):
    data = b'["a\\"b,c", "d\\\\", "e\\\nf", "g\nh", 2]'
    assert chunked(data, 100, sizes) == [
        (1, b'"a\\"b,c"', None), (1, b'"d\\\\"', None), (1, b'"e\\\nf"', None), (2, b'"g\nh"', None),
        (3, b"2", None),
    ]


class Endless:
    """`size` bytes made on demand from a pattern (never held whole), then `tail`."""

    def __init__(self, head: bytes, pattern: bytes, size: int, tail: bytes) -> None:
        self.head, self.pattern, self.left, self.tail = head, pattern, size, tail

    def read1(self, n: int) -> bytes:
        if self.head:
            piece, self.head = self.head, b""
            return piece
        if self.left > 0:
            count = min(n, self.left) // len(self.pattern) or 1
            self.left -= count * len(self.pattern)
            return self.pattern * count
        piece, self.tail = self.tail, b""
        return piece


@pytest.mark.parametrize(("head", "pattern", "tail", "expected"), [
    (b"", b"x", b"\n{}\n", [(1, None, "too_large"), (2, b"{}", None)]),
    (b"", b" ", b"\n{}\n", [(2, b"{}", None)]),  # a huge blank line is skipped
    (b"[", b"1", b",2]", [(1, None, "too_large"), (1, b"2", None)]),
    (b'["', b"a", b'", 2]', [(1, None, "too_large"), (1, b"2", None)]),
    (b"", b"\n", b"[3]", [(5_000_001, b"3", None)]),
    (b"[1,", b"\n", b"2]", [(1, b"1", None), (5_000_001, b"2", None)]),
])
def test_memory_stays_bounded_by_max_bytes(head, pattern, tail, expected):
    max_bytes = 1 << 20
    tracemalloc.start()
    try:
        records = list(read_records(Endless(head, pattern, 5_000_000, tail), max_bytes))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert records == expected
    assert peak < 2 * max_bytes + 4 * (1 << 16), peak


def test_a_live_pipe_line_is_delivered_before_the_writer_closes():
    read_fd, write_fd = os.pipe()
    records: queue.Queue = queue.Queue()
    with open(read_fd, "rb") as stream:  # a BufferedReader, as sys.stdin.buffer is
        reader = read_records(stream, 1 << 20)

        def consume() -> None:
            for record in reader:
                records.put((record, reader.buffered))
            records.put(None)

        thread = threading.Thread(target=consume, daemon=True)
        thread.start()
        try:
            os.write(write_fd, b'{"a": 1}\n{"b"')
            # the first record arrives though the 64 KiB chunk is far from full
            assert records.get(timeout=10) == ((1, b'{"a": 1}', None), False)
            os.write(write_fd, b': 2}\n')
            assert records.get(timeout=10) == ((2, b'{"b": 2}', None), False)
        finally:
            os.close(write_fd)
        assert records.get(timeout=10) is None
        thread.join(timeout=10)


def test_buffered_says_whether_the_next_record_needs_a_read():
    stream = Chunked(b"1\n2\n3", [4, 100])
    reader = RecordReader(stream, 100)
    assert not reader.buffered
    assert next(reader) == (1, b"1", None)
    assert reader.buffered and stream.reads == 1  # "2" was split from the same read
    assert next(reader) == (2, b"2", None)
    assert not reader.buffered  # "3" has no newline yet: the next step reads
    assert next(reader) == (3, b"3", None)
    assert stream.reads == 3  # the read that found the end
    assert reader.buffered  # the end is known
    assert list(reader) == []


def test_random_chunk_sizes_on_a_larger_mixed_file():
    rng = random.Random(17)
    lines = []
    for index in range(3000):
        kind = rng.random()
        if kind < 0.1:
            lines.append(b" " * rng.randint(0, 5))
        elif kind < 0.2:
            lines.append(b"x" * rng.randint(90, 110))
        else:
            lines.append(json.dumps({"i": index, "s": "," * rng.randint(0, 20)}).encode())
    for data in (b"\r\n".join(lines), b"[" + b",\n".join(line or b"0" for line in lines) + b"]"):
        expected = whole(data, 100)
        for _ in range(5):
            sizes = [rng.randint(1, 5000) for _ in range(50)]
            assert chunked(data, 100, sizes) == expected
