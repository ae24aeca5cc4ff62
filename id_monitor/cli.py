"""The `id-monitor` command line.

Each subcommand lives in its own module under `id_monitor.commands` and registers itself on the
one Typer app (`id_monitor.commands.app`); this module only assembles them, so `id-monitor --help`
stays fast (subcommands import their heavy dependencies inside the command function).
"""

from __future__ import annotations

# Importing a command module registers it; the order here is the order in --help.
from id_monitor.commands import run, demo, check, classify, discover, scan, generate, mapping, verdict  # noqa: F401, I001
from id_monitor.commands.app import app

__all__ = ["app", "main"]


def main() -> None:
    app()
