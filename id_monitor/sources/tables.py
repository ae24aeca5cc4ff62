"""Mapping tables as ordered row streams: PostgreSQL (psycopg 3) and SQLite files.

`open_table(dsn, spec)` gives a `TableRows` whose passes (`by_legacy`, `by_target`, `with_null`)
read the table with keyset pagination: each page is `WHERE (column, key) > (last seen) ORDER BY
column, key LIMIT page_size`, so memory stays one page whatever the table's size, and with an index
on (column, key) every page is an index range read. All passes run in one read-only transaction
(PostgreSQL: REPEATABLE READ, one snapshot; SQLite: one read transaction on a file opened
read-only), so the passes see the same rows even while the application writes.

A database error (a dropped connection, a missing table) ends the scan with `TableError`: one line
saying what failed after how many rows, never a partial result.

DSNs: `postgresql://...` / `postgres://...` or a libpq `key=value` string; `sqlite:///path` or a
path to an existing file for SQLite.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from id_monitor.config import MappingTableSpec

PAGE_SIZE = 10_000


class TableError(Exception):
    """A mapping table could not be read to the end; str() is one line."""


def _quote(name: str) -> str:
    return ".".join(f'"{part}"' for part in name.split("."))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else 'no detail'}"


class TableRows:
    """One table's passes over an open read-only transaction (see the module docstring)."""

    kind = "table"

    def __init__(self, spec: MappingTableSpec, placeholder: str, page_size: int = PAGE_SIZE) -> None:
        self.spec = spec
        self.page_size = page_size
        self.rows_read = 0
        q, p = _quote, placeholder
        legacy, target, key = q(spec.legacy_column), q(spec.target_column), q(spec.key_column)
        owner = q(spec.owner_column) if spec.owner_column else "NULL"
        table = q(spec.name)
        both = f"{legacy} IS NOT NULL AND {target} IS NOT NULL"
        select = f"SELECT {legacy}, {target}, {owner}, {key} FROM {table}"
        self._sql: dict[str, tuple[str, str, int]] = {}
        for pass_name, column, position in (("legacy", legacy, 0), ("target", target, 1)):
            first = f"{select} WHERE {both} ORDER BY {column}, {key} LIMIT {page_size}"
            after = f"{select} WHERE {both} AND ({column}, {key}) > ({p}, {p}) ORDER BY {column}, {key} LIMIT {page_size}"
            self._sql[pass_name] = (first, after, position)
        nulls = f"({legacy} IS NULL OR {target} IS NULL)"
        self._sql["null"] = (
            f"{select} WHERE {nulls} ORDER BY {key} LIMIT {page_size}",
            f"{select} WHERE {nulls} AND {key} > {p} ORDER BY {key} LIMIT {page_size}",
            -1,
        )

    def _fetch(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _pages(self, pass_name: str) -> Iterator[tuple[object, object, object]]:
        first, after, position = self._sql[pass_name]
        rows = self._run(first, ())
        while rows:
            for row in rows:
                yield row[0], row[1], row[2]
            self.rows_read += len(rows)
            if len(rows) < self.page_size:
                return
            last = rows[-1]
            rows = self._run(after, (last[3],) if position < 0 else (last[position], last[3]))

    def _run(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        try:
            return self._fetch(sql, params)
        except TableError:
            raise
        except Exception as exc:  # the driver's errors: connection lost, no such table, ...
            raise TableError(f"reading {self.spec.name} failed after {self.rows_read} rows: "
                             f"{_first_line(exc)}") from None

    def by_legacy(self) -> Iterator[tuple[object, object, object]]:
        return self._pages("legacy")

    def by_target(self) -> Iterator[tuple[object, object, object]]:
        return self._pages("target")

    def with_null(self) -> Iterator[tuple[object, object, object]]:
        return self._pages("null")

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> TableRows:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PostgresRows(TableRows):
    kind = "postgresql"

    def __init__(self, dsn: str, spec: MappingTableSpec, page_size: int = PAGE_SIZE) -> None:
        super().__init__(spec, "%s", page_size)
        try:
            import psycopg
        except ImportError:
            raise TableError("PostgreSQL needs psycopg: pip install 'id-monitor[postgres]'") from None
        try:
            self._conn = psycopg.connect(dsn, autocommit=False, connect_timeout=10,
                                         application_name="id-monitor mapping check")
            self._conn.read_only = True
            self._conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            self._cur = self._conn.cursor()
        except Exception as exc:
            raise TableError(f"cannot connect to PostgreSQL: {_first_line(exc)}") from None

    def _fetch(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        self._cur.execute(sql, params or None)
        return self._cur.fetchall()

    def close(self) -> None:
        try:
            self._conn.rollback()
            self._conn.close()
        except Exception:  # closing a connection the server already dropped
            pass


class SqliteRows(TableRows):
    kind = "sqlite"

    def __init__(self, path: str, spec: MappingTableSpec, page_size: int = PAGE_SIZE) -> None:
        super().__init__(spec, "?", page_size)
        if not os.path.isfile(path):
            raise TableError(f"{path}: no such SQLite file")
        try:
            self._conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
            self._conn.execute("BEGIN")
        except sqlite3.Error as exc:
            raise TableError(f"{path}: cannot open: {_first_line(exc)}") from None

    def _fetch(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        return self._conn.execute(sql, params).fetchall()

    def close(self) -> None:
        try:
            self._conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass
        self._conn.close()


def is_postgres(dsn: str) -> bool:
    return dsn.startswith(("postgresql://", "postgres://")) or ("=" in dsn and not os.path.exists(dsn))


def open_table(dsn: str, spec: MappingTableSpec, page_size: int = PAGE_SIZE) -> TableRows:
    """The reader for `dsn` (see the module docstring); raises TableError with one line."""
    if is_postgres(dsn):
        return PostgresRows(dsn, spec, page_size)
    path = dsn.removeprefix("sqlite://")
    return SqliteRows(path, spec, page_size)
