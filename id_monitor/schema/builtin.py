"""Standard ID formats (UUID, ULID, TypeID, KSUID, Snowflake) as codecs.

A codec knows three things about one standard format: a regular expression for its shape (bounded,
so it can sit inside a larger template without risking backtracking blow-ups), a `decode` that turns
a string already matching that shape into `(timestamp_ms, parts)` or None when a check the shape
cannot express fails (KSUID overflow, Snowflake bit width), and an `encode` used by rendering.
The decoders are the fast path of classification, so they lean on C-implemented `int(text, base)`
and `str.translate` instead of per-character Python loops wherever the format allows.

References: RFC 9562 (UUID), the ULID spec (github.com/ulid/spec), TypeID spec 0.3
(github.com/jetify-com/typeid), KSUID (github.com/segmentio/ksuid), Twitter Snowflake.
"""

from __future__ import annotations

import re
import uuid as _uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

Decoded = tuple[int | None, dict[str, Any]]

# --- UUID (RFC 9562) --------------------------------------------------------------------------

# 100-ns intervals between the Gregorian epoch (1582-10-15) and the Unix epoch.
_GREGORIAN_OFFSET = 0x01B21DD213814000
_NIL = "00000000-0000-0000-0000-000000000000"
_MAX = "ffffffff-ffff-ffff-ffff-ffffffffffff"


def _uuid_timestamp_ms(text: str, version: int) -> int | None:
    """Embedded time of a canonical (lower-case, hyphenated) UUID string, for v1, v6 and v7."""
    if version == 7:
        return int(text[0:8] + text[9:13], 16)
    if version == 1:
        ticks = (int(text[15:18], 16) << 48) | (int(text[9:13], 16) << 32) | int(text[0:8], 16)
    elif version == 6:
        ticks = (int(text[0:8] + text[9:13], 16) << 12) | int(text[15:18], 16)
    else:
        return None
    return (ticks - _GREGORIAN_OFFSET) // 10_000


@dataclass(frozen=True)
class UuidCodec:
    """RFC 9562 UUID in its canonical 8-4-4-4-12 form.

    `versions`: accepted version numbers (default 1-8). `strict`: require the RFC variant (10xx)
    for versioned UUIDs and accept nil/max; with strict False any 8-4-4-4-12 hex string matches
    (the "uuid-shaped" values legacy code fabricated). `case`: `any` (RFC: input is
    case-insensitive) or `lower`.
    """

    versions: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8)
    strict: bool = True
    case: str = "any"
    kind: str = field(default="uuid", init=False)

    def regex(self) -> str:
        h = "[0-9a-f]" if self.case == "lower" else "[0-9a-fA-F]"
        if not self.strict:
            return f"{h}{{8}}-{h}{{4}}-{h}{{4}}-{h}{{4}}-{h}{{12}}"
        vers = "".join(str(v) for v in sorted(set(self.versions)))
        variant = "[89ab]" if self.case == "lower" else "[89abAB]"
        shape = f"{h}{{8}}-{h}{{4}}-[{vers}]{h}{{3}}-{variant}{h}{{3}}-{h}{{12}}"
        specials = []
        if 0 in self.versions or self.versions == UuidCodec.versions:
            specials.append(_NIL)
        if 15 in self.versions or self.versions == UuidCodec.versions:
            specials.append(_MAX if self.case == "lower" else "[fF]{8}-[fF]{4}-[fF]{4}-[fF]{4}-[fF]{12}")
        return "|".join([shape, *specials]) if specials else shape

    @property
    def length(self) -> tuple[int, int]:
        return (36, 36)

    def decode(self, text: str) -> Decoded | None:
        canonical = text if self.case == "lower" else text.lower()
        version = _HEX_VALUE[canonical[14]]
        if version in (0, 15) and (canonical == _NIL or canonical == _MAX):
            return None, {"uuid": canonical, "version": version}
        if canonical[19] not in "89ab":
            return None if self.strict else (None, {"uuid": canonical, "version": version, "variant": "non_rfc"})
        if version == 7:
            return int(canonical[0:8] + canonical[9:13], 16), {"uuid": canonical, "version": 7}
        return _uuid_timestamp_ms(canonical, version), {"uuid": canonical, "version": version}

    def encode(self, value: Any) -> str:
        """`value` is a uuid.UUID or its canonical string; it must satisfy this codec's options."""
        text = str(value)
        if re.fullmatch(self.regex(), text) is None:
            raise ValueError(f"{text!r} is not a UUID of this format ({self.describe()})")
        return text

    def describe(self) -> str:
        versions = "any version" if not self.strict else "versions " + ",".join(map(str, self.versions))
        return f"{versions}, {'lower case' if self.case == 'lower' else 'any case'}"


