"""`id-monitor check` gives the same records, line numbers and findings for the same bytes whatever
the reader's buffer size and however the stream delivers them (a pipe's short reads).

Regression test of the defect where the check reader's result depended on where its read buffer
cut the file: a line that parsed under one buffer size was `too_large` under another, and a
leading byte-order mark was handled differently when the first read was short.
"""

from __future__ import annotations

import functools
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from id_monitor.commands import check as check_command
from id_monitor.config import load_config
from id_monitor.pipeline import build_engine
from id_monitor.sources import files

BOM = b"\xef\xbb\xbf"
NOW = 1_757_372_500_000


class ShortReads(io.RawIOBase):
    """A raw stream returning at most the given sizes per read (cycled), like a pipe or socket."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self._data, self._sizes, self._pos, self._reads = data, sizes, 0, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        size = min(len(buffer), self._sizes[self._reads % len(self._sizes)])
        self._reads += 1
        piece = self._data[self._pos : self._pos + size]
        buffer[: len(piece)] = piece
        self._pos += len(piece)
        return len(piece)


@functools.cache
def engine():
    """The built-in configuration with a message limit of exactly one of the MESSAGES below: lines
    at, just under and just over the limit cross the small buffers of the tests."""
    limit = str(len(MESSAGES[1]))
    return build_engine(load_config(None, env={"ID_MONITOR_LIMITS__MAX_MESSAGE_BYTES": limit}))


def summary_of(data: bytes, chunk_size: int | None = None, sizes: list[int] | None = None) -> object:
    """What `check` reports for `data`, read with buffer `chunk_size` (default: all of it at once)
    from a stream that delivers it in reads of `sizes` (default: as much as asked)."""
    real = files.read_records
    size = chunk_size or len(data) + 1
    stream = io.BytesIO(data) if sizes is None else io.BufferedReader(ShortReads(data, sizes), 8)
    summary = check_command.Summary(show=10_000)
    files.read_records = lambda stream, max_bytes: real(stream, max_bytes, size)
    try:
        check_command._run(engine(), stream, summary, NOW, as_json=False)
    finally:
        files.read_records = real
    return summary


MESSAGES = [
    b'{"thread_id":"thread_websocket_factory_1757372478799_528_584ef8a5","user_id":"test_user_39"}',
    b'{"connection_id":"ws_conn_other_us_1757367656601_1_a2f73ae7","user_id":"test_user_39"}',
    b'{"run_id":"23a7711a-8133-4876-b7eb-dcd9e87a1613"}',
    b'{"thread_id":"undefined"}',
    b"not json",
    b'"a string"',
    b"{" * 10,
    b"",
    b"   ",
]
SEPARATORS = [b"\n", b"\r\n", b"\n\n", b" \n", b",", b", ", b",\n"]


@st.composite
def check_inputs(draw) -> bytes:
    """JSON Lines or a JSON array of realistic messages, with or without a byte-order mark."""
    parts = draw(st.lists(st.sampled_from(MESSAGES), max_size=8))
    separator = draw(st.sampled_from(SEPARATORS))
    body = separator.join(parts)
    if draw(st.booleans()):
        body = b"[" + body + b"]" + draw(st.sampled_from([b"", b"\n", b'\n{"thread_id":"x"}\n']))
    lead = draw(st.sampled_from([b"", b"\n", b"  \n\n", b"\t"]))
    return (BOM if draw(st.booleans()) else b"") + lead + body


@settings(max_examples=200, deadline=None)
@given(data=check_inputs(), chunk_size=st.integers(1, 96), sizes=st.lists(st.integers(1, 40), min_size=1, max_size=6))
def test_check_reports_the_same_whatever_the_buffer_and_the_reads(data, chunk_size, sizes):
    expected = summary_of(data, None, None)
    assert summary_of(data, chunk_size, sizes) == expected
    assert summary_of(data, chunk_size, None) == expected


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 4, 7, 64])
def test_a_leading_byte_order_mark_is_dropped_whatever_the_first_read(chunk_size):
    data = BOM + MESSAGES[2] + b"\n" + MESSAGES[1] + b"\n"
    summary = summary_of(data, chunk_size, [1])
    assert (summary.messages, summary.malformed) == (2, 0)
    assert summary == summary_of(data[len(BOM):], None, None)


@pytest.mark.parametrize("chunk_size", [1, 5, 16, 64, 1 << 16])
@pytest.mark.parametrize("newline", [b"\n", b"\r\n"])
def test_a_line_at_the_limit_parses_and_one_byte_more_is_too_large(chunk_size, newline):
    limit = engine().config.limits.max_message_bytes
    at_limit = MESSAGES[1]
    over = at_limit[:-1] + b" }"
    assert len(at_limit) == limit
    data = at_limit + newline + over + newline + at_limit
    summary = summary_of(data, chunk_size, [chunk_size, 3])
    assert (summary.messages, summary.malformed) == (3, 1)
    assert [line for line, finding in summary.first_warnings + summary.first_violations
            if finding.rule == "malformed"] == [2]
    assert summary == summary_of(data, None, None)
