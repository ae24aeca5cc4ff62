"""`id-monitor verdict`: go / no-go for a canary (or green) revision from ID health in Prometheus."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from id_monitor.commands.app import app

_HELP = """Compare a canary revision's ID health with its baseline's, from Prometheus, and decide.

Signals: violation ratio, unknown share, legacy share, malformed share (each a one-sided
two-proportion test: fail only when the canary's share exceeds the baseline's times
(1 + --relative-tolerance) plus --tolerance, at --alpha) and isolation breaches (any breach on the canary fails at once).
A side with fewer than --min-count IDs (messages, for breaches) is inconclusive: never a pass.

Selectors are label matchers on the raw id-monitor series:

  id-monitor verdict --prometheus http://prometheus:9090 \\
      --baseline 'revision="blue"' --canary 'revision="green"' --window 10m

  id-monitor verdict --prometheus http://prometheus:9090 --json \\
      --baseline 'rollouts_pod_template_hash="6d4f8"' --canary 'rollouts_pod_template_hash="7c9b2"'

Exit status: 0 pass, 1 fail, 3 inconclusive (not enough traffic), 2 usage or connection error.
Rollout templates and the revision label: docs/rollout.md.
"""


@app.command(help=_HELP)
def verdict(
    prometheus: Annotated[str, typer.Option(
        "--prometheus", metavar="URL", help="Prometheus base URL (its HTTP API is queried).")],
    baseline: Annotated[str, typer.Option(
        "--baseline", metavar="SELECTOR", help='Label matchers of the baseline, e.g. revision="blue".')],
    canary: Annotated[str, typer.Option(
        "--canary", metavar="SELECTOR", help='Label matchers of the canary, e.g. revision="green".')],
    window: Annotated[str, typer.Option(
        "--window", metavar="DURATION", help="How far back to count (a Prometheus duration).")] = "10m",
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object instead of a table.")] = False,
    min_count: Annotated[int, typer.Option(
        "--min-count", min=1, help="Fewest IDs (messages, for breaches) a side needs for a decision.")] = 300,
    alpha: Annotated[float, typer.Option(
        "--alpha", min=1e-9, max=0.5, help="Significance level of the one-sided test.")] = 0.01,
    tolerance: Annotated[float, typer.Option(
        "--tolerance", min=0.0, max=1.0,
        help="Absolute share by which the canary may exceed the baseline (0.01 = 1 percentage point).")] = 0.01,
    relative: Annotated[float, typer.Option(
        "--relative-tolerance", min=0.0,
        help="And by this fraction of the baseline's share (0.5: half as much again).")] = 0.5,
    inconclusive_passes: Annotated[bool, typer.Option(
        "--inconclusive-passes", help="Exit 0 instead of 3 when there is not enough traffic.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", min=0.1, help="Seconds per Prometheus query.")] = 10.0,
) -> None:
    from id_monitor.verdict import Criteria, PrometheusClient, QueryError, decide, read_counts
    from id_monitor.verdict.query import check_selector, check_window

    try:
        client = PrometheusClient(prometheus, timeout=timeout)
        baseline_selector = check_selector(baseline)
        canary_selector = check_selector(canary)
        check_window(window)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        baseline_counts = read_counts(client, baseline_selector, window)
        canary_counts = read_counts(client, canary_selector, window)
    except QueryError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    result = decide(baseline_counts, canary_counts,
                    Criteria(min_count=min_count, alpha=alpha, tolerance=tolerance, relative=relative,
                             inconclusive_passes=inconclusive_passes))
    if as_json:
        typer.echo(json.dumps({"decision": result.decision, "window": window, "baseline": baseline,
                               "canary": canary, "signals": [s.as_dict() for s in result.signals]}))
    else:
        typer.echo(render_table(result))
    raise typer.Exit(result.exit_code)


def render_table(result: object) -> str:
    """The verdict as a fixed-width table (signal, baseline, canary, difference, decision)."""
    rows = [("signal", "baseline", "canary", "difference", "decision")]
    for s in result.signals:  # type: ignore[attr-defined]
        if s.signal == "isolation_breaches":
            base, can, diff = f"{s.baseline.hits:g}", f"{s.canary.hits:g}", f"{s.canary.hits - s.baseline.hits:+g}"
        else:
            base = f"{s.baseline_share:.2%} of {s.baseline.total:g}"
            can = f"{s.canary_share:.2%} of {s.canary.total:g}"
            diff = f"{(s.canary_share - s.baseline_share) * 100:+.2f} pp"
        rows.append((s.signal, base, can, diff, f"{s.decision} ({s.reason})"))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4] for row in rows]
    lines.append(f"verdict: {result.decision}")  # type: ignore[attr-defined]
    return "\n".join(lines)
