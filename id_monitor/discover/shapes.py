"""ShapeMiner: the bounded top-K of ID shapes, with the support threshold that keeps user values
out of every shape.

A shape's key is its skeleton: separators as they are, and for each run its class and a length
bucket (hex lengths by powers of two, so hex(8) and hex(32) stay apart while hex(6) and hex(8)
merge; counters and words of any length are one bucket). Literal words are not in the key: each
word position keeps a small table of the words seen there with their distinct-ID support, and
a word is shown (as a literal, or several as an enum) only when its support reaches K and the
supported words cover the position. Everything the miner keeps is bounded (docs/discover.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from id_monitor.discover import propose
from id_monitor.discover.plan import MAX_PLANS, SIGNATURE, Plan
from id_monitor.discover.support import LiteralTable
from id_monitor.discover.tokenise import (
    HEX,
    MAX_INPUT,
    NUM,
    TRUNCATED,
    TS_MS,
    TS_S,
    UPPER_HEX,
    WORD_CLASSES,
    Atom,
)
from id_monitor.discover.topk import Counted, SpaceSaving
from id_monitor.model import IdInfo
from id_monitor.sinks.redact import redact

DEFAULT_CAPACITY = 256
LITERALS_PER_POSITION = 4
MAX_LITERAL_POSITIONS = 8
LITERAL_COVERAGE = 0.95  # supported words must cover this share of a position to be shown
MAX_SHAPE_TEXT = 160
_SIZED = frozenset((HEX, UPPER_HEX, NUM, *WORD_CLASSES))  # classes shown with their lengths

Key = tuple[Any, ...]
# classes a random hex run falls into by chance (all digits, all letters, digits in the epoch range)
_FOLDABLE = frozenset((NUM, TS_MS, TS_S, *WORD_CLASSES))


def _bucket(cls: str, n: int) -> int:
    if cls == HEX or cls == UPPER_HEX:
        return (n - 1).bit_length()
    return 0


def skeleton(atoms: tuple[Atom, ...]) -> Key:
    return tuple(a if type(a) is str else (a.cls, _bucket(a.cls, len(a.text))) for a in atoms)


def _pins_nothing(atoms: list[Any]) -> bool:
    """A shape with no separator, no literal and no fixed length (`{mixed:4-40}`) would match any
    garbage: it is not a shape worth a format, so it is not reported."""
    for atom in atoms:
        if isinstance(atom, str) or atom[1] in ("literal", "enum"):
            return False
        detail = atom[2]
        if not isinstance(detail, tuple) or detail[0] == detail[1]:  # ts, uuid, ulid, or one length
            return False
    return True


class ShapeStats:
    """What one kept shape remembers: length range and zero-padding per run, literal tables for
    its first word positions, and one redacted example."""

    __slots__ = ("example", "last_plan", "lengths", "literals", "padded")

    def __init__(self, key: Key, example: str, min_support: int) -> None:
        self.example = example
        self.last_plan: Plan | None = None
        self.lengths: dict[int, list[int]] = {}
        self.padded: set[int] = set()
        word_positions = [i for i, a in enumerate(key) if type(a) is tuple and a[0] in WORD_CLASSES]
        self.literals = {i: LiteralTable(LITERALS_PER_POSITION, min_support)
                         for i in word_positions[:MAX_LITERAL_POSITIONS]}

    def update_lengths(self, plan: Plan) -> None:
        """Widen the length ranges by a plan's (the same for every ID of one plan)."""
        self.last_plan = plan
        lengths = self.lengths
        for i, n in plan.lengths:
            span = lengths.get(i)
            if span is None:
                lengths[i] = [n, n]
            elif n < span[0]:
                span[0] = n
            elif n > span[1]:
                span[1] = n


@dataclass(frozen=True)
class ShapeRow:
    """One reported shape: the objects of `discover --json` and of the agent's /debug/shapes."""

    field: str | None
    shape: str
    count: int
    share: float
    example: str
    template: str | None
    id_type: str

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "shape": self.shape, "count": self.count, "share": round(self.share, 6),
                "example": self.example, "template": self.template, "id_type": self.id_type}


