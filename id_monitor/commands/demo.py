"""`id-monitor demo`: the agent on built-in traffic, no broker needed, with a summary at the end.

The demo runs the real agent (the same code path as `id-monitor run` on stdin) fed by the traffic
generator through a pipe, serves /metrics while it runs, and then summarises what the metrics say:
the summary is read back from the agent's own registry, so it shows exactly what Prometheus would.
"""

from __future__ import annotations

import os
import threading
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable

import typer

from id_monitor.commands.app import app


@app.command(
    help=(
        "Run the agent on built-in realistic traffic (no Kafka needed) and print what it saw: "
        "messages, IDs by field and status, migration share, findings by rule. /metrics, /healthz "
        "and /readyz are served on --listen while it runs."
    )
)
def demo(
    count: int = typer.Option(20000, "--count", "-n", min=1, help="Messages to generate."),
    rate: float = typer.Option(0.0, min=0.0, help="Messages per second (0 = as fast as possible)."),
    seed: int = typer.Option(0, help="Random seed for the traffic."),
    breach: float = typer.Option(0.01, min=0.0, max=1.0, help="Share of messages with an isolation breach."),
    listen: str = typer.Option("127.0.0.1:9464", help="Address for /metrics, /healthz, /readyz."),
    linger: float = typer.Option(
        0.0, min=0.0, help="Seconds to keep serving /metrics after the traffic ends (for a scrape)."
    ),
    config: Path | None = typer.Option(
        None, "--config", "-c", help="YAML config (default: the built-in netra config)."
    ),
) -> None:
    import time

    from rich.console import Console

    from id_monitor.agent import Agent
    from id_monitor.config import ConfigError, load_config
    from id_monitor.logs import configure
    from id_monitor.traffic import Mix, generate_lines, paced

    configure("warning")
    try:
        cfg = load_config(config)
    except ConfigError as exc:
        typer.echo(f"id-monitor demo: {exc}", err=True)
        raise typer.Exit(2) from None
    cfg = cfg.model_copy(update={"kafka": None, "metrics": cfg.metrics.model_copy(update={"listen": listen})})

    read_fd, write_fd = os.pipe()
    reader = os.fdopen(read_fd, "rb")

    def produce() -> None:
        with os.fdopen(write_fd, "wb") as writer:
            try:
                for line in paced(generate_lines(count, seed=seed, mix=Mix(breach=breach)), rate):
                    writer.write(line)
                    if rate:
                        writer.flush()
            except BrokenPipeError:
                pass  # the agent stopped early (Ctrl-C)

    try:
        agent = Agent.from_config(cfg, input_stream=reader)
    except OSError as exc:
        typer.echo(f"id-monitor demo: cannot listen on {listen}: {exc.strerror} (try --listen 127.0.0.1:0)",
                   err=True)
        raise typer.Exit(2) from None
    console = Console()
    producer = threading.Thread(target=produce, name="demo-traffic", daemon=True)
    agent.install_signal_handlers()
    url = f"http://{_host(listen)}:{agent.http.port}" if agent.http is not None else None
    started = time.monotonic()
    producer.start()
    with console.status(f"checking {count} generated messages" + (f", metrics at {url}/metrics" if url else "")):
        code = agent.run()
    elapsed = time.monotonic() - started
    reader.close()
    summarise(console, agent.metrics.registry.collect(), elapsed)
    if linger and url is not None:
        from id_monitor.agent.health import HealthServer

        server = HealthServer(listen, agent.metrics.registry, lambda: (True, "demo finished")).start()
        console.print(f"still serving {url}/metrics for {linger:g} s (Ctrl-C to stop)")
        try:
            time.sleep(linger)
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
    raise typer.Exit(code)


def _host(listen: str) -> str:
    host = listen.rsplit(":", 1)[0].strip("[]")
    return "127.0.0.1" if host in ("", "0.0.0.0") else host


def summarise(console: Any, families: Iterable[Any], elapsed: float) -> None:
    """Print the agent's counters as tables: the same numbers /metrics exposes."""
    from rich.table import Table

    messages: dict[str, float] = defaultdict(float)
    ids: dict[tuple[str, str], float] = defaultdict(float)
    findings: dict[tuple[str, str], float] = defaultdict(float)
    for family in families:
        for sample in family.samples:
            if not sample.name.endswith("_total") or not sample.value:
                continue
            labels = sample.labels
            if family.name == "id_monitor_messages":
                messages[labels["result"]] += sample.value
            elif family.name == "id_monitor_ids":
                ids[(labels["field"], labels["status"])] += sample.value
            elif family.name == "id_monitor_findings":
                findings[(labels["rule"], labels["severity"])] += sample.value

    total_messages = sum(messages.values())
    rate = total_messages / elapsed if elapsed > 0 else 0.0
    console.print(
        f"\n[bold]{int(total_messages)}[/] messages in {elapsed:.1f} s ({rate:,.0f}/s): "
        + ", ".join(f"{name} {int(value)}" for name, value in sorted(messages.items()))
    )

    fields = sorted({field for field, _ in ids})
    table = Table(title="IDs by field", title_justify="left")
    for column in ("field", "target", "legacy", "unknown", "migration share"):
        table.add_column(column, justify="left" if column == "field" else "right")
    for field in fields:
        counts = [ids.get((field, status), 0.0) for status in ("target", "legacy", "unknown")]
        total = sum(counts)
        share = f"{counts[0] / total:.1%}" if total else "-"
        table.add_row(field, *(str(int(c)) for c in counts), share)
    console.print(table)

    table = Table(title="Findings", title_justify="left")
    table.add_column("rule")
    table.add_column("severity")
    table.add_column("count", justify="right")
    for (rule, severity), value in sorted(findings.items(), key=lambda item: -item[1]):
        style = "bold red" if rule == "isolation_breach" else None
        table.add_row(rule, severity, str(int(value)), style=style)
    console.print(table)
