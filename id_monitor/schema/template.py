"""Template text -> segment sequences.

Grammar: literal text, `{name}` or `{name:type}` or `{name:type(args)}` segments, and `[...]`
optional groups (nestable). `{{ }} [[ ]]` are literal braces/brackets. A template with k optional
groups expands to its variants (at most 2**k, capped), each a plain tuple of segments.

Segment types: word, enum(a|b), owner / owner(N), ts / ts_ms / ts_s, counter, digits(A-B),
hex(N) / hex(A-B) / hex(A-B,even) / hex(N,case=upper|any), token / token(A-B) / token(A-B, chars=...), and the builtin standard formats uuid(...),
ulid, typeid(prefix=...), ksuid, snowflake(...). `{name}` alone means the type of the same
name when there is one (`{owner}`, `{ts}`, `{counter}`, `{hex}` = hex(8), `{uuid}`...), else word.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from typing import Any

from id_monitor.schema.builtin import CODECS
from id_monitor.schema.segments import (
    DEFAULT_OWNER_CHARS,
    DEFAULT_TOKEN_CHARS,
    Counter,
    Digits,
    Enum,
    Hex,
    Literal,
    Owner,
    Segment,
    Standard,
    Timestamp,
    Token,
    Word,
    char_class,
)

MAX_OPTIONAL_GROUPS = 4
_NAME_RE = re.compile(r"[a-z][a-z0-9_]*")
_SPEC_RE = re.compile(r"([a-z_]+)(?:\((.*)\))?", re.DOTALL)
_RANGE_RE = re.compile(r"(\d+)(?:-(\d+))?")
_SIMPLE_TYPES = {"word", "owner", "ts", "ts_ms", "ts_s", "counter", "digits", "hex", "token", "enum", *CODECS}


class TemplateError(ValueError):
    """A problem in one template; the loader adds the file and format names."""


def _parse_args(text: str | None) -> tuple[list[str], dict[str, str]]:
    if not text:
        return [], {}
    positional, keyword = [], {}
    for raw in text.split(","):
        item = raw.strip()
        if "=" in item:
            key, _, value = item.partition("=")
            keyword[key.strip()] = value.strip()
        elif item:
            positional.append(item)
    return positional, keyword


def _coerce(value: Any) -> Any:
    """Option values from template text are strings; YAML options arrive typed already."""
    if not isinstance(value, str):
        return value
    low = value.lower()
    if low in ("true", "false"):
        return low == "true"
    if re.fullmatch(r"-?\d+", value):
        return int(value)
    return value


def _range(text: str, what: str) -> tuple[int, int]:
    m = _RANGE_RE.fullmatch(text.strip())
    if not m:
        raise TemplateError(f"{what} length must be N or A-B, got {text!r}")
    lo = int(m.group(1))
    hi = int(m.group(2)) if m.group(2) else lo
    if not 1 <= lo <= hi <= 256:
        raise TemplateError(f"{what} length range {text!r} must satisfy 1 <= A <= B <= 256")
    return lo, hi


def make_segment(name: str, type_name: str, positional: list[str], options: Mapping[str, Any],
                 owner_width: int, owner_chars: str = DEFAULT_OWNER_CHARS) -> Segment:
    """Build one typed segment; raises TemplateError on unknown types or bad options."""
    opts = {k: _coerce(v) for k, v in options.items()}

    def no_options() -> None:
        if positional or opts:
            raise TemplateError(f"segment {name!r}: type {type_name!r} takes no options")

    if type_name == "word":
        no_options()
        return Word(name)
    if type_name == "enum":
        choices = tuple(c.strip() for c in "|".join(positional).split("|") if c.strip())
        choices = choices or tuple(str(c) for c in opts.get("choices", ()))
        if not choices:
            raise TemplateError(f"segment {name!r}: enum needs choices, e.g. enum(user|session)")
        for choice in choices:
            if not re.fullmatch(r"[A-Za-z0-9_.-]+", choice):
                raise TemplateError(f"segment {name!r}: enum choice {choice!r} has unsupported characters")
        return Enum(name, choices=choices)
    if type_name == "owner":
        width = int(positional[0]) if positional else int(opts.pop("width", owner_width))
        min_width = int(opts.pop("min_width", 1))
        chars = str(opts.pop("chars", owner_chars))
        if opts:
            raise TemplateError(f"segment {name!r}: unknown owner options {sorted(opts)}")
        if not 1 <= min_width <= width <= 64:
            raise TemplateError(f"segment {name!r}: owner width must satisfy 1 <= min_width <= width <= 64")
        try:
            char_class(chars)
        except ValueError as exc:
            raise TemplateError(f"segment {name!r}: owner {exc}") from None
        return Owner(name, width=width, min_width=min_width, chars=chars)
    if type_name in ("ts", "ts_ms", "ts_s"):
        no_options()
        return Timestamp(name, unit="s" if type_name == "ts_s" else "ms")
    if type_name == "counter":
        no_options()
        return Counter(name)
    if type_name == "hex":
        even = bool(opts.pop("even", False)) or "even" in positional
        sizes = [p for p in positional if p != "even"]
        case = str(opts.pop("case", "lower"))
        if opts:
            raise TemplateError(f"segment {name!r}: unknown hex options {sorted(opts)}")
        if case not in ("lower", "upper", "any"):
            raise TemplateError(f"segment {name!r}: hex case must be lower, upper or any, got {case!r}")
        lo, hi = _range(sizes[0], "hex") if sizes else (8, 8)
        if even and (lo % 2 or hi % 2):
            raise TemplateError(f"segment {name!r}: hex(..., even) needs even bounds")
        return Hex(name, min_len=lo, max_len=hi, even=even, case=case)
    if type_name == "token":
        lo, hi = _range(positional[0], "token") if positional else (1, 64)
        chars = str(opts.pop("chars", DEFAULT_TOKEN_CHARS))
        if opts or len(positional) > 1:
            raise TemplateError(f"segment {name!r}: token takes a length and chars=... only")
        try:
            char_class(chars)
        except ValueError as exc:
            raise TemplateError(f"segment {name!r}: token {exc}") from None
        return Token(name, min_len=lo, max_len=hi, chars=chars)
    if type_name == "digits":
        if opts or len(positional) > 1:
            raise TemplateError(f"segment {name!r}: digits takes a length only, e.g. digits(1-5)")
        lo, hi = _range(positional[0], "digits") if positional else (1, 5)
        if hi > 19:
            raise TemplateError(f"segment {name!r}: digits length must be at most 19")
        return Digits(name, min_len=lo, max_len=hi)
    if type_name in CODECS:
        if positional:
            raise TemplateError(f"segment {name!r}: {type_name} options must be key=value")
        if type_name == "uuid":
            versions = opts.pop("versions", opts.pop("version", None))
            if versions is not None:
                opts["versions"] = tuple(int(v) for v in str(versions).split("|"))
                if not all(1 <= v <= 8 for v in opts["versions"]):
                    raise TemplateError(f"segment {name!r}: uuid versions must be within 1-8")
            if opts.get("case", "any") not in ("any", "lower"):
                raise TemplateError(f"segment {name!r}: uuid case must be 'any' or 'lower'")
        if type_name == "typeid" and "prefix" in opts:
            opts["prefix"] = str(opts["prefix"])
            from id_monitor.schema.builtin import TYPEID_PREFIX_RE

            if opts["prefix"] and not TYPEID_PREFIX_RE.fullmatch(opts["prefix"]):
                raise TemplateError(f"segment {name!r}: {opts['prefix']!r} is not a valid TypeID prefix")
        try:
            codec = CODECS[type_name](**opts)
        except (TypeError, ValueError) as exc:
            raise TemplateError(f"segment {name!r}: bad {type_name} options: {exc}") from None
        return Standard(name, codec=codec)
    raise TemplateError(f"segment {name!r}: unknown type {type_name!r} "
                        f"(known: {', '.join(sorted(_SIMPLE_TYPES))})")


def _tokenize(template: str) -> list[Any]:
    """Nested list: str literals, ('seg', spec) tuples, and lists for optional groups."""
    stack: list[list[Any]] = [[]]
    i, n = 0, len(template)
    literal: list[str] = []

    def flush() -> None:
        if literal:
            stack[-1].append("".join(literal))
            literal.clear()

    while i < n:
        ch = template[i]
        if ch in "{}[]" and i + 1 < n and template[i + 1] == ch:
            literal.append(ch)
            i += 2
            continue
        if ch == "{":
            end = template.find("}", i)
            if end < 0:
                raise TemplateError(f"unclosed '{{' at position {i}")
            flush()
            stack[-1].append(("seg", template[i + 1 : end].strip()))
            i = end + 1
            continue
        if ch == "}":
            raise TemplateError(f"unmatched '}}' at position {i}")
        if ch == "[":
            flush()
            stack.append([])
        elif ch == "]":
            if len(stack) == 1:
                raise TemplateError(f"unmatched ']' at position {i}")
            flush()
            group = stack.pop()
            stack[-1].append(group)
        else:
            literal.append(ch)
        i += 1
    if len(stack) != 1:
        raise TemplateError("unclosed '['")
    flush()
    return stack[0]


def _expand(items: list[Any]) -> list[list[Any]]:
    """All choices of including/omitting each optional group, most-inclusive first."""
    options: list[list[list[Any]]] = []
    for item in items:
        if isinstance(item, list):
            inner = _expand(item)
            options.append([*inner, []])
        else:
            options.append([[item]])
    return [list(itertools.chain.from_iterable(combo)) for combo in itertools.product(*options)]


def _count_groups(items: list[Any]) -> int:
    return sum(1 + _count_groups(i) for i in items if isinstance(i, list))


def parse_template(template: str, *, owner_width: int = 8, owner_chars: str = DEFAULT_OWNER_CHARS,
                   segment_options: Mapping[str, Mapping[str, Any]] | None = None
                   ) -> list[tuple[Segment, ...]]:
    """Parse a template into its variants (tuples of segments, adjacent literals merged)."""
    if not isinstance(template, str) or not template:
        raise TemplateError("template must be a non-empty string")
    items = _tokenize(template)
    if _count_groups(items) > MAX_OPTIONAL_GROUPS:
        raise TemplateError(f"at most {MAX_OPTIONAL_GROUPS} optional groups per template")
    segment_options = segment_options or {}
    built: dict[str, Segment] = {}

    def segment(spec: str) -> Segment:
        name, _, type_spec = spec.partition(":")
        name = name.strip()
        if not _NAME_RE.fullmatch(name):
            raise TemplateError(f"bad segment name {name!r} (lower-case letters, digits, '_')")
        if name in built:
            return built[name]
        extra = dict(segment_options.get(name, {}))
        type_spec = type_spec.strip() or str(extra.pop("type", "") or "")
        extra.pop("type", None)
        if not type_spec:
            type_spec = name if name in _SIMPLE_TYPES else "word"
        m = _SPEC_RE.fullmatch(type_spec)
        if not m:
            raise TemplateError(f"segment {name!r}: cannot read type {type_spec!r}")
        positional, keyword = _parse_args(m.group(2))
        keyword.update(extra)
        try:
            seg = make_segment(name, m.group(1), positional, keyword, owner_width, owner_chars)
        except TemplateError:
            raise
        except (TypeError, ValueError, AttributeError) as exc:  # e.g. width: "wide"
            raise TemplateError(f"segment {name!r}: bad option value ({exc})") from None
        built[name] = seg
        return seg

    variants: list[tuple[Segment, ...]] = []
    for flat in _expand(items):
        segs: list[Segment] = []
        for item in flat:
            if isinstance(item, str):
                if segs and isinstance(segs[-1], Literal):
                    segs[-1] = Literal(None, text=segs[-1].text + item)
                else:
                    segs.append(Literal(None, text=item))
            else:
                segs.append(segment(item[1]))
        if not segs:
            continue
        _check_variant(segs)
        variants.append(tuple(segs))
    if not variants:
        raise TemplateError("template has no content")
    for name in segment_options:
        if name not in built:
            raise TemplateError(f"segments: {name!r} is not used in the template")
    return variants


def _check_variant(segs: list[Segment]) -> None:
    """Reject shapes whose matching could be ambiguous enough to cost more than linear time."""
    names = [s.name for s in segs if s.name]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise TemplateError(f"segment {min(dupes)!r} appears twice in one variant")
    wide = [s.name for s in segs if s.word_like]
    if len(wide) > 1:
        raise TemplateError(f"segments {wide[0]!r} and {wide[1]!r}: at most one word or token segment "
                            "per template (two would make the split between them ambiguous)")
    for left, right in itertools.pairwise(segs):
        if not isinstance(left, Literal) and not isinstance(right, Literal) and (
            left.length[0] != left.length[1] and right.length[0] != right.length[1]
        ):
            raise TemplateError(f"segments {left.name!r} and {right.name!r} need a literal "
                                "between them (both have variable length)")
