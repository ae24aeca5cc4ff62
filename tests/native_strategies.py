"""Hypothesis strategies for the differential tests: IDs rendered from every format of a schema
(plus hostile near-misses) and messages (the traffic generator, random JSON, broken bytes)."""

from __future__ import annotations

import json

import orjson
from hypothesis import strategies as st

from id_monitor.schema import Schema
from id_monitor.schema.segments import Counter, Literal, Owner, Standard, Word

TOKEN = st.from_regex(r"[a-z0-9]{0,6}[a-z][a-z0-9]{0,6}", fullmatch=True)
WORD = st.lists(TOKEN, min_size=1, max_size=3).map("_".join)
HOSTILE_CHARS = st.sampled_from(list("_-.@:+ /\\\n\t\x00") + ["\ud800", "\udfff", "é", "٣", "𝟘", "ß", "İ", "K",
                                                                  "\u212a", "Ａ", "\U0001f600"])


def segment_value(seg):  # type: ignore[no-untyped-def]
    if isinstance(seg, Word):
        return WORD
    if isinstance(seg, Counter):
        return st.integers(0, 10**19 - 1) | st.integers(0, 999)
    if isinstance(seg, Owner):
        return st.from_regex(seg.regex(), fullmatch=True)
    if isinstance(seg, Standard):
        return st.from_regex(f"(?:{seg.codec.regex()})", fullmatch=True)  # type: ignore[union-attr]
    return st.from_regex(f"(?:{seg.regex()})", fullmatch=True)


@st.composite
def rendered_id(draw, schema: Schema, format_name: str | None = None) -> str:  # type: ignore[no-untyped-def]
    """An ID rendered by Schema.render from one variant of one format (values drawn per segment)."""
    variants = schema.format(format_name).variants if format_name else schema.variants
    variant = draw(st.sampled_from(variants))
    values = {s.name: draw(segment_value(s)) for s in variant.segments if s.name and not isinstance(s, Literal)}
    try:
        return schema.render(variant.format.name, **values)
    except ValueError:
        # a value render refuses (KSUID above 2**160-1, Snowflake too wide): the raw text, a near miss
        return "".join(str(values[s.name]) if s.name else s.render() for s in variant.segments)


@st.composite
def mutated(draw, base: st.SearchStrategy[str]) -> str:  # type: ignore[no-untyped-def]
    """A near-miss: a rendered ID with characters replaced, inserted, dropped, or case changed."""
    text = draw(base)
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["replace", "insert", "delete", "upper", "cut", "double"]))
        at = draw(st.integers(0, max(len(text) - 1, 0)))
        ch = draw(HOSTILE_CHARS | st.characters(codec="ascii"))
        if op == "replace" and text:
            text = text[:at] + ch + text[at + 1:]
        elif op == "insert":
            text = text[:at] + ch + text[at:]
        elif op == "delete" and text:
            text = text[:at] + text[at + 1:]
        elif op == "upper":
            text = text.upper() if draw(st.booleans()) else text[:at] + text[at:].upper()
        elif op == "cut":
            text = text[:at]
        elif op == "double":
            text = text + text[at:]
    return text


def any_id(schema: Schema) -> st.SearchStrategy[str]:
    rendered = rendered_id(schema)
    return st.one_of(
        rendered,
        mutated(rendered),
        st.text(max_size=40),
        st.text(alphabet="abcdef0123456789_-ABCDEFGHJKMNPQRSTVWXYZxyz", max_size=60),
        st.text(alphabet="0123456789", min_size=10, max_size=22),
        st.lists(WORD | st.text(alphabet="0123456789abcdef", min_size=1, max_size=16), min_size=1, max_size=6)
        .map("_".join),
        st.text(alphabet="a_1", min_size=200, max_size=400),
        st.text(st.characters(codec=None, categories=None), max_size=20),
    )


JSON_SCALAR = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False,
                                                                                  allow_infinity=False)


def json_value(ids: st.SearchStrategy[str]) -> st.SearchStrategy[object]:
    leaf = JSON_SCALAR | ids | st.text(max_size=10)
    return st.recursive(leaf, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["id", "thread_id", "x", "messages", "user_id"]) | st.text(max_size=5), inner,
        max_size=4), max_leaves=12)


@st.composite
def envelope(draw, schema: Schema, fields: list[str]) -> dict:  # type: ignore[no-untyped-def]
    """A message shaped like the configured envelope: ID fields flat, under payload/data, in lists."""
    ids = any_id(schema)
    value = st.one_of(ids, ids, ids, json_value(ids), st.lists(ids | JSON_SCALAR, max_size=4))
    message: dict = {}
    for name in draw(st.lists(st.sampled_from(fields), max_size=8)):
        where = draw(st.sampled_from(["", "payload", "data"]))
        target = message if not where else message.setdefault(where, {})
        if isinstance(target, dict):
            target[name] = draw(value)
    if draw(st.booleans()):
        message["user_id"] = draw(st.sampled_from(["user_1757000001", "user_1757000002", "test_user_long_id",
                                                   "u1", ""]) | st.integers(0, 10) | st.booleans() | ids)
    if draw(st.booleans()):
        message[draw(st.sampled_from(["type", "event_type"]))] = draw(
            st.sampled_from(["connection_established", "agent_started", "x"]) | JSON_SCALAR)
    if draw(st.booleans()):
        message["payload"] = message.get("payload") if isinstance(message.get("payload"), dict) else {}
        message["payload"]["messages"] = draw(st.lists(st.fixed_dictionaries({"id": ids}) | JSON_SCALAR,
                                                       max_size=12))
    return message


def dumps(value: object) -> bytes:
    """orjson's encoding; what orjson refuses (lone surrogates, ints beyond 64 bits) as escaped
    JSON from the standard library, which the decoder must then judge."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value).encode()


def message_bytes(schema: Schema, fields: list[str]) -> st.SearchStrategy[bytes | None]:
    """Raw messages: encoded envelopes, random JSON documents, broken and hostile bytes."""
    good = envelope(schema, fields).map(dumps)
    return st.one_of(
        good, good, good,
        json_value(st.text(max_size=8)).map(dumps),
        st.binary(max_size=40),
        good.flatmap(lambda b: st.integers(0, len(b)).map(lambda n: b[:n])),
        good.map(lambda b: b.replace(b'"', b"\xff", 1)),
        st.integers(1, 80).map(lambda n: b'{"a":' + b"[" * n + b"]" * n + b"}"),
        st.integers(1020, 1030).map(lambda n: b'{"a":' + b"[" * n + b"]" * n + b"}"),
        st.integers(1, 40).map(lambda n: b'{"thread_id":"x"' + b" " * (n * 40) + b"}"),
        st.sampled_from([b"", b" ", b"[]", b"1", b'"s"', b"null", b"\xef\xbb\xbf{}", b'{"a":1}x', b"{}\x00",
                         b'{"a":1e400}', b'{"a":-0}', b'{"user_id":-0}', b'{"user_id":18446744073709551616}',
                         b'{"thread_id":"\\ud800"}', b'{"thread_id":"\\u0000"}', b'{"a":1,"a":null}',
                         b'{"thread_id":"a","thread_id":"thread_x_1_abcdef12"}']),
        st.none(),
    )