class ShapeMiner:
    """Counts the shapes of the IDs it is shown; `rows()` reports the supported top shapes."""

    def __init__(self, *, min_support: int = 20, capacity: int = DEFAULT_CAPACITY,
                 redact_mode: str = "mask") -> None:
        self.min_support = min_support
        self.redact_mode = redact_mode
        self.total = 0
        self._shapes: SpaceSaving[Key, ShapeStats | None] = SpaceSaving(capacity, lambda key: None)
        self._plans: dict[bytes, Plan] = {}
        # Signatures seen once: a plan is kept from the second sighting on, so all-unique shapes
        # (hostile traffic) cost a set entry each instead of a plan of a few KB each.
        self._sighted: set[bytes] = set()
        self._items = self._shapes._items  # read-only view for the hot path

    @property
    def capacity(self) -> int:
        return self._shapes.capacity

    def observe(self, value: str, info: IdInfo | None = None) -> None:
        # The hot path: the plan cache, SpaceSaving.add and LiteralTable.add written out inline.
        key = None
        if len(value) <= MAX_INPUT and value.isascii():
            plans = self._plans
            sig = value.encode("ascii").translate(SIGNATURE)
            plan = plans.get(sig)
            if plan is None:
                plan = Plan(value, _bucket)
                sighted = self._sighted
                if sig in sighted:
                    if len(plans) >= MAX_PLANS:
                        plans.clear()
                    plans[sig] = plan
                else:
                    if len(sighted) >= MAX_PLANS:
                        sighted.clear()
                    sighted.add(sig)
            key = plan.read(value)
        if key is None:  # non-ASCII, over-long, or not what its signature's plan expects
            plan = Plan(value, _bucket)
            key = plan.read(value)
            assert key is not None  # a plan always fits the value it was made from
        texts = plan.texts
        shapes = self._shapes
        cached = plan.entry
        if key is plan.key and cached is not None and cached[0] == shapes.evictions:
            entry = cached[1]  # no eviction since: still the kept entry (saves hashing the key)
        else:
            entry = self._items.get(key)
            if entry is None:
                entry = shapes.add(key, 0)
            if key is plan.key:
                plan.entry = (shapes.evictions, entry)
        entry.count += 1
        self.total += 1
        stats = entry.value
        if stats is None:
            stats = entry.value = ShapeStats(key, redact(value, self.redact_mode, info), self.min_support)
        if plan is not stats.last_plan:
            stats.update_lengths(plan)
        literals = stats.literals
        id_hash = None
        runs = plan.runs
        for slot in range(len(runs)):
            i = runs[slot][0]
            cls = key[i][0]
            if cls is NUM:
                text = texts[slot]
                if text[0] == "0" and len(text) > 1:
                    stats.padded.add(i)
            elif literals and cls in WORD_CLASSES:
                table = literals.get(i)
                if table is None:
                    continue
                text = texts[slot]
                word = table.words.get(text)
                if word is not None and word[1].reached:
                    word[0] += 1
                    continue
                if id_hash is None:
                    id_hash = hash(value)
                table.add(text, id_hash)

    def state_size(self) -> dict[str, int]:
        """How much the miner holds, item by item: each figure is bounded by a constant
        (capacity, MAX_PLANS, LITERALS_PER_POSITION x MAX_LITERAL_POSITIONS, min_support)."""
        stats = [c.value for _, c in self._shapes.items() if c.value is not None]
        tables = [t for st in stats for t in st.literals.values()]
        return {
            "shapes": len(self._shapes),
            "heap": len(self._shapes._heap),
            "plans": len(self._plans),
            "sighted": len(self._sighted),
            "literal_tables": len(tables),
            "literals": sum(len(t.words) for t in tables),
            "support_hashes": sum(slot[1].count for t in tables for slot in t.words.values()
                                  if not slot[1].reached),
            "length_spans": sum(len(st.lengths) for st in stats),
        }

    # ---- reporting ---------------------------------------------------------------------------

    def rows(self, top_n: int, field: str | None = None) -> list[ShapeRow]:
        """The top `top_n` shapes whose guaranteed count reaches the support threshold."""
        kept = self._folded()
        rows = []
        for key, (count, error, own, stats) in sorted(kept.items(), key=lambda kv: -kv[1][0]):
            if count - error < self.min_support or stats is None:
                continue
            atoms = self._render_atoms(key, own, stats)
            if _pins_nothing(atoms):
                continue
            text = "".join(a if isinstance(a, str) else a[0] for a in atoms)
            if len(text) > MAX_SHAPE_TEXT:
                text = text[: MAX_SHAPE_TEXT - 1] + "…"
            template = propose.template(atoms)
            rows.append(ShapeRow(field, text, count, count / self.total if self.total else 0.0, stats.example,
                                 template, propose.id_type(atoms)))
            if len(rows) >= top_n:
                break
        return rows

    def _folded(self) -> dict[Key, tuple[int, int, int, ShapeStats | None]]:
        """Kept shapes, with those that differ from a larger one only by a hex run that happened
        to be all digits (`12345678`, perhaps an epoch time) or all letters (`deadbeef`) counted
        as that larger one."""
        kept: dict[Key, Counted[ShapeStats | None]] = dict(self._shapes.items())
        out = {k: [c.count, c.error, c.count - c.error, c.value] for k, c in kept.items()}
        for key, item in sorted(kept.items(), key=lambda kv: kv[1].count):
            stats = item.value
            if stats is None:
                continue
            for i, atom in enumerate(key):
                if isinstance(atom, str) or atom[0] not in _FOLDABLE:
                    continue
                lo, hi = stats.lengths.get(i, (0, 0))
                target = None
                for cls in (HEX, UPPER_HEX):
                    for b in {_bucket(cls, lo), _bucket(cls, hi)} if lo else ():
                        candidate = key[:i] + ((cls, b),) + key[i + 1:]
                        if candidate in out and out[candidate][0] >= item.count and candidate != key:
                            target = candidate
                if target is not None and key in out:
                    out[target][0] += out[key][0]
                    out[target][1] += out[key][1]
                    del out[key]
                    break
        return {k: (v[0], v[1], v[2], v[3]) for k, v in out.items()}

    def _render_atoms(self, key: Key, base: int, stats: ShapeStats) -> list[Any]:
        """Atoms for display and proposal: separators as str, runs as (text, kind, detail).
        `base` is the shape's own guaranteed count, which its literal tables saw."""
        out: list[Any] = []
        for i, atom in enumerate(key):
            if isinstance(atom, str):
                out.append(atom)
                continue
            cls = atom[0]
            lo, hi = stats.lengths.get(i, (0, 0))
            table = stats.literals.get(i)
            supported = table.supported() if table is not None else {}
            if supported and sum(supported.values()) >= LITERAL_COVERAGE * base:
                words = sorted(supported)
                if len(words) == 1:
                    out.append((words[0], "literal", words[0]))
                else:
                    out.append(("{" + "|".join(words) + "}", "enum", tuple(words)))
                continue
            if cls == TRUNCATED:
                out.append(("…", cls, None))
                continue
            size = "" if cls not in _SIZED else (f":{lo}" if lo == hi else f":{lo}-{hi}")
            out.append((f"{{{cls}{size}}}", cls, (lo, hi, i in stats.padded)))
        return out
