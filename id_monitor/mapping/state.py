"""PairStore: the bounded memory of which legacy ID went with which target, on a SQLite file.

IDs are stored as 64-bit keyed hashes (`id_key`), never as text: the file holds no ID value, and a
pair costs about 50 bytes on disk (two WITHOUT ROWID indexes of three integers). The chance that
two of 10 million distinct IDs share a hash is about 3 in a million; such a collision could only
hide a conflict or invent one, and the finding names both values, so it is checkable.

Each namespace (`live:<mapping>`, `table:<mapping>`) holds at most `max_pairs` pairs. When it is
full, new pairs are not stored and are counted in `untracked` (the checks that need no memory keep
working, and the table scan's in-table conflicts are found without this store). Pairs are grouped
in generations: the live checks write generation 0; a table scan writes the next generation and
`promote`s it only when the scan completed, so an interrupted scan leaves the previous state intact.

Writes are committed every `commit_every` changes or after a second, and on `flush`/`close`: after
a crash at most that many pairs are forgotten, which only delays a conflict finding until the pair is seen again.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pairs (
  ns TEXT NOT NULL, gen INTEGER NOT NULL, legacy INTEGER NOT NULL, target INTEGER NOT NULL,
  PRIMARY KEY (ns, gen, legacy)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS by_target (
  ns TEXT NOT NULL, gen INTEGER NOT NULL, target INTEGER NOT NULL, legacy INTEGER NOT NULL,
  PRIMARY KEY (ns, gen, target)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS generations (ns TEXT PRIMARY KEY, gen INTEGER NOT NULL, pairs INTEGER NOT NULL);
"""

_PERSON = b"idmon-map-v1"  # blake2b personalisation: these keys are not any other blake2b use's
_blake2b = hashlib.blake2b
_from_bytes = int.from_bytes


def id_key(value: object) -> int:
    """The signed 64-bit key an ID is stored under (SQLite integers are signed)."""
    text = value if type(value) is str else str(value)
    return _from_bytes(_blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8, person=_PERSON).digest(),
                       "big", signed=True)


class PairStore:
    """Bounded pair memory per namespace, on one SQLite file (":memory:" for none)."""

    def __init__(self, path: str | Path, max_pairs: int = 10_000_000, *, commit_every: int = 1000) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = str(path)
        self.max_pairs = max_pairs
        self.commit_every = commit_every
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level="DEFERRED", check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._pending = 0
        self._committed = time.monotonic()
        self.untracked = 0
        self._gens: dict[str, tuple[int, int]] = {
            ns: (gen, pairs) for ns, gen, pairs in self._db.execute("SELECT ns, gen, pairs FROM generations")
        }
        self._counts: dict[tuple[str, int], int] = {}

    # -- reading ---------------------------------------------------------------------------

    def generation(self, ns: str) -> int:
        return self._gens.get(ns, (0, 0))[0]

    def pairs(self, ns: str, gen: int | None = None) -> int:
        """How many pairs the namespace holds (in its current generation, or in `gen`)."""
        gen = self.generation(ns) if gen is None else gen
        count = self._counts.get((ns, gen))
        if count is None:
            row = self._db.execute("SELECT count(*) FROM pairs WHERE ns=? AND gen=?", (ns, gen)).fetchone()
            count = self._counts[(ns, gen)] = row[0]
        return count

    def target_of(self, ns: str, legacy: int, gen: int | None = None) -> int | None:
        gen = self.generation(ns) if gen is None else gen
        row = self._db.execute("SELECT target FROM pairs WHERE ns=? AND gen=? AND legacy=?",
                               (ns, gen, legacy)).fetchone()
        return None if row is None else row[0]

    def legacy_of(self, ns: str, target: int, gen: int | None = None) -> int | None:
        gen = self.generation(ns) if gen is None else gen
        row = self._db.execute("SELECT legacy FROM by_target WHERE ns=? AND gen=? AND target=?",
                               (ns, gen, target)).fetchone()
        return None if row is None else row[0]

    # -- writing ---------------------------------------------------------------------------

    def put(self, ns: str, legacy: int, target: int, gen: int | None = None) -> bool:
        """Remember a pair (the first target of a legacy ID and the first legacy ID of a target
        win). False when the namespace is full and the pair was not stored."""
        gen = self.generation(ns) if gen is None else gen
        count = self.pairs(ns, gen)
        if count >= self.max_pairs:
            self.untracked += 1
            return False
        cur = self._db.execute("INSERT OR IGNORE INTO pairs VALUES (?, ?, ?, ?)", (ns, gen, legacy, target))
        if cur.rowcount:
            self._counts[(ns, gen)] = count + 1
        self._db.execute("INSERT OR IGNORE INTO by_target VALUES (?, ?, ?, ?)", (ns, gen, target, legacy))
        self._pending += 1
        if self._pending >= self.commit_every or time.monotonic() - self._committed >= 1.0:
            self.flush()
        return True

    def put_many(self, ns: str, pairs: list[tuple[int, int]], gen: int | None = None) -> int:
        """`put` for many pairs at once (a table scan's page); returns how many did not fit."""
        gen = self.generation(ns) if gen is None else gen
        count = self.pairs(ns, gen)
        room = max(0, self.max_pairs - count)
        stored, rest = pairs[:room], len(pairs) - min(room, len(pairs))
        if stored:
            before = self._db.total_changes
            self._db.executemany("INSERT OR IGNORE INTO pairs VALUES (?, ?, ?, ?)",
                                 [(ns, gen, legacy, target) for legacy, target in stored])
            self._counts[(ns, gen)] = count + (self._db.total_changes - before)
            self._db.executemany("INSERT OR IGNORE INTO by_target VALUES (?, ?, ?, ?)",
                                 [(ns, gen, target, legacy) for legacy, target in stored])
        self.untracked += rest
        return rest

    def begin_generation(self, ns: str) -> int:
        """A fresh generation to fill (a table scan): emptied of any rows an earlier, interrupted
        scan left."""
        gen = self.generation(ns) + 1
        self._db.execute("DELETE FROM pairs WHERE ns=? AND gen=?", (ns, gen))
        self._db.execute("DELETE FROM by_target WHERE ns=? AND gen=?", (ns, gen))
        self._counts[(ns, gen)] = 0
        return gen

    def promote(self, ns: str, gen: int) -> None:
        """Make `gen` the namespace's current generation and drop the older ones, atomically."""
        pairs = self.pairs(ns, gen)
        self._db.execute("DELETE FROM pairs WHERE ns=? AND gen<?", (ns, gen))
        self._db.execute("DELETE FROM by_target WHERE ns=? AND gen<?", (ns, gen))
        self._db.execute("INSERT OR REPLACE INTO generations VALUES (?, ?, ?)", (ns, gen, pairs))
        self._db.commit()
        self._pending = 0
        self._gens[ns] = (gen, pairs)

    def flush(self) -> None:
        self._db.commit()
        self._pending = 0
        self._committed = time.monotonic()

    def close(self) -> None:
        self.flush()
        self._db.close()

    def discard(self) -> None:
        """Forget uncommitted writes (an interrupted scan); the current generations stay."""
        self._db.rollback()
        self._pending = 0
        self._counts.clear()