# --- Crockford base32 (ULID, TypeID) ----------------------------------------------------------

_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
_B32HEX = "0123456789abcdefghijklmnopqrstuv"  # the digits int(text, 32) understands
_CROCKFORD_CLASS_LOWER = "[0-9a-hjkmnp-tv-z]"
_CROCKFORD_CLASS_ANY = "[0-9a-hjkmnp-tv-zA-HJKMNP-TV-Z]"


_CROCKFORD_TO_INT32_BYTES = bytes.maketrans((_CROCKFORD + _CROCKFORD.upper()).encode(), (_B32HEX + _B32HEX).encode())
_HEX_VALUE = {c: int(c, 16) for c in "0123456789abcdefABCDEF"}


def _base32_to_int(text: str) -> int:
    """Crockford base32 -> int via a bytes translation table and C-level int(..., 32); callers
    pass text their regex already restricted to the alphabet."""
    return int(text.encode().translate(_CROCKFORD_TO_INT32_BYTES), 32)


def _int_to_base32(value: int, width: int) -> str:
    digits = []
    for _ in range(width):
        value, digit = divmod(value, 32)
        digits.append(_CROCKFORD[digit])
    return "".join(reversed(digits))


def _uuid_text(value: int) -> str:
    """Canonical 8-4-4-4-12 text of a 128-bit value (to_bytes().hex() formats a big int about
    twice as fast as f"{value:032x}")."""
    h = value.to_bytes(16, "big").hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@dataclass(frozen=True)
class UlidCodec:
    """ULID: 26 Crockford base32 chars, 48-bit millisecond timestamp then 80 random bits.

    Decoding is case-insensitive as the spec says; a first character above 7 would overflow 128
    bits and is rejected by the shape itself.
    """

    kind: str = field(default="ulid", init=False)

    def regex(self) -> str:
        return f"[0-7]{_CROCKFORD_CLASS_ANY}{{25}}"

    @property
    def length(self) -> tuple[int, int]:
        return (26, 26)

    def decode(self, text: str) -> Decoded | None:
        return _base32_to_int(text[:10]), {}

    def encode(self, value: Any) -> str:
        if isinstance(value, int):
            return _int_to_base32(value, 26).upper()
        text = str(value)
        if not re.fullmatch(self.regex(), text):
            raise ValueError(f"not a ULID: {text!r}")
        return text


# --- TypeID (spec 0.3) ------------------------------------------------------------------------

TYPEID_PREFIX_RE = re.compile(r"[a-z](?:[a-z_]{0,61}[a-z])?")


