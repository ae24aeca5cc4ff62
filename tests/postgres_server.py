"""Pytest plugin: a real PostgreSQL server (Debian's) for the whole test session.

Started by `scripts/postgres up` on a free loopback port in a fresh temporary directory (under /tmp,
so the `postgres` user can reach it when the tests run as root), stopped by `scripts/postgres down`
at the end of the session and its directory removed. Tests get a `PostgresServer` (`postgres`) or
a fresh empty database per test (`pg_dsn`).

Registered from tests/conftest.py via `pytest_plugins`.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.net import free_port

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "postgres"


@dataclass
class PostgresServer:
    port: int
    directory: Path

    def _script(self, command: str, timeout: float = 120) -> str:
        done = subprocess.run([str(SCRIPT), command, "--port", str(self.port), "--dir", str(self.directory)],
                              capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"scripts/postgres {command} failed ({done.returncode}):\n{done.stderr}")
        return done.stdout.strip()

    def start(self) -> None:
        self._script("up")

    def stop(self) -> None:
        self._script("down")

    def is_running(self) -> bool:
        try:
            self._script("status", timeout=10)
            return True
        except RuntimeError:
            return False

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str = "postgres", **kwargs):
        import psycopg

        return psycopg.connect(self.dsn(database), **kwargs)

    def create_database(self) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        with self.connect(autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A running server for the session; stopped and its directory removed at the end."""
    if not list(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")):
        pytest.fail("PostgreSQL is not installed: run scripts/bootstrap (it installs postgresql)")
    directory = Path(tempfile.mkdtemp(prefix="id-monitor-pg-"))
    server = PostgresServer(port=free_port(), directory=directory)
    server.start()
    try:
        yield server
    finally:
        try:
            server.stop()
        finally:
            shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def pg_dsn(postgres: PostgresServer) -> str:
    """The DSN of a fresh, empty database on the session server."""
    return postgres.dsn(postgres.create_database())
