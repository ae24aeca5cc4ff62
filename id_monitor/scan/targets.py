"""The call targets the scanner looks for, and the cheap byte-level facts derived from them.

A target is a dotted import path (`uuid.uuid4`, `secrets.token_hex`, `app.ids.legacy_id`). Any
source that reaches a target must spell the target's last name somewhere (in the call or in the
import line), which is what makes the byte prefilter safe: a file whose bytes contain none of the
last names cannot hold a site and is never parsed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

DEFAULT_TARGETS: tuple[str, ...] = ("uuid.uuid4",)

_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")


class TargetError(ValueError):
    """A configured target is not a dotted import path (`module.name`)."""


@dataclass(frozen=True, slots=True)
class Targets:
    """The qualified names whose calls (and references) count as generation sites."""

    names: frozenset[str]
    # Every dotted component of every target: the only identifiers that can start or end a
    # reference to one (`uuid`, `uuid4`, `app`, `ids`, `legacy_id`).
    components: frozenset[str] = field(init=False)
    # Module prefixes (`uuid`, `app`, `app.ids`): an import binding any other module is a shadow.
    prefixes: frozenset[str] = field(init=False)
    last_names: tuple[bytes, ...] = field(init=False)

    def __post_init__(self) -> None:
        for name in self.names:
            if not _DOTTED.match(name):
                raise TargetError(f"call target {name!r} is not a dotted import path like 'uuid.uuid4'")
        components: set[str] = set()
        prefixes: set[str] = set()
        for name in self.names:
            parts = name.split(".")
            components.update(parts)
            prefixes.update(".".join(parts[:i]) for i in range(1, len(parts)))
        object.__setattr__(self, "components", frozenset(components))
        object.__setattr__(self, "prefixes", frozenset(prefixes))
        last = sorted({name.rsplit(".", 1)[1].encode() for name in self.names})
        object.__setattr__(self, "last_names", tuple(last))

    @classmethod
    def of(cls, names: list[str] | tuple[str, ...] | None = None, extra: list[str] | tuple[str, ...] = ()) -> Targets:
        chosen = list(DEFAULT_TARGETS if names is None else names) + list(extra)
        if not chosen:
            raise TargetError("no call targets configured")
        return cls(frozenset(chosen))

    def may_contain(self, data: bytes) -> bool:
        """The prefilter: False means no site can be in these bytes."""
        return any(name in data for name in self.last_names)

    def is_relevant_binding(self, qualified: str) -> bool:
        return qualified in self.names or qualified in self.prefixes

    def codes(self, qualified: str) -> tuple[str, str]:
        """Suppression codes that silence a site of this target: its last name and its full name."""
        return qualified.rsplit(".", 1)[1], qualified
