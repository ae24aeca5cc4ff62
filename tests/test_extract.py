"""decode_message (bounded, reasons for every failure) and path extraction."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from id_monitor.extract import MALFORMED_REASONS, Extractor, MalformedMessage, decode_message


class TestDecode:
    def test_object(self):
        assert decode_message(b'{"a": 1}', 100) == {"a": 1}
        assert decode_message('{"a": "é"}', 100) == {"a": "é"}
        assert decode_message(bytearray(b'{"a": 1}'), 100) == {"a": 1}

    @pytest.mark.parametrize(
        "raw,reason",
        [
            (b"\xff\xfe\x00garbage", "not_utf8"),
            (b'{"a": "\xc3"}', "not_utf8"),
            ('{"a": "\ud800"}', "not_utf8"),
            (b'{"a": ', "not_json"),
            (b"", "not_json"),
            (b"hello", "not_json"),
            (b"[1, 2]", "not_object"),
            (b'"a string"', "not_object"),
            (b"null", "not_object"),
            (b"42", "not_object"),
        ],
    )
    def test_reasons(self, raw, reason):
        with pytest.raises(MalformedMessage) as err:
            decode_message(raw, 1000)
        assert err.value.reason == reason

    def test_size_checked_before_parsing(self):
        raw = b'{"a": "' + b"x" * 2000 + b'"}'
        with pytest.raises(MalformedMessage) as err:
            decode_message(raw, 1000)
        assert err.value.reason == "too_large"
        # garbage of the wrong size is too_large, not not_json: it was never parsed
        with pytest.raises(MalformedMessage) as err:
            decode_message(b"\xff" * 1001, 1000)
        assert err.value.reason == "too_large"

    def test_size_of_text_counts_utf8_bytes(self):
        text = '{"a": "' + "é" * 300 + '"}'  # 310 characters, 610 bytes
        with pytest.raises(MalformedMessage, match="too_large"):
            decode_message(text, 400)
        assert decode_message(text, 700)["a"] == "é" * 300

    def test_depth_limit(self):
        assert decode_message(b'{"a":' * 10 + b"1" + b"}" * 10, 10_000, max_depth=10)
        with pytest.raises(MalformedMessage) as err:
            decode_message(b'{"a":' * 11 + b"1" + b"}" * 11, 10_000, max_depth=10)
        assert err.value.reason == "too_deep"
        deep_list = b'{"a":' + b"[" * 30 + b"]" * 30 + b"}"
        with pytest.raises(MalformedMessage, match="too_deep"):
            decode_message(deep_list, 10_000, max_depth=16)

    def test_many_brackets_but_shallow_is_fine(self):
        # brackets inside strings or side by side do not make a message deep
        message = {"items": [{"a": 1} for _ in range(200)], "text": "{" * 100}
        assert decode_message(orjson.dumps(message), 100_000, max_depth=8)["items"][199] == {"a": 1}

    def test_deeper_than_the_parser_itself_allows(self):
        raw = b"[" * 5000 + b"]" * 5000
        with pytest.raises(MalformedMessage) as err:
            decode_message(b'{"a":' + raw + b"}", 100_000, max_depth=2000)
        assert err.value.reason == "too_deep"

    @settings(max_examples=300, deadline=None)
    @given(st.binary(max_size=200))
    def test_any_bytes_decode_or_give_a_reason(self, raw):
        try:
            assert isinstance(decode_message(raw, 150), dict)
        except MalformedMessage as exc:
            assert exc.reason in MALFORMED_REASONS


FIELDS = {
    "thread_id": ["thread_id", "payload.thread_id", "data.thread_id"],
    "message_id": ["payload.messages.*.id"],
    "tags": ["labels.*"],
    "grid": ["grid.*.*"],
}


def make_extractor() -> Extractor:
    return Extractor(FIELDS, owner_paths=["user_id", "payload.user_id"], type_paths=["type"], max_values=8)


@pytest.fixture()
def extractor():
    return make_extractor()


class TestExtract:
    def test_flat_and_nested_values_in_path_order_without_duplicates(self, extractor):
        found = extractor.extract(
            {"thread_id": "t1", "payload": {"thread_id": "t2"}, "data": {"thread_id": "t1"}}
        )
        assert found.values == {"thread_id": ["t1", "t2"]}

    def test_owner_first_path_wins_and_type(self, extractor):
        found = extractor.extract(
            {"type": "agent_started", "payload": {"user_id": "late"}, "user_id": "first"}
        )
        assert (found.owner, found.message_type) == ("first", "agent_started")
        found = extractor.extract({"payload": {"user_id": "nested"}})
        assert found.owner == "nested" and found.message_type is None

    def test_owner_must_be_a_string_or_integer(self, extractor):
        assert extractor.extract({"user_id": 1234567890}).owner == "1234567890"
        assert extractor.extract({"user_id": {"id": "x"}}).owner is None
        assert extractor.extract({"user_id": True}).owner is None
        assert extractor.extract({"user_id": ["x"], "payload": {"user_id": "y"}}).owner == "y"

    def test_star_walks_list_items(self, extractor):
        message = {
            "payload": {"messages": [{"id": "m1"}, {"text": "no id"}, "not a dict", {"id": "m2"}]},
            "labels": ["a", None, "b"],
            "grid": [["x", "y"], ["z"]],
        }
        found = extractor.extract(message)
        assert found.values["message_id"] == ["m1", "m2"]
        assert found.values["tags"] == ["a", "b"]
        assert found.values["grid"] == ["x", "y", "z"]

    def test_non_string_values_are_kept_for_not_a_string(self, extractor):
        found = extractor.extract({"thread_id": 42, "payload": {"thread_id": {"x": 1}}})
        assert found.values["thread_id"] == [42, {"x": 1}]

    def test_any_mapping_at_the_top(self, extractor):
        from types import MappingProxyType

        assert extractor.extract(MappingProxyType({"thread_id": "t"})).values == {"thread_id": ["t"]}
        assert extractor.extract(["not", "a", "mapping"]).values == {}  # type: ignore[arg-type]

    def test_null_and_wrong_containers_are_absent(self, extractor):
        found = extractor.extract({"thread_id": None, "payload": "a string", "data": [{"thread_id": "x"}]})
        assert found.values == {}

    def test_value_limit_counts_what_was_dropped(self, extractor):
        message = {"payload": {"messages": [{"id": f"m{i}"} for i in range(20)]}}
        found = extractor.extract(message)
        assert len(found.values["message_id"]) == 8
        assert found.dropped > 0

    def test_huge_list_under_star_is_bounded(self, extractor):
        found = extractor.extract({"labels": ["x"] * 1_000_000})
        assert found.values["tags"] == ["x"]
        assert found.dropped > 0  # the walk stopped early and says so

    @settings(max_examples=200, deadline=None)
    @given(
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=5),
            lambda children: (
                st.lists(children, max_size=4)
                | st.dictionaries(
                    st.sampled_from(
                        ["thread_id", "payload", "data", "messages", "id", "labels", "user_id", "x"]
                    ),
                    children,
                    max_size=4,
                )
            ),
            max_leaves=30,
        )
    )
    def test_never_raises_on_any_json_shape(self, value):
        extractor = make_extractor()
        message = value if isinstance(value, dict) else {"payload": value}
        found = extractor.extract(message)
        assert all(v is not None for vals in found.values.values() for v in vals)
