"""The streaming record reader behind `check`: JSON Lines and JSON arrays, bounded, line-numbered."""

from __future__ import annotations

import io
import json

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from id_monitor.sources.files import read_records


def records(data: bytes, max_bytes: int = 1000, chunk_size: int = 7) -> list:
    return list(read_records(io.BytesIO(data), max_bytes, chunk_size))


class TestJsonLines:
    def test_lines_blank_lines_crlf_and_last_line_without_newline(self):
        data = b'{"a":1}\n\n  \n{"b":2}\r\nnot json\n{"c":3}'
        assert records(data) == [
            (1, b'{"a":1}', None),
            (4, b'{"b":2}', None),
            (5, b"not json", None),
            (6, b'{"c":3}', None),
        ]

    def test_too_long_line_is_skipped_to_its_end(self):
        data = b'{"a":1}\n' + b"x" * 5000 + b"\n" + b'{"b":2}\n'
        assert records(data, max_bytes=100) == [
            (1, b'{"a":1}', None),
            (2, None, "too_large"),
            (3, b'{"b":2}', None),
        ]

    def test_line_of_exactly_max_bytes_is_kept(self):
        line = b'{"a":"' + b"x" * 92 + b'"}'
        assert len(line) == 100
        assert records(line + b"\r\n" + line, max_bytes=100) == [(1, line, None), (2, line, None)]
        assert records(line + b"x\n", max_bytes=100) == [(1, None, "too_large")]

    def test_bom_and_leading_blank_chunks(self):
        assert records(b"\xef\xbb\xbf" + b"\n" * 50 + b'{"a":1}\n') == [(51, b'{"a":1}', None)]

    def test_empty(self):
        assert records(b"") == [] and records(b"\n\n") == []


class TestJsonArray:
    def test_pretty_printed_array_with_line_numbers(self):
        data = json.dumps([{"a": 'x\\"]}'}, 1, [2], {"b": {"c": [1, 2]}}], indent=2).encode()
        got = records(data)
        assert [line for line, _, _ in got] == [2, 5, 6, 9]
        assert [orjson.loads(raw) for _, raw, _ in got] == [{"a": 'x\\"]}'}, 1, [2], {"b": {"c": [1, 2]}}]

    def test_truncated_array(self):
        assert records(b'[{"a":1},\n{"b":') == [(1, b'{"a":1}', None), (2, None, "truncated")]
        assert records(b'[{"a":1},') == [(1, b'{"a":1}', None), (1, None, "truncated")]

    def test_oversized_element_is_skipped_and_the_rest_read(self):
        data = b'[{"a":1}, {"z":"' + b"y" * 5000 + b'"}, {"c":3}]\n{"after":1}\n'
        assert records(data, max_bytes=100) == [
            (1, b'{"a":1}', None),
            (1, None, "too_large"),
            (1, b'{"c":3}', None),
            (2, b'{"after":1}', None),
        ]

    def test_empty_and_odd_elements(self):
        assert records(b"[]") == []
        assert records(b"[1,,2]") == [(1, b"1", None), (1, b"", None), (1, b"2", None)]

    @settings(max_examples=150, deadline=None)
    @given(
        st.lists(
            st.recursive(
                # orjson reads integers within 64 bits exactly (larger ones become floats)
                st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text(max_size=8),
                lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=4), c, max_size=3),
                max_leaves=12,
            ),
            max_size=8,
        ),
        st.sampled_from([None, 1, 2]),
        st.integers(1, 64),
    )
    def test_round_trip(self, items, indent, chunk_size):
        data = json.dumps(items, indent=indent).encode()
        got = records(data, max_bytes=100_000, chunk_size=chunk_size)
        assert [orjson.loads(raw) for _, raw, _ in got] == items
        lines = data.split(b"\n")
        for line, raw, _ in got:  # each element starts on the line reported
            assert raw.split(b"\n")[0] in lines[line - 1]

    @pytest.mark.parametrize("chunk_size", [1, 3, 64, 1 << 16])
    def test_escapes_across_chunk_boundaries(self, chunk_size):
        items = [{"k": 'a\\"b'}, {"k": "\\\\"}, {"k": "]}[{,"}]
        data = json.dumps(items).encode()
        got = records(data, chunk_size=chunk_size)
        assert [orjson.loads(raw) for _, raw, _ in got] == items


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.booleans(), st.integers(8, 64), st.integers(1, 32))
def test_any_bytes_give_bounded_records_with_valid_line_numbers(data, as_array, max_bytes, chunk_size):
    if as_array:
        data = b"[" + data
    got = records(data, max_bytes=max_bytes, chunk_size=chunk_size)
    last_line = data.count(b"\n") + 1
    for line, raw, problem in got:
        assert 1 <= line <= last_line
        assert (raw is None) == (problem is not None)
        assert raw is None or len(raw) <= max_bytes
        assert problem in (None, "too_large", "truncated")