@dataclass(frozen=True)
class TypeIdCodec:
    """TypeID 0.3: optional `prefix_` (lower-case letters and `_`, starting and ending with a
    letter, at most 63 chars) then a 26-char lower-case Crockford base32 suffix whose first char is
    0-7; the suffix is the 128-bit UUID. `prefix` pins the prefix to one value when set."""

    prefix: str | None = None
    kind: str = field(default="typeid", init=False)

    def regex(self) -> str:
        suffix = f"[0-7]{_CROCKFORD_CLASS_LOWER}{{25}}"
        if self.prefix is not None:
            return (re.escape(self.prefix) + "_" if self.prefix else "") + suffix
        return f"(?:[a-z](?:[a-z_]{{0,61}}[a-z])?_)?{suffix}"

    @property
    def length(self) -> tuple[int, int]:
        if self.prefix is not None:
            return (26 + len(self.prefix) + bool(self.prefix),) * 2  # type: ignore[return-value]
        return (26, 26 + 64)

    def decode(self, text: str) -> Decoded | None:
        cut = text.rfind("_")
        n = _base32_to_int(text[cut + 1 :])
        canonical = _uuid_text(n)
        version = (n >> 76) & 0xF
        parts = {"typeid_prefix": text[:cut] if cut > 0 else "", "uuid": canonical, "version": version}
        if version == 7:
            return n >> 80, parts
        return (_uuid_timestamp_ms(canonical, version) if version in (1, 6) else None), parts

    def encode(self, value: Any) -> str:
        """`value` is a TypeID string, or `(prefix, uuid)`."""
        if isinstance(value, tuple):
            prefix, uid = value
            suffix = _int_to_base32(_uuid.UUID(str(uid)).int, 26)
            text = f"{prefix}_{suffix}" if prefix else suffix
        else:
            text = str(value)
        if not re.fullmatch(self.regex(), text):
            raise ValueError(f"not a TypeID: {text!r}")
        return text


# --- KSUID ------------------------------------------------------------------------------------

KSUID_EPOCH_S = 1_400_000_000
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BASE62_INDEX = {ch: i for i, ch in enumerate(_BASE62)}
_KSUID_MAX = "aWgEPTl1tmebfsQzFP4bxwgy80V"  # 2**160 - 1; base62 order equals ASCII order


@dataclass(frozen=True)
class KsuidCodec:
    """KSUID: 27 base62 chars encoding 160 bits: a 32-bit second timestamp since 1400000000 and
    128 random bits. Values above 2**160-1 are rejected."""

    kind: str = field(default="ksuid", init=False)

    def regex(self) -> str:
        return "[0-9A-Za-z]{27}"

    @property
    def length(self) -> tuple[int, int]:
        return (27, 27)

    def decode(self, text: str) -> Decoded | None:
        if text > _KSUID_MAX:
            return None
        index = _BASE62_INDEX
        n = 0
        for ch in text:
            n = n * 62 + index[ch]
        return ((n >> 128) + KSUID_EPOCH_S) * 1000, {}

    def encode(self, value: Any) -> str:
        if isinstance(value, int):
            if not 0 <= value < 1 << 160:
                raise ValueError("KSUID value out of range")
            digits = []
            for _ in range(27):
                value, d = divmod(value, 62)
                digits.append(_BASE62[d])
            return "".join(reversed(digits))
        text = str(value)
        if not re.fullmatch(self.regex(), text) or text > _KSUID_MAX:
            raise ValueError(f"not a KSUID: {text!r}")
        return text


# --- Snowflake --------------------------------------------------------------------------------

TWITTER_EPOCH_MS = 1_288_834_974_657


