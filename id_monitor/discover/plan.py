"""The fast path of tokenising: IDs of one shape share a character-class signature, so they are
tokenised once per signature and then only sliced.

The signature maps each ASCII byte to its class (`9` digit, `h` a-f, `a` g-z, `H` A-F, `A` G-Z,
anything else itself) with one C-level `bytes.translate`. Equal signatures give equal atom
boundaries, the same UUID matches and the same run classes (see tokenise.classify_run), except
for runs whose class needs their value: 10- and 13-digit runs (an epoch time only in a
plausible range) and 26-character runs (a ULID's first digit and alphabet). Those are classified
per ID. Plans are cached in a bounded dict, cleared when full.
"""

from __future__ import annotations

from typing import Any

from id_monitor.discover.tokenise import (
    HEX,
    MAX_INPUT,
    TS_MS,
    TS_MS_RANGE,
    TS_S,
    TS_S_RANGE,
    MIXED,
    NUM,
    TRUNCATED,
    UPPER_HEX,
    UUID,
    WORD_CLASSES,
    Run,
    classify_run,
    tokenise,
)

MAX_PLANS = 4096
# a 26-character run of these classes has that class whatever its value; others may be a ULID
_SETTLED_26 = frozenset((HEX, UPPER_HEX, MIXED, UUID, TRUNCATED))
# digit-run length -> (lowest, highest + 1) plausible epoch time as text, and its class
_TS_TEXT_RANGE = {
    13: (f"{TS_MS_RANGE[0]:013d}", f"{TS_MS_RANGE[1]:013d}", TS_MS),
    10: (f"{TS_S_RANGE[0]:010d}", f"{TS_S_RANGE[1]:010d}", TS_S),
}


def _signature_table() -> bytes:
    table = bytearray(range(256))
    for c in range(256):
        ch = chr(c)
        if ch.isdigit() and c < 128:
            table[c] = ord("9")
        elif "a" <= ch <= "f":
            table[c] = ord("h")
        elif "g" <= ch <= "z":
            table[c] = ord("a")
        elif "A" <= ch <= "F":
            table[c] = ord("H")
        elif "G" <= ch <= "Z":
            table[c] = ord("A")
    return bytes(table)


SIGNATURE = _signature_table()


class Plan:
    """How to read every ID of one signature: its skeleton key (with the per-ID runs to
    classify), the runs whose lengths and words the shape statistics need."""

    __slots__ = ("ambiguous", "bucket", "key", "lengths", "num_starts", "words")

    def __init__(self, value: str, bucket: Any) -> None:
        self.bucket = bucket
        atoms = tokenise(value)
        key: list[Any] = []
        self.ambiguous: list[tuple[Any, ...]] = []  # (index, start, end, lo, hi, ts class or None)
        self.lengths: list[tuple[int, int]] = []
        self.num_starts: list[tuple[int, int]] = []
        self.words: list[tuple[int, int, int]] = []
        pos = 0
        for i, atom in enumerate(atoms):
            if type(atom) is str:
                key.append(atom)
                pos += 1
                continue
            assert isinstance(atom, Run)
            n = len(atom.text) if atom.cls != UUID else 36
            start, end = pos, pos + n
            key.append((atom.cls, bucket(atom.cls, n)))
            if atom.cls != TRUNCATED:
                self.lengths.append((i, n))
            if n in _TS_TEXT_RANGE and atom.text.isdigit():
                self.ambiguous.append((i, start, end, *_TS_TEXT_RANGE[n]))
            elif n == 26 and atom.cls not in _SETTLED_26:
                self.ambiguous.append((i, start, end, None, None, None))
            if atom.cls == NUM and n > 1:
                self.num_starts.append((i, start))
            if atom.cls in WORD_CLASSES or n == 26:
                self.words.append((i, start, end))
            pos = end
        self.key: tuple[Any, ...] = tuple(key)

    def key_for(self, value: str) -> tuple[Any, ...]:
        """The skeleton key of `value` (this plan's own key unless a per-ID class differs)."""
        key = self.key
        changed: list[Any] | None = None
        for i, start, end, lo, hi, ts_cls in self.ambiguous:
            text = value[start:end]
            if ts_cls is not None:  # digits of one length compare as text like numbers
                cls = ts_cls if lo <= text < hi else NUM
            else:
                cls = classify_run(text)
            if cls != key[i][0]:
                if changed is None:
                    changed = list(key)
                changed[i] = (cls, self.bucket(cls, end - start))
        return key if changed is None else tuple(changed)


class Planner:
    """Signature -> Plan, bounded."""

    __slots__ = ("_bucket", "_plans")

    def __init__(self, bucket: Any) -> None:
        self._plans: dict[bytes, Plan] = {}
        self._bucket = bucket

    def plan(self, value: str) -> Plan | None:
        """The plan for `value`, or None when it needs the slow path (non-ASCII, over-long)."""
        if len(value) > MAX_INPUT or not value.isascii():
            return None
        sig = value.encode("ascii").translate(SIGNATURE)
        plan = self._plans.get(sig)
        if plan is None:
            if len(self._plans) >= MAX_PLANS:
                self._plans.clear()
            plan = self._plans[sig] = Plan(value, self._bucket)
        return plan

    def __len__(self) -> int:
        return len(self._plans)
