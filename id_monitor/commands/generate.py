"""`id-monitor generate`: realistic netra traffic as JSON Lines, for demos and load tests."""

from __future__ import annotations

import sys

import typer

from id_monitor.commands.app import app


@app.command(
    help=(
        "Print realistic messages of the default envelope as JSON Lines: five ID fields per message, "
        "mostly target IDs with a share of legacy and garbage IDs and a few isolation breaches. "
        "Pipe into `id-monitor run` or `id-monitor check -`."
    )
)
def generate(
    count: int = typer.Option(1000, "--count", "-n", min=0, help="Messages to print (0 = endless)."),
    seed: int = typer.Option(0, help="Random seed: the same seed prints the same messages."),
    legacy: float = typer.Option(0.10, min=0.0, max=1.0, help="Share of ID fields with a legacy ID."),
    unknown: float = typer.Option(0.02, min=0.0, max=1.0, help="Share of ID fields with garbage."),
    breach: float = typer.Option(0.01, min=0.0, max=1.0, help="Share of messages with an isolation breach."),
    rate: float = typer.Option(0.0, min=0.0, help="Messages per second (0 = as fast as possible)."),
) -> None:
    from itertools import count as forever

    import orjson

    from id_monitor.traffic import Mix, TrafficGenerator, paced

    if legacy + unknown > 1.0:
        raise typer.BadParameter("--legacy plus --unknown must not exceed 1.0")
    gen = TrafficGenerator(seed=seed, mix=Mix(legacy=legacy, unknown=unknown, breach=breach))
    out = sys.stdout.buffer
    ticks = forever() if count == 0 else range(count)
    try:
        for _ in paced(ticks, rate):
            message, _ = gen.next()
            out.write(orjson.dumps(message) + b"\n")
            if rate:
                out.flush()
        out.flush()
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly, as Unix tools do.
        sys.stderr.close()
