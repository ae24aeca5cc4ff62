"""Compile a Schema into a Matcher: cheap dispatch, one regex call, one builder per variant.

Dispatch (`Matcher.route`, the one routing function): an ID containing `_` is routed by its first
token (the text before the first `_`) to the variants whose template pins that token (e.g.
`ws_conn_...` -> `ws`) plus the variants that accept any first token; an ID without `_` is routed
by its length. Each route (a bucket) holds its variants sorted most-specific-first and joined into
one alternation, each alternative wrapped in its own capturing group. Python's regex engine returns
the first alternative that matches the whole string, so the winner is the most specific matching
variant, and `match.lastindex` (the alternative's outer group, closed last) names it in O(1).

Every segment is bounded in length (so is every template: input longer than a bucket's longest
template is rejected before any regex runs), its own pattern is bounded or deterministic, and a
template holds at most one word-like segment (see template._check_variant), so each alternative
fails or succeeds in time linear in the input; a bucket has a fixed number of alternatives.

Per variant a builder closure turns the match groups into an IdInfo: the group numbers of owner,
timestamp, counter and parts are worked out once at compile time, so building is a few indexed
reads and one tuple construction. A builder returns None when a check the regex cannot express
fails (KSUID overflow, Snowflake width); the bucket then tries the remaining alternatives one by one.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Callable
from types import MappingProxyType
from typing import Any, NamedTuple

from id_monitor.model import EMPTY_PARTS, IdInfo
from id_monitor.schema.model import Schema, Variant

Builder = Callable[[re.Match[str]], IdInfo | None]

NO_MATCH = IdInfo(status="unknown", reason="no_match")
# Lengths up to this get their own no-underscore bucket; longer bounded variants go generic.
_MAX_LENGTH_BUCKET = 512
_new_info = tuple.__new__  # IdInfo from a ready tuple in one C call (NamedTuple's __new__ is Python)


def _group_pattern(variant: Variant) -> tuple[str, dict[str, int]]:
    """Regex of one variant with a capturing group per named segment; returns group offsets
    (1-based, relative to the variant's own outer group)."""
    parts: list[str] = []
    groups: dict[str, int] = {}
    for seg in variant.segments:
        if seg.name is None:
            parts.append(seg.regex())
        else:
            groups[seg.name] = len(groups) + 1
            parts.append(f"({seg.regex()})")
    return "".join(parts), groups


def plain_pattern(variant: Variant) -> str:
    """Regex of one variant without capturing groups (for the benchmark floor)."""
    return "".join(seg.regex() if seg.name is None else f"(?:{seg.regex()})" for seg in variant.segments)


def _make_builder(variant: Variant, outer: int, groups: dict[str, int]) -> Builder:
    """`build(m) -> IdInfo | None` for a variant whose outer group is `outer`."""
    fmt = variant.format
    status, name = fmt.status, fmt.name
    fixed_type = fmt.id_type
    type_group = outer + groups[fmt.id_type_segment] if fmt.id_type_segment is not None else 0
    owner_group = ts_group = counter_group = 0
    ts_scale = 1  # seconds -> ms; multiplied only when not 1: epoch times are multi-digit ints
    plain: list[tuple[str, int]] = []
    decoders: list[tuple[int, Callable[[str], Any]]] = []
    for seg in variant.segments:
        if seg.name is None:
            continue
        group = outer + groups[seg.name]
        if seg.role == "owner":
            owner_group = group
        elif seg.role == "timestamp":
            ts_group = group
            ts_scale = 1 if getattr(seg, "unit", "ms") == "ms" else 1000
        elif seg.role == "counter":
            counter_group = group
        elif seg.role == "standard":
            decoders.append((group, seg.codec.decode))  # type: ignore[attr-defined]
        else:
            plain.append((seg.name, group))

    if decoders:
        def build_decoded(m: re.Match[str]) -> IdInfo | None:
            parts = {key: m[group] for key, group in plain}
            ts = (int(m[ts_group]) if ts_scale == 1 else int(m[ts_group]) * ts_scale) if ts_group else None
            for group, decode in decoders:
                decoded = decode(m[group])
                if decoded is None:
                    return None
                if ts is None:
                    ts = decoded[0]
                parts.update(decoded[1])
            return _new_info(IdInfo, (
                status, name, m[type_group] if type_group else fixed_type, m[owner_group] if owner_group else None,
                ts, int(m[counter_group]) if counter_group else None, None,
                MappingProxyType(parts) if parts else EMPTY_PARTS))

        return build_decoded

    # dict displays for the usual one to three parts: a comprehension creates a function and a
    # frame per call, which costs more than the regex match of the ID
    if len(plain) == 1:
        (key1, group1), = plain

        def parts_of(m: re.Match[str]) -> Any:
            return MappingProxyType({key1: m[group1]})
    elif len(plain) == 2:
        (key1, group1), (key2, group2) = plain

        def parts_of(m: re.Match[str]) -> Any:
            return MappingProxyType({key1: m[group1], key2: m[group2]})
    elif len(plain) == 3:
        (key1, group1), (key2, group2), (key3, group3) = plain

        def parts_of(m: re.Match[str]) -> Any:
            return MappingProxyType({key1: m[group1], key2: m[group2], key3: m[group3]})
    elif plain:
        def parts_of(m: re.Match[str]) -> Any:
            return MappingProxyType({key: m[group] for key, group in plain})
    else:
        def parts_of(m: re.Match[str]) -> Any:
            return EMPTY_PARTS

    if not type_group and not owner_group and ts_group and counter_group and ts_scale == 1:
        # The commonest target shape (`thread_{ts_ms}_{counter}_{hex}`): no branch at run time.
        def build_stamped(m: re.Match[str]) -> IdInfo:
            return _new_info(IdInfo, (status, name, fixed_type, None, int(m[ts_group]),
                                      int(m[counter_group]), None, parts_of(m)))

        return build_stamped

    def build(m: re.Match[str]) -> IdInfo:
        return _new_info(IdInfo, (
            status, name, m[type_group] if type_group else fixed_type, m[owner_group] if owner_group else None,
            (int(m[ts_group]) if ts_scale == 1 else int(m[ts_group]) * ts_scale) if ts_group else None,
            int(m[counter_group]) if counter_group else None,
            None, parts_of(m)))

    return build


class Route(NamedTuple):
    """One dispatch route: the bucket's fullmatch, its builders by outer group, its longest ID."""

    fullmatch: Callable[[str], re.Match[str] | None]
    builders: list[Builder | None]
    max_length: int
    bucket: Bucket


class Bucket:
    """Variants sharing a dispatch route, joined into one most-specific-first alternation."""

    def __init__(self, variants: list[Variant]) -> None:
        self.variants = sorted(variants, key=lambda v: v.precedence)
        alternatives: list[str] = []
        self._builders: list[Builder | None] = [None]  # indexed by outer group number
        self._position: list[int] = [0]
        self._singles: list[tuple[re.Pattern[str], Builder]] = []
        for pos, variant in enumerate(self.variants):
            body, groups = _group_pattern(variant)
            outer = len(self._builders)
            alternatives.append(f"({body})")
            self._builders.append(_make_builder(variant, outer, groups))
            self._builders.extend([None] * len(groups))
            self._position.extend([pos] * (1 + len(groups)))
            self._singles.append((re.compile(f"({body})"), _make_builder(variant, 1, groups)))
        self.pattern = re.compile("|".join(alternatives)) if alternatives else None
        self._fullmatch = self.pattern.fullmatch if self.pattern is not None else None
        self.max_length = max((v.length[1] for v in self.variants), default=0)

    def route(self) -> Route:
        """What Matcher.match needs of this bucket, unpacked once."""
        fullmatch = self._fullmatch or _NEVER.fullmatch
        return Route(fullmatch, self._builders, self.max_length if self.variants else -1, self)

    def variant_at(self, index: int) -> Variant:
        """The variant whose outer group is `index`."""
        return self.variants[self._position[index]]

    def continue_after(self, text: str, index: int) -> IdInfo:
        """The alternative at outer group `index` matched but its builder rejected the value (a
        check beyond the regex failed): try the less specific alternatives one by one."""
        for pattern, build in self._singles[self._position[index] + 1 :]:
            m = pattern.fullmatch(text)
            if m is not None:
                info = build(m)
                if info is not None:
                    return info
        return NO_MATCH


_NEVER = re.compile("(?!)")


_COMPILED: weakref.WeakKeyDictionary[Schema, Matcher] = weakref.WeakKeyDictionary()
_COMPILING = threading.Lock()


class Matcher:
    """Routes a string to its bucket and returns the IdInfo of the most specific match."""

    @classmethod
    def for_schema(cls, schema: Schema) -> Matcher:
        """The schema's matcher, compiled once per schema object (tens of milliseconds) and shared
        by every classifier of it; it goes when the schema does."""
        with _COMPILING:
            matcher = _COMPILED.get(schema)
            if matcher is None:
                matcher = _COMPILED[schema] = cls(schema)
            return matcher

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        variants = schema.variants
        underscore = [v for v in variants if v.may_underscore]
        generic_us = [v for v in underscore if v.lead_tokens() is None]
        tokens: dict[str, list[Variant]] = {}
        for v in underscore:
            for token in v.lead_tokens() or ():
                tokens.setdefault(token, []).append(v)
        shared: dict[tuple[int, ...], Bucket] = {}

        def bucket(vs: list[Variant]) -> Bucket:
            key = tuple(sorted(id(v) for v in vs))  # identical variant sets share one compiled bucket
            if key not in shared:
                shared[key] = Bucket(vs)
            return shared[key]

        self._by_token = {t: bucket(vs + generic_us) for t, vs in tokens.items()}
        self._underscore_default = bucket(generic_us)

        plain = [v for v in variants if not v.always_underscore]
        plain_generic = [v for v in plain if v.length[1] > _MAX_LENGTH_BUCKET]  # e.g. long tokens
        lengths: dict[int, list[Variant]] = {}
        for v in plain:
            lo, hi = v.length
            if hi <= _MAX_LENGTH_BUCKET:
                for n in range(lo, hi + 1):
                    lengths.setdefault(n, []).append(v)
        self._by_length = {n: bucket(vs + plain_generic) for n, vs in lengths.items()}
        self._plain_default = bucket(plain_generic)
        self._buckets = list({id(b): b for b in shared.values()}.values())
        token_routes = {t: b.route() for t, b in self._by_token.items()}
        length_routes = {n: b.route() for n, b in self._by_length.items()}
        underscore_route, plain_route = self._underscore_default.route(), self._plain_default.route()

        def route(text: str) -> Route:
            """The bucket that may hold `text`'s format: by first token, else by length."""
            cut = text.find("_")
            if cut >= 0:
                return token_routes.get(text[:cut], underscore_route)
            return length_routes.get(len(text), plain_route)

        self.route: Callable[[str], Route] = route
        token_fields = {t: tuple(r) for t, r in token_routes.items()}
        length_fields = {n: tuple(r) for n, r in length_routes.items()}
        underscore_fields, plain_fields = tuple(underscore_route), tuple(plain_route)

        def match(text: str) -> IdInfo:
            """IdInfo for a non-empty str (length limits are the caller's business)."""
            # `route` inlined: this is the cold path of every new ID, and a call costs ~5% of it.
            cut = text.find("_")
            # a Route is a named tuple, whose unpacking the interpreter does not specialise: the
            # plain tuple of its fields is kept beside it
            if cut >= 0:
                fullmatch, builders, max_length, bucket = token_fields.get(text[:cut], underscore_fields)
            else:
                fullmatch, builders, max_length, bucket = length_fields.get(len(text), plain_fields)
            if len(text) > max_length:
                return NO_MATCH
            m = fullmatch(text)
            if m is None:
                return NO_MATCH
            index = m.lastindex
            info = builders[index](m)  # type: ignore[index, misc]
            return info if info is not None else bucket.continue_after(text, index)  # type: ignore[arg-type]

        self.match: Callable[[str], IdInfo] = match

    def buckets(self) -> list[Bucket]:
        """Every distinct compiled bucket."""
        return list(self._buckets)

    def find(self, text: str) -> tuple[Variant, re.Match[str]] | None:
        """The most specific variant whose regex matches `text`, with the match: routing and
        matching without building an IdInfo (for inspection and for the benchmark's breakdown).
        Checks beyond the regex (KSUID overflow, Snowflake width) are not applied."""
        fullmatch, _, max_length, bucket = self.route(text)
        m = fullmatch(text) if len(text) <= max_length else None
        return None if m is None else (bucket.variant_at(m.lastindex), m)  # type: ignore[arg-type]
