"""Schema, Format and Variant: the loaded, validated form of a schema file.

A Format is what users name (`thread`, `uuid4`); a Variant is one concrete segment sequence of it
(a template with optional groups, or a format with several templates, has several). Matching and
rendering both work on variants; results always name the format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from id_monitor.schema.segments import Enum, Literal, Segment

STATUSES = ("target", "legacy")


class SchemaError(Exception):
    """A schema file that cannot be used. str() names the file, the format and the problem."""

    def __init__(self, problem: str, *, file: str | None = None, format: str | None = None) -> None:
        self.problem = problem
        self.file = file
        self.format = format
        where = [file or "<schema>"]
        if format:
            where.append(f"format {format!r}")
        super().__init__(f"{': '.join(where)}: {problem}")


@dataclass(frozen=True)
class Variant:
    """One segment sequence of a format, with the facts dispatch and precedence need."""

    format: Format
    segments: tuple[Segment, ...]
    index: int  # position among the format's variants

    @property
    def literal_chars(self) -> int:
        return sum(s.literal_chars for s in self.segments)

    @property
    def pinned_chars(self) -> int:
        """Characters the template fixes: literal text plus fixed-width segments."""
        return sum(s.literal_chars + s.fixed_chars for s in self.segments)

    @property
    def precedence(self) -> tuple[int, int, int, int]:
        """Sort key, smallest first = most specific (see docs/schema.md)."""
        return (-self.pinned_chars, -self.literal_chars, self.format.order, self.index)

    @property
    def names(self) -> frozenset[str]:
        return frozenset(s.name for s in self.segments if s.name)

    @property
    def length(self) -> tuple[int, int]:
        lo = sum(s.length[0] for s in self.segments)
        hi = sum(s.length[1] for s in self.segments)
        return lo, hi

    @property
    def may_underscore(self) -> bool:
        return any(s.may_underscore for s in self.segments)

    @property
    def always_underscore(self) -> bool:
        return any(isinstance(s, Literal) and "_" in s.text for s in self.segments)

    def lead_tokens(self) -> frozenset[str] | None:
        """The text before the first `_` of every ID this variant matches, when the template pins
        it (a leading literal or enum); None when any first token is possible."""
        first = self.segments[0]
        if isinstance(first, Literal):
            if "_" in first.text:
                return frozenset([first.text.split("_", 1)[0]])
            return None
        if isinstance(first, Enum) and len(self.segments) > 1:
            nxt = self.segments[1]
            if (isinstance(nxt, Literal) and nxt.text.startswith("_")
                    and not any("_" in c for c in first.choices)):
                return frozenset(first.choices)
        return None

    def render(self, values: dict[str, Any]) -> str:
        return "".join(s.render(values.get(s.name)) if s.name else s.render() for s in self.segments)


@dataclass(frozen=True)
class Format:
    """A named ID format: `status` is target|legacy; `id_type` is fixed text, or None with
    `id_type_segment` naming the segment whose value is the id_type."""

    name: str
    status: str
    id_type: str | None
    id_type_segment: str | None
    templates: tuple[str, ...]
    order: int
    file: str
    description: str = ""
    variants: tuple[Variant, ...] = field(default=(), compare=False, repr=False)

    @property
    def owner_bearing(self) -> bool:
        return any(s.role == "owner" for v in self.variants for s in v.segments)

    @property
    def segment_names(self) -> frozenset[str]:
        return frozenset().union(*(v.names for v in self.variants))

    def render(self, values: dict[str, Any]) -> str:
        """Build an ID of this format from `values` keyed by segment name: the inverse of matching,
        so tests and the traffic generator build IDs with the very templates the classifier reads.

        The variant chosen is the one whose segment names equal the names given (values of None
        count as not given), so rendering `tool` with `agent8` includes the optional agent part and
        leaving it out omits it. `timestamp_ms` is accepted for the timestamp segment.
        """
        given = {k: v for k, v in values.items() if v is not None}
        if "timestamp_ms" in given:
            ts_names = {s.name for v in self.variants for s in v.segments if s.role == "timestamp"}
            if len(ts_names) == 1 and not ts_names & given.keys():
                given[ts_names.pop()] = given.pop("timestamp_ms")
        names = frozenset(given)
        for variant in sorted(self.variants, key=lambda v: v.precedence):
            if variant.names == names:
                return variant.render(given)
        shapes = sorted({", ".join(sorted(v.names)) for v in self.variants})
        unknown = names - self.segment_names
        hint = f"unknown value(s) {sorted(unknown)}; " if unknown else ""
        raise ValueError(f"format {self.name!r}: {hint}got values for {sorted(names)}, "
                         f"expected exactly one of: {' | '.join('{' + s + '}' for s in shapes)}")


class Schema:
    """A loaded schema: its formats in declaration order (includes first)."""

    def __init__(self, name: str, formats: list[Format], *, file: str | None = None) -> None:
        self.name = name
        self.file = file
        self._formats = {f.name: f for f in formats}

    def __repr__(self) -> str:
        return f"Schema({self.name!r}, {len(self._formats)} formats)"

    def format_names(self) -> list[str]:
        """Every format name a classification can return: the bounded label set for metrics."""
        return list(self._formats)

    def format(self, name: str) -> Format:
        try:
            return self._formats[name]
        except KeyError:
            raise KeyError(f"schema {self.name!r} has no format {name!r}") from None

    @property
    def formats(self) -> list[Format]:
        return list(self._formats.values())

    @property
    def variants(self) -> list[Variant]:
        return [v for f in self._formats.values() for v in f.variants]

    def id_types(self) -> frozenset[str]:
        """Every fixed id_type of the schema's formats: the names that may be shown as they are.
        An id_type taken from the ID itself (`id_type: "{segment}"`) is input, not schema."""
        return frozenset(f.id_type for f in self._formats.values() if f.id_type is not None)

    def render(self, format_name: str, **values: Any) -> str:
        """Build an ID of `format_name` from segment values (`ts` may be given as `timestamp_ms`).

        With optional parts, the variant is the one whose segments are exactly the names given.
        Raises KeyError for an unknown format and ValueError for missing, unknown or unfitting
        values.
        """
        return self.format(format_name).render(values)
