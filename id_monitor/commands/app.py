"""The Typer application every subcommand registers itself on (`@app.command`)."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="id-monitor",
    help=(
        "Monitor ID formats in live traffic during a migration to a unified ID generator.\n\n"
        "run: the sidecar agent (Kafka, or JSON Lines on stdin).  demo: the agent on built-in "
        "traffic.  check: judge a file of messages.  classify: what is this ID?  "
        "scan: uuid4 call sites left in the code.  generate: realistic traffic.  "
        "mapping check: verify a legacy -> target mapping table."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
