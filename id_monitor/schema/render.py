"""Rendering: the inverse of matching, so tests and the traffic generator build IDs from values
with the very templates the classifier reads."""

from __future__ import annotations

from typing import Any

from id_monitor.schema.model import Format


def render(fmt: Format, values: dict[str, Any]) -> str:
    """Render `fmt` from `values` keyed by segment name.

    The variant chosen is the one whose segment names equal the names given (values of None count
    as not given), so `render("tool", name=..., agent8=..., ...)` includes the optional agent part
    and leaving `agent8` out omits it. `timestamp_ms` is accepted for the timestamp segment.
    """
    given = {k: v for k, v in values.items() if v is not None}
    if "timestamp_ms" in given:
        ts_names = {s.name for v in fmt.variants for s in v.segments if s.role == "timestamp"}
        if len(ts_names) == 1 and not ts_names & given.keys():
            given[ts_names.pop()] = given.pop("timestamp_ms")
    names = frozenset(given)
    for variant in sorted(fmt.variants, key=lambda v: v.precedence):
        if variant.names == names:
            return variant.render(given)
    shapes = sorted({", ".join(sorted(v.names)) for v in fmt.variants})
    unknown = names - fmt.segment_names
    hint = f"unknown value(s) {sorted(unknown)}; " if unknown else ""
    raise ValueError(f"format {fmt.name!r}: {hint}got values for {sorted(names)}, "
                     f"expected exactly one of: {' | '.join('{' + s + '}' for s in shapes)}")
