"""The `id-monitor` command line.

Each subcommand lives in its own module under `id_monitor.commands` and registers
itself on `app`; this module only assembles them, so `id-monitor --help` stays fast
(subcommands import their heavy dependencies inside the command function).
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="id-monitor",
    help=(
        "Monitor ID formats in live traffic during a migration to a unified ID generator.\n\n"
        "classify: what format is this ID?  check: judge a file of messages.  "
        "run: the sidecar agent (Kafka or stdin).  scan: uuid4 call sites left in code."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Order here is the order in --help.
COMMAND_MODULES = [
    "classify",
    "check",
    "generate",
    "scan",
    "run",
]

for _name in COMMAND_MODULES:
    importlib.import_module(f"id_monitor.commands.{_name}")


def main() -> None:
    app()
