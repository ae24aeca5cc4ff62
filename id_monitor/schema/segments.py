"""The typed segments a format template is made of.

Every segment contributes a regular-expression fragment whose own matching is bounded or
deterministic, plus facts the compiler needs: how many literal / fixed-width characters it pins
(for most-specific-wins), its length range (for dispatch by length) and whether it can contain `_`
(for dispatch by first token). `role` says where a matched value lands in IdInfo: `owner`,
`timestamp`, `counter`, `standard` (a builtin format: it supplies timestamp and parts itself) or
`part` (stored under the segment's name in IdInfo.parts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from id_monitor.schema.builtin import Codec

# A word is 1-8 lower-case tokens joined by `_`; a token is 1-32 letters/digits with at least one
# letter, so an all-digit timestamp or counter is never swallowed by the word before it. Bounding
# every segment bounds every template, so over-long input is rejected by length alone.
WORD_TOKEN = "(?=[0-9]{0,31}[a-z])[a-z0-9]{1,32}"
WORD_MAX_TOKENS = 8
_WORD_RE = re.compile(f"{WORD_TOKEN}(?:_{WORD_TOKEN}){{0,{WORD_MAX_TOKENS - 1}}}")
DEFAULT_OWNER_CHARS = "A-Za-z0-9_.@-"
_CHAR_SPEC_RE = re.compile(r"(?:A-Z|a-z|0-9|[_.@+:-])+")


def char_class(spec: str) -> str:
    """A regex class from a spec like `A-Za-z0-9_.@-` (ranges A-Z a-z 0-9 and the punctuation
    `_ . @ + : -`), escaped so the order of characters in the spec does not matter."""
    if not _CHAR_SPEC_RE.fullmatch(spec):
        raise ValueError(f"character spec {spec!r} may use A-Z, a-z, 0-9 and _ . @ + : - only")
    ranges = [r for r in ("A-Z", "a-z", "0-9") if r in spec]
    rest = spec
    for r in ranges:
        rest = rest.replace(r, "")
    return "[" + "".join(ranges) + "".join(sorted({re.escape(c) for c in rest})) + "]"


@dataclass(frozen=True)
class Segment:
    """Base: subclasses override `regex` and the facts below."""

    name: str | None = None

    role = "part"
    may_underscore = False

    def regex(self) -> str:
        raise NotImplementedError

    @property
    def literal_chars(self) -> int:
        return 0

    @property
    def fixed_chars(self) -> int:
        """Characters pinned to a fixed width (owner counts its full width)."""
        return 0

    @property
    def length(self) -> tuple[int, int]:
        """(min, max) length; every segment is bounded."""
        raise NotImplementedError

    @property
    def word_like(self) -> bool:
        """Variable length and may contain `_`: its end inside an ID is not pinned by `_`."""
        lo, hi = self.length
        return self.may_underscore and hi - lo > 8

    def render(self, value: Any) -> str:
        text = str(value)
        if re.fullmatch(self.regex(), text) is None:
            raise ValueError(f"{text!r} does not fit segment {self.name!r} ({self.describe()})")
        return text

    def describe(self) -> str:
        return type(self).__name__.lower()


@dataclass(frozen=True)
class Literal(Segment):
    text: str = ""

    role = "literal"

    def regex(self) -> str:
        return re.escape(self.text)

    @property
    def may_underscore(self) -> bool:  # type: ignore[override]
        return "_" in self.text

    @property
    def literal_chars(self) -> int:
        return len(self.text)

    @property
    def length(self) -> tuple[int, int]:
        return (len(self.text), len(self.text))

    def render(self, value: Any = None) -> str:
        return self.text


@dataclass(frozen=True)
class Word(Segment):
    """Lower-case `_`-joined tokens (`session`, `auth_user`, `code_review`). Matched lazily: it
    takes as few tokens as the rest of the template allows, so an owner that follows it keeps its
    full width."""

    may_underscore = True

    def regex(self) -> str:
        return f"{WORD_TOKEN}(?:_{WORD_TOKEN}){{0,{WORD_MAX_TOKENS - 1}}}?"

    @property
    def length(self) -> tuple[int, int]:
        return (1, 33 * WORD_MAX_TOKENS - 1)

    def render(self, value: Any) -> str:
        text = str(value)
        if _WORD_RE.fullmatch(text) is None:
            raise ValueError(f"{text!r} is not a word for segment {self.name!r} "
                             "(lower-case tokens joined by '_', each with a letter)")
        return text


@dataclass(frozen=True)
class Enum(Segment):
    choices: tuple[str, ...] = ()

    def regex(self) -> str:
        # Longest first so a choice that is a prefix of another never shadows it.
        return "|".join(re.escape(c) for c in sorted(self.choices, key=lambda c: (-len(c), c)))

    @property
    def may_underscore(self) -> bool:  # type: ignore[override]
        return any("_" in c for c in self.choices)

    @property
    def fixed_chars(self) -> int:
        lengths = {len(c) for c in self.choices}
        return lengths.pop() if len(lengths) == 1 else 0

    @property
    def length(self) -> tuple[int, int]:
        return (min(map(len, self.choices)), max(map(len, self.choices)))

    def render(self, value: Any) -> str:
        if value not in self.choices:
            raise ValueError(f"{value!r} is not one of {list(self.choices)} for segment {self.name!r}")
        return str(value)


@dataclass(frozen=True)
class Owner(Segment):
    """`user_id[:width]`: any of `chars`, between `min_width` and `width` long. Rendering takes
    the first `width` characters of the value, so a full user id can be passed."""

    width: int = 8
    min_width: int = 1
    chars: str = DEFAULT_OWNER_CHARS

    role = "owner"

    @property
    def may_underscore(self) -> bool:  # type: ignore[override]
        return "_" in self.chars

    def regex(self) -> str:
        return f"{char_class(self.chars)}{{{self.min_width},{self.width}}}"

    @property
    def fixed_chars(self) -> int:
        return self.width

    @property
    def length(self) -> tuple[int, int]:
        return (self.min_width, self.width)

    def render(self, value: Any) -> str:
        return super().render(str(value)[: self.width])


@dataclass(frozen=True)
class Timestamp(Segment):
    """Epoch time as fixed-width decimal: 13 digits of ms, or 10 digits of seconds."""

    unit: str = "ms"

    role = "timestamp"

    @property
    def digits(self) -> int:
        return 13 if self.unit == "ms" else 10

    def regex(self) -> str:
        return f"[0-9]{{{self.digits}}}"

    @property
    def fixed_chars(self) -> int:
        return self.digits

    @property
    def length(self) -> tuple[int, int]:
        return (self.digits, self.digits)

    def render(self, value: Any) -> str:
        if isinstance(value, int) and self.unit == "s" and value >= 10**12:
            value //= 1000  # given in ms, rendered in s
        return super().render(value)


@dataclass(frozen=True)
class Counter(Segment):
    """Decimal counter, not zero-padded, at most 19 digits (fits a signed 64-bit integer)."""

    role = "counter"

    def regex(self) -> str:
        return "0|[1-9][0-9]{0,18}"

    @property
    def length(self) -> tuple[int, int]:
        return (1, 19)

    def render(self, value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 10**19:
            raise ValueError(f"counter {self.name!r} must be an int in 0..10**19-1, got {value!r}")
        return str(value)


@dataclass(frozen=True)
class Digits(Segment):
    """A run of 1..N decimal digits that is not a counter or an epoch time: e.g. the last five
    digits of a millisecond clock (`int(time.time() * 1000) % 100000`), which gives no time.
    Lands in `parts` as text, so a truncated clock is never mistaken for a timestamp."""

    min_len: int = 1
    max_len: int = 5

    def regex(self) -> str:
        return f"[0-9]{{{self.min_len},{self.max_len}}}"

    @property
    def fixed_chars(self) -> int:
        return self.min_len if self.min_len == self.max_len else 0

    @property
    def length(self) -> tuple[int, int]:
        return (self.min_len, self.max_len)


@dataclass(frozen=True)
class Hex(Segment):
    """Hex of a fixed length, or of a range of lengths (optionally even only); lower-case unless
    `case` is `upper` or `any`."""

    min_len: int = 8
    max_len: int = 8
    even: bool = False
    case: str = "lower"

    def regex(self) -> str:
        h = {"lower": "[0-9a-f]", "upper": "[0-9A-F]", "any": "[0-9a-fA-F]"}[self.case]
        if self.min_len == self.max_len:
            return f"{h}{{{self.min_len}}}"
        if self.even:
            return f"(?:{h}{{2}}){{{self.min_len // 2},{self.max_len // 2}}}"
        return f"{h}{{{self.min_len},{self.max_len}}}"

    @property
    def fixed_chars(self) -> int:
        return self.min_len if self.min_len == self.max_len else 0

    @property
    def length(self) -> tuple[int, int]:
        return (self.min_len, self.max_len)


DEFAULT_TOKEN_CHARS = "A-Za-z0-9_-"


@dataclass(frozen=True)
class Token(Segment):
    """Opaque text: a letter or digit, then any of `chars` (default letters, digits, `_`, `-`).
    Legacy tails, and whole foreign IDs embedded by a generator (a run that carries its
    thread's id), whose characters the schema does not control."""

    min_len: int = 1
    max_len: int = 64
    chars: str = DEFAULT_TOKEN_CHARS

    @property
    def may_underscore(self) -> bool:  # type: ignore[override]
        return "_" in self.chars

    def regex(self) -> str:
        return f"[A-Za-z0-9]{char_class(self.chars)}{{{self.min_len - 1},{self.max_len - 1}}}"

    @property
    def length(self) -> tuple[int, int]:
        return (self.min_len, self.max_len)


@dataclass(frozen=True)
class Standard(Segment):
    """A builtin standard format (UUID, ULID, TypeID, KSUID, Snowflake) used as one segment."""

    codec: Codec | None = None

    role = "standard"

    @property
    def may_underscore(self) -> bool:  # type: ignore[override]
        return self.codec is not None and self.codec.kind == "typeid"

    def regex(self) -> str:
        assert self.codec is not None
        return self.codec.regex()

    @property
    def fixed_chars(self) -> int:
        """Fixed width; a TypeID pins its 26-char suffix whatever its prefix."""
        lo, hi = self.length
        if self.codec is not None and self.codec.kind == "typeid":
            return 26
        return lo if lo == hi else 0

    @property
    def length(self) -> tuple[int, int]:
        assert self.codec is not None
        return self.codec.length

    def render(self, value: Any) -> str:
        assert self.codec is not None
        return self.codec.encode(value)

    def describe(self) -> str:
        return self.codec.kind if self.codec else "standard"
