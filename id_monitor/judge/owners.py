"""Owner-prefix collisions: when isolation checks are blind.

Owner-bearing IDs embed only `user_id[:width]`. If several users share that prefix (every
`user_1757…` id has the prefix `user_175`), an ID of one of them carried in another's message
looks legitimate, and `isolation_breach` cannot fire. This tracker watches the stream of
message owners and reports each prefix the moment a second (third, ...) distinct owner shows up.

Memory is bounded: at most `max_prefixes` prefixes are tracked (later new prefixes are counted
in `untracked`, not stored), each holding one owner hash until it collides, and at most
`max_owners` distinct owner hashes once it has. Owners are stored as hashes, never as text.
This is the one stateful part of judging; it is fed by `policy.Judge` when enabled.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Collision:
    prefix: str
    distinct_owners: int
    capped: bool  # distinct_owners reached the cap: there may be more


class OwnerCollisions:
    def __init__(self, width: int = 8, max_prefixes: int = 100_000, max_owners: int = 16) -> None:
        self.width = width
        self.max_prefixes = max_prefixes
        self.max_owners = max(2, max_owners)
        self._first: dict[str, int] = {}
        self._shared: dict[str, set[int]] = {}
        self.untracked = 0  # observations whose prefix could not be tracked (table full)

    def observe(self, owner: str) -> int:
        """Record one message owner. Returns the number of distinct owners now known to share its
        prefix when this owner is a newly seen one on a shared prefix, else 0."""
        prefix = owner[: self.width]
        key = hash(owner)
        first = self._first.get(prefix)
        if first is None:
            if len(self._first) >= self.max_prefixes:
                self.untracked += 1
                return 0
            self._first[prefix] = key
            return 0
        if first == key:
            return 0
        shared = self._shared.get(prefix)
        if shared is None:
            self._shared[prefix] = {first, key}
            return 2
        if key in shared or len(shared) >= self.max_owners:
            return 0
        shared.add(key)
        return len(shared)

    def collisions(self) -> list[Collision]:
        """Every prefix shared by several owners, most shared first."""
        found = [Collision(p, len(s), len(s) >= self.max_owners) for p, s in self._shared.items()]
        return sorted(found, key=lambda c: (-c.distinct_owners, c.prefix))

    @property
    def tracked(self) -> int:
        return len(self._first)