@dataclass(frozen=True)
class SnowflakeCodec:
    """Snowflake: a decimal integer of `timestamp_bits` ms since `epoch` (ms), then `node_bits`
    of node id and `sequence_bits` of sequence. Defaults are Twitter's (41/10/12, epoch
    1288834974657). `min_digits` keeps short plain numbers from passing as Snowflakes."""

    epoch: int = TWITTER_EPOCH_MS
    timestamp_bits: int = 41
    node_bits: int = 10
    sequence_bits: int = 12
    min_digits: int = 1
    kind: str = field(default="snowflake", init=False)

    def __post_init__(self) -> None:
        for name in ("timestamp_bits", "node_bits", "sequence_bits", "min_digits", "epoch"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                raise ValueError(f"{name} must be a non-negative integer")
        if self.timestamp_bits < 1 or self.total_bits > 64:
            raise ValueError("timestamp_bits must be >= 1 and the bit layout at most 64 bits")
        if not 1 <= self.min_digits <= self.max_digits:
            raise ValueError(f"min_digits must be between 1 and {self.max_digits}")

    @property
    def total_bits(self) -> int:
        return self.timestamp_bits + self.node_bits + self.sequence_bits

    @property
    def max_digits(self) -> int:
        return len(str((1 << self.total_bits) - 1))

    def regex(self) -> str:
        lo = max(self.min_digits - 1, 0)
        hi = self.max_digits - 1
        return f"0|[1-9][0-9]{{{lo},{hi}}}" if self.min_digits <= 1 else f"[1-9][0-9]{{{lo},{hi}}}"

    @property
    def length(self) -> tuple[int, int]:
        return (self.min_digits, self.max_digits)

    def decode(self, text: str) -> Decoded | None:
        n = int(text)
        if n >> self.total_bits:
            return None
        shift = self.node_bits + self.sequence_bits
        parts = {
            "node": (n >> self.sequence_bits) & ((1 << self.node_bits) - 1),
            "sequence": n & ((1 << self.sequence_bits) - 1),
        }
        return (n >> shift) + self.epoch, parts

    def encode(self, value: Any) -> str:
        """`value` is the integer, its decimal string, or a mapping with timestamp_ms, node and
        sequence."""
        if isinstance(value, Mapping):
            ts = int(value["timestamp_ms"]) - self.epoch
            node, seq = int(value.get("node", 0)), int(value.get("sequence", 0))
            if not (0 <= ts < 1 << self.timestamp_bits and 0 <= node < 1 << self.node_bits
                    and 0 <= seq < 1 << self.sequence_bits):
                raise ValueError("snowflake field out of range for the bit layout")
            value = (ts << (self.node_bits + self.sequence_bits)) | (node << self.sequence_bits) | seq
        text = str(int(value)) if isinstance(value, int) else str(value)
        if not re.fullmatch(self.regex(), text) or int(text) >> self.total_bits:
            raise ValueError(f"not a Snowflake for this layout: {text!r}")
        return text


Codec = UuidCodec | UlidCodec | TypeIdCodec | KsuidCodec | SnowflakeCodec

# Builtin segment type name -> constructor taking the keyword options given in the schema.
CODECS: dict[str, Callable[..., Codec]] = {
    "uuid": UuidCodec,
    "ulid": UlidCodec,
    "typeid": TypeIdCodec,
    "ksuid": KsuidCodec,
    "snowflake": SnowflakeCodec,
}


def parse_uuid(text: str) -> tuple[str, int, int | None] | None:
    """`(canonical uuid, version, timestamp_ms)` of an RFC 9562 UUID string (any case; nil and max
    have versions 0 and 15), else None. Direct entry point for callers without a schema."""
    if type(text) is not str or len(text) != 36 or _UUID_FULL.fullmatch(text) is None:
        return None  # the regex admits versions 1-8 with the RFC variant, nil and max only
    canonical = text.lower()
    version = _HEX_VALUE[canonical[14]]
    if version == 7:
        return canonical, 7, int(canonical[0:8] + canonical[9:13], 16)
    if version == 0 or version == 15:  # nil / max (anything else with these nibbles fails the regex)
        return canonical, version, None
    return canonical, version, _uuid_timestamp_ms(canonical, version)


def parse_ulid(text: str) -> int | None:
    """Millisecond timestamp of a ULID string, else None."""
    if not isinstance(text, str) or len(text) != 26 or _ULID_FULL.fullmatch(text) is None:
        return None
    return _base32_to_int(text[:10])


def parse_typeid(text: str) -> tuple[str, str] | None:
    """`(prefix, uuid)` of a valid TypeID string, else None. A direct entry point for callers that
    hold a TypeID and want its parts without a schema."""
    if type(text) is not str or len(text) > 90 or _TYPEID_FULL.fullmatch(text) is None:
        return None
    cut = text.rfind("_")
    h = int(text[cut + 1 :].encode().translate(_CROCKFORD_TO_INT32_BYTES), 32).to_bytes(16, "big").hex()
    return (text[:cut] if cut > 0 else ""), f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_TYPEID_FULL = re.compile(TypeIdCodec().regex())
_UUID_ANY = UuidCodec()
_UUID_FULL = re.compile(_UUID_ANY.regex())
_ULID_FULL = re.compile(UlidCodec().regex())
