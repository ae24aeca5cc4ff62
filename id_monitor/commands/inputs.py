"""What the file-reading commands (`check`, `discover`) share: opening PATH or `-`, and failing
with one line and exit code 2."""

from __future__ import annotations

import sys
from typing import BinaryIO, NoReturn

import typer


def fail(message: str) -> NoReturn:
    """Usage or configuration error: one line on stderr, exit code 2."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def open_input(path: str) -> BinaryIO:
    """`path` opened for binary reading, or stdin for `-` (the caller closes a file)."""
    if path == "-":
        return sys.stdin.buffer
    try:
        return open(path, "rb")  # noqa: SIM115 - closed by the caller
    except OSError as exc:
        fail(f"{path}: {exc.strerror or exc}")
