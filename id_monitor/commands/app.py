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


def engine_line() -> str:
    """Which engine `id-monitor run` and `check` would use with the built-in configuration and the
    ID_MONITOR_ environment overrides: `engine: native (core <version>)`, or `engine: python`
    with the reason when `auto` falls back."""
    from id_monitor import native
    from id_monitor.config import ConfigError, load_config
    from id_monitor.schema import SchemaError, load_schema

    try:
        config = load_config()
        name, notice = native.resolve_engine(config.engine, load_schema(config.schema), config)
    except (ConfigError, SchemaError) as exc:
        return f"engine: none ({exc})"
    if name == "native":
        return f"engine: native (core {native.version()})"
    return "engine: python" + (f" ({notice.split('; using')[0]})" if notice else " (configured)")


def _show_version(value: bool) -> None:
    if value:
        from id_monitor import __version__

        line = engine_line()
        typer.echo(f"id-monitor {__version__}, {line}")
        raise typer.Exit(2 if line.startswith("engine: none") else 0)  # a configuration error


@app.callback()
def _main(
    version: bool = typer.Option(False, "--version", callback=_show_version, is_eager=True,
                                 help="Show the version and the engine (native | python) `auto` picks, then exit."),
) -> None:
    pass  # the options above only; the help text is the app's
