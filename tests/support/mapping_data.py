"""Mapping tables with planted faults, and the findings they must produce.

The ground truth is computed here from what was planted, without any of id-monitor's code: a
clean row maps a fresh uuid4 (legacy) to a fresh `session` target whose embedded owner is the
row's user's first 8 characters. Each planted fault adds rows and the (rule, value) it must be
reported as, exactly once.
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass, field

MAPPING = "sessions"
TABLE_SPEC = {"name": "id_map", "legacy_column": "legacy_id", "target_column": "target_id",
              "owner_column": "user_id", "key_column": "id"}
CONFIG = {"mappings": {MAPPING: {"expect": ["session"], "table": TABLE_SPEC}}}


def user(rng: random.Random) -> str:
    return f"{rng.getrandbits(32):08x}{rng.getrandbits(16):04x}"


def legacy(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def target(rng: random.Random, owner: str, counter: int, kind: str = "session_auth") -> str:
    ts = int(time.time() * 1000) - 60_000
    return f"{kind}_{owner[:8]}_{ts}_{counter}_{rng.getrandbits(32):08x}"


@dataclass
class Planted:
    rows: list[tuple[int, str | None, str | None, str]] = field(default_factory=list)
    expected: set[tuple[str, str | None]] = field(default_factory=set)
    counter: int = 0

    def add(self, legacy_id: str | None, target_id: str | None, user_id: str) -> int:
        self.counter += 1
        self.rows.append((self.counter, legacy_id, target_id, user_id))
        return self.counter


def planted_table(clean: int, seed: int = 7) -> Planted:
    """`clean` clean rows plus one of each in-table fault."""
    rng = random.Random(seed)
    p = Planted()
    for _ in range(clean):
        u = user(rng)
        p.add(legacy(rng), target(rng, u, p.counter + 1), u)
    # one legacy ID, two targets
    u, lg = user(rng), legacy(rng)
    p.add(lg, target(rng, u, 900_001), u)
    p.add(lg, target(rng, u, 900_002), u)
    p.expected.add(("mapping_conflict", lg))
    # one target, two legacy IDs
    u = user(rng)
    tg = target(rng, u, 900_003)
    p.add(legacy(rng), tg, u)
    p.add(legacy(rng), tg, u)
    p.expected.add(("mapping_conflict", tg))
    # the legacy side is already a target ID
    u = user(rng)
    bad = f"thread_run_{int(time.time() * 1000)}_5_{rng.getrandbits(32):08x}"
    p.add(bad, target(rng, u, 900_004), u)
    p.expected.add(("mapping_malformed", bad))
    # the target side is a legacy ID
    bad = legacy(rng)
    p.add(legacy(rng), bad, user(rng))
    p.expected.add(("mapping_malformed", bad))
    # the target is a target of the wrong id_type
    u = user(rng)
    bad = target(rng, u, 900_005, kind="error_timeout")
    p.add(legacy(rng), bad, u)
    p.expected.add(("mapping_malformed", bad))
    # no target at all
    p.add(legacy(rng), None, user(rng))
    p.expected.add(("mapping_malformed", None))
    # the target carries another user's owner prefix
    bad = target(rng, user(rng), 900_006)
    p.add(legacy(rng), bad, user(rng))
    p.expected.add(("mapping_owner_mismatch", bad))
    rng.shuffle(p.rows)
    return p


def clean_table(rows: int, seed: int = 11) -> Planted:
    rng = random.Random(seed)
    p = Planted()
    for _ in range(rows):
        u = user(rng)
        p.add(legacy(rng), target(rng, u, p.counter + 1), u)
    return p


def findings_of(output: dict) -> set[tuple[str, str | None]]:
    return {(f["rule"], f["id"]) for f in output["findings"]}
