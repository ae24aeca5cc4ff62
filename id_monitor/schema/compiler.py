"""Compile a Schema into a Matcher: cheap dispatch, one regex call, one generated builder.

Dispatch: an ID containing `_` is routed by its first token (the text before the first `_`) to
the variants whose template pins that token (e.g. `ws_conn_...` -> `ws`) plus the variants that
accept any first token; an ID without `_` is routed by its length. Each route (a bucket) holds
its variants sorted most-specific-first and joined into one alternation, each alternative wrapped
in its own capturing group. Python's regex engine returns the first alternative that matches the
whole string, so the winner is the most specific matching variant, and `match.lastindex` (the
alternative's outer group, closed last) names it in O(1).

Every segment is bounded in length (so is every template: input longer than a bucket's longest
template is rejected before any regex runs), its own pattern is bounded or deterministic, and a
template holds at most one word-like segment (see template._check_variant), so each alternative
fails or succeeds in time linear in the input; a bucket has a fixed number of alternatives.

Per variant a small builder function is generated from source (like dataclasses and namedtuple
do) that turns the match groups into an IdInfo without loops or dict look-ups; this keeps a cold
classification close to the cost of the regex call itself. A builder returns None when a check the
regex cannot express fails (KSUID overflow, Snowflake width); the bucket then tries the remaining
alternatives one by one.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

from id_monitor.model import IdInfo
from id_monitor.schema.model import Schema, Variant

Builder = Callable[[re.Match[str]], IdInfo | None]

NO_MATCH = IdInfo(status="unknown", reason="no_match")
_EMPTY_PARTS: Any = MappingProxyType({})
# Lengths up to this get their own no-underscore bucket; longer bounded variants go generic.
_MAX_LENGTH_BUCKET = 512


# IdInfo is a frozen dataclass: its generated __init__ sets every field through
# object.__setattr__, which costs more than the regex match itself. Builders instead fill an
# instance of a plain slotted twin class with the very same slot layout (plain attribute stores)
# and then switch its __class__ to IdInfo, which CPython allows for identical layouts. The result
# is an ordinary, complete IdInfo (type, equality, hash, immutability all as usual).
class _IdInfoTwin:
    __slots__ = IdInfo.__slots__


assert set(IdInfo.__slots__) == {f.name for f in dataclasses.fields(IdInfo)}, "IdInfo must stay a slots dataclass"


_FAST_NEW_ENV: dict[str, Any] = {"IdInfo": IdInfo, "Twin": _IdInfoTwin, "new": object.__new__}


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
    """Generate `build(m) -> IdInfo | None` for a variant whose outer group is `outer`."""
    fmt = variant.format
    env: dict[str, Any] = {**_FAST_NEW_ENV, "MP": MappingProxyType, "EMPTY": _EMPTY_PARTS}
    lines = ["def build(m):"]
    owner = timestamp = counter = "None"
    parts: list[str] = []
    for seg in variant.segments:
        if seg.name is None:
            continue
        g = f"m[{outer + groups[seg.name]}]"
        if seg.role == "owner":
            owner = g
        elif seg.role == "timestamp":
            timestamp = f"int({g})" if getattr(seg, "unit", "ms") == "ms" else f"int({g}) * 1000"
        elif seg.role == "counter":
            counter = f"int({g})"
        elif seg.role == "standard":
            var = f"d_{seg.name}"
            env[f"decode_{seg.name}"] = seg.codec.decode  # type: ignore[attr-defined]
            lines.append(f"    {var} = decode_{seg.name}({g})")
            lines.append(f"    if {var} is None: return None")
            if timestamp == "None":
                timestamp = f"{var}[0]"
            parts.append(f"**{var}[1]")
        else:
            parts.append(f"{seg.name!r}: {g}")
    if fmt.id_type_segment is not None:
        id_type = f"m[{outer + groups[fmt.id_type_segment]}]"
    else:
        id_type = repr(fmt.id_type)
    if len(parts) == 1 and parts[0].startswith("**"):
        parts_expr = f"MP({parts[0][2:]})"  # the decoder's own fresh dict, no copy
    else:
        parts_expr = f"MP({{{', '.join(parts)}}})" if parts else "EMPTY"
    values = {"status": repr(fmt.status), "format": repr(fmt.name), "id_type": id_type, "owner": owner,
              "timestamp_ms": timestamp, "counter": counter, "reason": "None", "parts": parts_expr}
    lines.append("    info = new(Twin)")
    for field in dataclasses.fields(IdInfo):
        if field.name not in values:  # a field added to IdInfo later: its declared default
            env[f"default_{field.name}"] = field.default_factory if field.default is dataclasses.MISSING \
                else (lambda value=field.default: value)
            values[field.name] = f"default_{field.name}()"
        lines.append(f"    info.{field.name} = {values[field.name]}")
    lines.append("    info.__class__ = IdInfo")
    lines.append("    return info")
    exec("\n".join(lines), env)  # noqa: S102 - source built above from validated schema values only
    return env["build"]  # type: ignore[no-any-return]


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

    def route(self) -> tuple[Callable[[str], re.Match[str] | None], list[Builder | None], int, Bucket]:
        """What Matcher.match needs, unpacked once: (fullmatch, builders by group, max length, self)."""
        fullmatch = self._fullmatch or _NEVER.fullmatch
        return fullmatch, self._builders, self.max_length if self.variants else -1, self

    def match(self, text: str) -> IdInfo:
        if self._fullmatch is None or len(text) > self.max_length:
            return NO_MATCH
        m = self._fullmatch(text)
        if m is None:
            return NO_MATCH
        info = self._builders[m.lastindex](m)  # type: ignore[index, misc]
        return info if info is not None else self.continue_after(text, m.lastindex)  # type: ignore[arg-type]

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


class Matcher:
    """Routes a string to its bucket and returns the IdInfo of the most specific match."""

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
        self._token_routes = {t: b.route() for t, b in self._by_token.items()}
        self._length_routes = {n: b.route() for n, b in self._by_length.items()}
        self._underscore_route = self._underscore_default.route()
        self._plain_route = self._plain_default.route()
        self._buckets = list({id(b): b for b in shared.values()}.values())
        # match(text) -> IdInfo for a non-empty str (length limits are the caller's business).
        self.match: Callable[[str], IdInfo] = self._make_match()

    def buckets(self) -> list[Bucket]:
        """Every distinct compiled bucket."""
        return list(self._buckets)

    def find(self, text: str) -> tuple[Variant, re.Match[str]] | None:
        """The most specific variant whose regex matches `text`, with the match: routing and
        matching without building an IdInfo (for inspection and for the benchmark's breakdown).
        Checks beyond the regex (KSUID overflow, Snowflake width) are not applied."""
        cut = text.find("_")
        if cut >= 0:
            fullmatch, _, max_length, bucket = self._token_routes.get(text[:cut], self._underscore_route)
        else:
            fullmatch, _, max_length, bucket = self._length_routes.get(len(text), self._plain_route)
        m = fullmatch(text) if len(text) <= max_length else None
        return None if m is None else (bucket.variant_at(m.lastindex), m)  # type: ignore[arg-type]

    def _make_match(self) -> Callable[[str], IdInfo]:
        """The cold path as one closure over the routing tables (Bucket.match inlined), so a
        classification costs one Python frame besides the generated builder."""
        token_routes, length_routes = self._token_routes, self._length_routes
        underscore_route, plain_route = self._underscore_route, self._plain_route

        def match(text: str) -> IdInfo:
            cut = text.find("_")
            if cut >= 0:
                fullmatch, builders, max_length, bucket = token_routes.get(text[:cut], underscore_route)
            else:
                fullmatch, builders, max_length, bucket = length_routes.get(len(text), plain_route)
            if len(text) > max_length:
                return NO_MATCH
            m = fullmatch(text)
            if m is None:
                return NO_MATCH
            index = m.lastindex
            info = builders[index](m)  # type: ignore[index, misc]
            return info if info is not None else bucket.continue_after(text, index)  # type: ignore[arg-type]

        return match
