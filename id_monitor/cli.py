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
        "run: the sidecar agent (Kafka, or JSON Lines on stdin).  demo: the agent on built-in "
        "traffic.  check: judge a file of messages.  classify: what is this ID?  "
        "scan: uuid4 call sites left in the code.  generate: realistic traffic."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Order here is the order in --help.
COMMAND_MODULES = [
    "run",
    "demo",
    "check",
    "classify",
    "discover",
    "scan",
    "generate",
]

for _name in COMMAND_MODULES:
    importlib.import_module(f"id_monitor.commands.{_name}")


def main() -> None:
    app()
