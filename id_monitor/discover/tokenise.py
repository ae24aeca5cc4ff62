"""Split an ID into atoms: separators (kept as they are) and runs of letters and digits, each run
given a class (epoch timestamps, counters, hex, UUIDs, ULIDs, words).

The classes are what a schema template can say about a run, so a shape maps onto a template.
Input is cut at MAX_INPUT characters and MAX_ATOMS atoms, so the output is bounded whatever the
input, and tokenising never raises on any string.
"""

from __future__ import annotations

import re
from typing import NamedTuple

MAX_INPUT = 256
MAX_ATOMS = 48

# Epoch times from 2000-01-01 to 2100-01-01: a plausible embedded timestamp, not any 13 digits.
TS_MS_RANGE = (946_684_800_000, 4_102_444_800_000)
TS_S_RANGE = (946_684_800, 4_102_444_800)

_ATOMS = re.compile(
    r"([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})(?![^\W_])"
    r"|([^\W_]+)"
    r"|(.)",
    re.DOTALL,
)
_LOWER_HEX = "0123456789abcdef"
_UPPER_HEX = "0123456789ABCDEF"
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZabcdefghjkmnpqrstvwxyz"
_TS_MS_TEXT = (f"{TS_MS_RANGE[0]:013d}", f"{TS_MS_RANGE[1]:013d}")
_TS_S_TEXT = (f"{TS_S_RANGE[0]:010d}", f"{TS_S_RANGE[1]:010d}")

# Classes of a run. Word classes may be shown as the literal text (given enough support).
TS_MS, TS_S, NUM, HEX, UPPER_HEX, UUID, ULID = "ts_ms", "ts_s", "num", "hex", "HEX", "uuid", "ulid"
LOWER, UPPER, MIXED, TEXT = "lower", "upper", "mixed", "text"
WORD_CLASSES = frozenset((LOWER, UPPER, MIXED, TEXT))
TRUNCATED = "rest"  # stands for everything after MAX_INPUT characters or MAX_ATOMS atoms


class Run(NamedTuple):
    cls: str
    text: str


Atom = str | Run  # a str atom is one separator character


def classify_run(text: str) -> str:
    """The class of one run of letters and digits (C-level string tests only: it runs per ID)."""
    if text.isdigit() and text.isascii():
        n = len(text)
        if n == 13:  # equal-length digit strings compare like the numbers they are
            return TS_MS if _TS_MS_TEXT[0] <= text < _TS_MS_TEXT[1] else NUM
        if n == 10:
            return TS_S if _TS_S_TEXT[0] <= text < _TS_S_TEXT[1] else NUM
        return NUM
    if not text.isascii():
        return TEXT
    n = len(text)
    if n >= 4 and not text.isalpha():  # hex needs a digit; an all-letter run is a word
        if not text.strip(_LOWER_HEX):
            return HEX
        if not text.strip(_UPPER_HEX):
            return UPPER_HEX
        if n == 26 and text[0] in "01234567" and not text.strip(_CROCKFORD) and (text.isupper() or text.islower()):
            return ULID
    if text.islower():
        return LOWER
    if text.isupper():
        return UPPER
    return MIXED


def tokenise(value: str) -> tuple[Atom, ...]:
    """Atoms of `value`: separator characters and classified runs, at most MAX_ATOMS of them."""
    cut = len(value) > MAX_INPUT
    atoms: list[Atom] = []
    for uuid, run, sep in _ATOMS.findall(value[:MAX_INPUT] if cut else value):
        if len(atoms) == MAX_ATOMS - 1:
            cut = True
            break
        if sep:
            atoms.append(sep)
        elif run:
            atoms.append(Run(classify_run(run), run))
        else:
            atoms.append(Run(UUID, uuid))
    if cut:
        atoms.append(Run(TRUNCATED, ""))
    return tuple(atoms)
