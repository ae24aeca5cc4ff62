"""`id-monitor run`: the sidecar agent (Kafka consumer group, or JSON Lines on stdin)."""

from __future__ import annotations

from pathlib import Path

import typer

from id_monitor.commands.app import app


@app.command(
    help=(
        "Run the agent: check every ID in live messages and export Prometheus metrics on "
        "metrics.listen (/metrics, /healthz, /readyz). With `kafka:` configured it consumes the "
        "topics in a consumer group, committing offsets only after a batch is counted; without it "
        "it reads JSON Lines from stdin (or --input) and exits at end of input."
    )
)
def run(
    config: Path | None = typer.Option(
        None, "--config", "-c", envvar="ID_MONITOR_CONFIG",
        help="YAML config file (default: built-in netra config; ID_MONITOR_* variables override).",
    ),
    input_path: Path | None = typer.Option(
        None, "--input", "-i", help="Read JSON Lines from this file instead of stdin (no-Kafka mode)."
    ),
    batch_size: int | None = typer.Option(
        None, "--batch-size", min=1, max=100_000,
        help="Kafka: most records per poll (default: kafka.consumer.max_poll_records, 2000). Offsets "
        "are committed per batch, so this also bounds how many messages a crash can make the next "
        "run check twice.",
    ),
    workers: int | None = typer.Option(
        None, "--workers", min=1, max=64,
        help="Kafka: check messages in this many worker processes (default: kafka.workers, 1 = in "
        "the agent's own process). Owner-collision tracking is then per worker.",
    ),
    log_level: str = typer.Option("info", "--log-level", help="debug | info | warning | error"),
) -> None:
    from id_monitor.agent import Agent
    from id_monitor.config import ConfigError, load_config
    from id_monitor.logs import configure
    from id_monitor.schema import SchemaError

    if log_level.lower() not in ("debug", "info", "warning", "error"):
        typer.echo(f"id-monitor run: --log-level {log_level!r}: use debug, info, warning or error", err=True)
        raise typer.Exit(2)
    configure(log_level)
    try:
        cfg = load_config(config)
    except ConfigError as exc:
        typer.echo(f"id-monitor run: {exc}", err=True)
        raise typer.Exit(2) from None
    if workers is not None and workers > 1 and cfg.kafka is None:
        typer.echo("id-monitor run: --workers needs kafka configured (stdin is checked in one process)", err=True)
        raise typer.Exit(2)
    stream = None
    if input_path is not None:
        if cfg.kafka is not None:
            typer.echo("id-monitor run: --input reads a file, but kafka is configured", err=True)
            raise typer.Exit(2)
        try:
            stream = open(input_path, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            typer.echo(f"id-monitor run: {input_path}: {exc.strerror}", err=True)
            raise typer.Exit(2) from None
    try:
        try:
            agent = Agent.from_config(cfg, input_stream=stream,
                                      batch_size=batch_size, workers=workers)
        except OSError as exc:  # metrics.listen port taken or not bindable
            typer.echo(f"id-monitor run: cannot listen on {cfg.metrics.listen}: {exc.strerror}", err=True)
            raise typer.Exit(2) from None
        except (SchemaError, ConfigError) as exc:  # an unusable schema, or mapping_state.path cannot be opened
            typer.echo(f"id-monitor run: {exc}", err=True)
            raise typer.Exit(2) from None
        agent.install_signal_handlers()
        raise typer.Exit(agent.run())
    finally:
        if stream is not None:
            stream.close()
