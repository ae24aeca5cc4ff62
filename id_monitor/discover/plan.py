"""The fast path of tokenising: IDs of one shape share a signature, so the atom boundaries are
found once per signature and each ID is then only sliced and its runs classified.

The signature keeps separators and maps every ASCII letter and digit to `a` (one C-level
`bytes.translate`): equal signatures mean equal run boundaries, whatever the letters and
digits, so a shape with random hex, counters or ULIDs has few signatures. What a run's
characters decide (counter, epoch time, hex, word ...) is decided per ID by
tokenise.classify_run. A UUID spans separators, so its spans are checked per ID; an ID whose
check disagrees with the plan takes the slow path (tokenise). Plans are cached in a bounded
dict (MAX_PLANS, cleared when full) from a signature's second sighting on: a plan of a long ID
holds a few KB, and all-unique shapes must not fill the cache with plans never used again.
"""

from __future__ import annotations

from typing import Any

from id_monitor.discover.tokenise import (
    _LOWER_HEX,
    _TS_MS_TEXT,
    _TS_S_TEXT,
    HEX,
    MAX_INPUT,
    NUM,
    TRUNCATED,
    TS_MS,
    TS_S,
    UUID,
    Run,
    classify_run,
    tokenise,
)

MAX_PLANS = 1024
_UUID_CHARS = "0123456789abcdefABCDEF-"  # the dashes' places are fixed by the signature
_UUID_RUNS = (8, 4, 4, 4, 12)


def _signature_table() -> bytes:
    table = bytearray(range(256))
    for c in range(128):
        if chr(c).isalnum():
            table[c] = ord("a")
    return bytes(table)


SIGNATURE = _signature_table()


def _is_uuid(text: str) -> bool:
    return not text.strip(_UUID_CHARS)


class Plan:
    """How to read every ID of one signature: the runs to slice and classify, the UUID spans to
    confirm, and the 8-4-4-4-12 spans that must not turn out to be UUIDs."""

    __slots__ = ("bucket", "candidates", "classes", "entry", "first", "key", "lengths", "runs", "texts", "uuids")

    def __init__(self, value: str, bucket: Any) -> None:
        self.bucket = bucket
        atoms = tokenise(value)
        key: list[Any] = []
        self.runs: list[tuple[int, int, int]] = []  # (atom index, start, end)
        self.uuids: list[tuple[int, int]] = []
        self.lengths: list[tuple[int, int]] = []
        spans: list[tuple[int, int] | None] = []  # per atom: (start, end) of a plain run
        pos = 0
        for i, atom in enumerate(atoms):
            if type(atom) is str:
                key.append(atom)
                spans.append(None)
                pos += 1
                continue
            assert isinstance(atom, Run)
            n = 36 if atom.cls == UUID else len(atom.text)
            key.append((atom.cls, bucket(atom.cls, n)))
            if atom.cls == UUID:
                self.uuids.append((pos, pos + n))
                spans.append(None)
            elif atom.cls != TRUNCATED:
                self.runs.append((i, pos, pos + n))
                self.lengths.append((i, n))
                spans.append((pos, pos + n))
            else:
                spans.append(None)
            pos += n
        self.key: tuple[Any, ...] = tuple(key)
        self.texts: list[str] = [""] * len(self.runs)
        self.first: tuple[str, ...] = tuple(value[start:end] for _, start, end in self.runs)
        self.classes: tuple[str, ...] = tuple(self.key[i][0] for i, _, _ in self.runs)
        self.entry: tuple[int, Any] | None = None  # (evictions then, the miner's entry for `key`)
        # run-sep-run-sep... of 8-4-4-4-12 that were not a UUID here may be one in another ID
        self.candidates: list[tuple[int, int]] = []
        for i in range(len(atoms) - 8):
            window = atoms[i : i + 9]
            if all(window[k] == "-" for k in (1, 3, 5, 7)) and all(
                    spans[i + 2 * k] is not None and len(window[2 * k].text) == _UUID_RUNS[k]  # type: ignore[union-attr]
                    for k in range(5)):
                start = spans[i][0]  # type: ignore[index]
                self.candidates.append((start, start + 36))

    def read(self, value: str) -> tuple[Any, ...] | None:
        """`value`'s skeleton key, with its run texts left in `texts` (aligned with `runs`), or
        None when the plan does not fit it (a UUID span that is not one, or the other way
        round). `texts` is reused from call to call, so reading allocates no containers: the
        cyclic garbage collector, not the slicing, would otherwise dominate the cost."""
        for start, end in self.uuids:
            if not _is_uuid(value[start:end]):
                return None
        for start, end in self.candidates:
            if _is_uuid(value[start:end]):
                return None
        key = self.key
        changed: list[Any] | None = None
        texts, first, classes = self.texts, self.first, self.classes
        for slot, (i, start, end) in enumerate(self.runs):
            text = texts[slot] = value[start:end]
            if text == first[slot]:  # the plan's own word (a literal, mostly): its class
                continue
            # the common classes inline (a call per run costs more than the tests themselves)
            if text.isdigit():
                n = end - start
                if n == 13:
                    cls = TS_MS if _TS_MS_TEXT[0] <= text < _TS_MS_TEXT[1] else NUM
                elif n == 10:
                    cls = TS_S if _TS_S_TEXT[0] <= text < _TS_S_TEXT[1] else NUM
                else:
                    cls = NUM
            elif classes[slot] is HEX and not text.strip(_LOWER_HEX) and not text.isalpha():
                cls = HEX
            else:
                cls = classify_run(text)
            if cls is not classes[slot]:
                if changed is None:
                    changed = list(key)
                changed[i] = (cls, self.bucket(cls, end - start))
        return key if changed is None else tuple(changed)


__all__ = ["MAX_INPUT", "MAX_PLANS", "SIGNATURE", "Plan"]
