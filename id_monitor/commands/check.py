"""`id-monitor check`: judge a file of messages and summarise what the migration looks like."""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, BinaryIO

import typer

from id_monitor.commands.app import app
from id_monitor.commands.inputs import fail, open_input

if TYPE_CHECKING:
    from id_monitor.judge import Report
    from id_monitor.model import Finding
    from id_monitor.pipeline import Engine

_HELP = """Judge a file of messages (JSON Lines, or a JSON array) against the ID policy.

Every ID the configuration locates is classified and checked (unknown_format, unexpected_type,
legacy_id, isolation_breach, mismatched_reference, timestamp_skew, missing_id, not_a_string,
owner_collision); unreadable lines are `malformed` findings with their line number. IDs are
shown redacted (--redact, default mask). The file is streamed: memory stays constant whatever
its size, and a line over limits.max_message_bytes is skipped and reported, never loaded whole.

Exit status: 0 no violation, 1 violations found, 2 usage or configuration error.

Examples:

  id-monitor check events.jsonl

  kubectl logs deploy/chat | id-monitor check --config id-monitor.yaml -

  id-monitor check --json events.jsonl | jq -r 'select(.rule == "isolation_breach") | .line'
"""


@dataclass
class Summary:
    """Everything the human report shows; bounded by the label sets (rules, fields, formats)."""

    show: int
    messages: int = 0
    malformed: int = 0
    ids: int = 0
    violations: int = 0
    warnings: int = 0
    findings: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    formats: Counter[tuple[str, str]] = field(default_factory=Counter)
    per_field: dict[str, Counter[str]] = field(default_factory=dict)
    isolation: Counter[str] = field(default_factory=Counter)
    first_violations: list[tuple[int, Finding]] = field(default_factory=list)
    first_warnings: list[tuple[int, Finding]] = field(default_factory=list)

    def add(self, line: int, report: Report, malformed: bool = False) -> None:
        self.messages += 1
        self.malformed += malformed
        for name, info in report.ids:
            self.ids += 1
            self.formats[(info.status, info.format or "-")] += 1
            counts = self.per_field.get(name)
            if counts is None:
                counts = self.per_field[name] = Counter()
            counts[info.status] += 1
        for _, outcome in report.isolation:
            self.isolation[outcome] += 1
        for finding in report.findings:
            self.findings[(finding.rule, finding.field, finding.severity)] += 1
            if finding.severity == "violation":
                self.violations += 1
                if len(self.first_violations) < self.show:
                    self.first_violations.append((line, finding))
            else:
                self.warnings += 1
                if len(self.first_warnings) < self.show:
                    self.first_warnings.append((line, finding))

    def first(self) -> list[tuple[int, Finding]]:
        """The first `show` findings in line order, violations before warnings when there are more."""
        chosen = self.first_violations + self.first_warnings[: max(0, self.show - len(self.first_violations))]
        return sorted(chosen, key=lambda item: item[0])


@app.command(help=_HELP)
def check(
    path: Annotated[str, typer.Argument(metavar="PATH|-", help="File of messages, or - for stdin.")],
    config_path: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            metavar="FILE",
            envvar="ID_MONITOR_CONFIG",
            help="Configuration YAML (default: the built-in netra envelope). "
            "ID_MONITOR_<SECTION>__<KEY> variables override it.",
        ),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="One JSON object per finding (keys: line, rule, field, severity, format, id_type, id, "
            "detail) instead of the summary.",
        ),
    ] = False,
    redact_mode: Annotated[
        str | None,
        typer.Option(
            "--redact",
            metavar="mask|hash|none",
            help="How IDs are shown (default: violations.redact from the config, else mask).",
        ),
    ] = None,
    show: Annotated[
        int, typer.Option("--show", min=0, help="How many findings the summary lists (with line numbers).")
    ] = 20,
    now: Annotated[
        str | None,
        typer.Option(
            "--now",
            metavar="MS|ISO",
            help="Observation time for timestamp_skew (epoch ms or ISO 8601; default: the current time).",
        ),
    ] = None,
) -> None:
    from id_monitor.config import ConfigError, load_config
    from id_monitor.pipeline import build_engine
    from id_monitor.schema import SchemaError
    from id_monitor.sinks.redact import REDACT_MODES

    if redact_mode is not None and redact_mode not in REDACT_MODES:
        fail(f"--redact must be one of {', '.join(REDACT_MODES)}, got {redact_mode!r}")
    observed_ms = _observation_time(now)
    try:
        config = load_config(config_path)
        engine = build_engine(config, redact=redact_mode)
    except (ConfigError, SchemaError) as exc:
        fail(str(exc))
    stream = open_input(path)
    summary = Summary(show=show)
    try:
        _run(engine, stream, summary, observed_ms, as_json)
    except BrokenPipeError:  # `| head`: the reader left, nothing more to say
        sys.stderr.close()
        raise typer.Exit(1 if summary.violations else 0) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    if not as_json:
        _print_summary(summary, engine, path)
    raise typer.Exit(1 if summary.violations else 0)



def _observation_time(now: str | None) -> int:
    import time
    from datetime import UTC, datetime

    if now is None:
        return int(time.time() * 1000)
    if now.isdigit():
        return int(now)
    try:
        moment = datetime.fromisoformat(now)
    except ValueError:
        fail(f"--now must be epoch milliseconds or ISO 8601, got {now!r}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)



def _run(engine: Engine, stream: BinaryIO, summary: Summary, observed_ms: int, as_json: bool) -> None:
    import orjson

    from id_monitor.pipeline import Checker
    from id_monitor.sources.files import read_records

    checker = Checker(engine)
    check, malformed = checker.check_message, engine.judge.malformed
    finding_dict = engine.redactor.finding
    write = sys.stdout.buffer.write if as_json else None
    for line, raw, problem in read_records(stream, engine.config.limits.max_message_bytes):
        report, readable = (malformed(problem or "not_json"), False) if raw is None else check(raw, observed_ms)
        summary.add(line, report, not readable)
        if write is not None:
            for finding in report.findings:
                write(orjson.dumps({"line": line, **finding_dict(finding)}) + b"\n")
    if write is not None:
        sys.stdout.flush()


def _print_summary(summary: Summary, engine: Engine, path: str) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from id_monitor.sinks.redact import redact, shape

    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=max(console.width, 160))
    source = "stdin" if path == "-" else escape(path)  # text from input is never Rich markup
    console.print(
        f"[bold]{source}[/]: {summary.messages} messages ({summary.malformed} malformed), "
        f"{summary.ids} IDs, [red]{summary.violations} violations[/], "
        f"[yellow]{summary.warnings} warnings[/]"
    )

    if summary.findings:
        table = Table(title="Findings by rule and field", title_justify="left")
        for column in ("rule", "field", "severity"):
            table.add_column(column)
        table.add_column("count", justify="right")
        for (rule, name, severity), count in sorted(summary.findings.items(), key=lambda kv: (-kv[1], kv[0])):
            style = "red" if severity == "violation" else "yellow"
            table.add_row(rule, escape(name), f"[{style}]{severity}[/]", str(count))
        console.print(table)

    if summary.formats:
        table = Table(title="IDs by status and format", title_justify="left")
        for column in ("status", "format"):
            table.add_column(column)
        table.add_column("count", justify="right")
        table.add_column("share", justify="right")
        order = {"target": 0, "legacy": 1, "unknown": 2}
        for (status, fmt), count in sorted(summary.formats.items(), key=lambda kv: (order[kv[0][0]], -kv[1])):
            table.add_row(status, escape(fmt), str(count), f"{100 * count / summary.ids:.1f}%")
        console.print(table)

    if summary.per_field:
        table = Table(title="Migration by field (target / all IDs checked)", title_justify="left")
        table.add_column("field")
        for column in ("IDs", "target", "legacy", "unknown", "migrated"):
            table.add_column(column, justify="right")
        fields = engine.config.fields
        for name in [*fields, *sorted(set(summary.per_field) - set(fields))]:
            counts = summary.per_field.get(name)
            if not counts:
                continue
            total = sum(counts.values())
            table.add_row(
                name,
                str(total),
                str(counts["target"]),
                str(counts["legacy"]),
                str(counts["unknown"]),
                f"{100 * counts['target'] / total:.1f}%",
            )
        console.print(table)

    if summary.isolation:
        iso = summary.isolation
        console.print(
            f"Isolation: {iso['match']} owner-bearing IDs matched their message's user, "
            f"{iso['breach']} breaches, {iso['no_owner']} not judged (message without a user)"
        )
    owners = engine.judge.owners
    if owners is not None and owners.collisions():
        collisions = owners.collisions()
        mode = engine.redactor.mode
        shown = ", ".join(
            f"{escape(shape(c.prefix) if mode == 'mask' else redact(c.prefix, mode))} "
            f"({c.distinct_owners}{'+' if c.capped else ''} users)"
            for c in collisions[:10]
        )
        more = f" and {len(collisions) - 10} more" if len(collisions) > 10 else ""
        console.print(
            f"[yellow]Owner prefixes shared by several users[/] (isolation checks cannot tell them apart): "
            f"{shown}{more}"
        )
    if owners is not None and owners.untracked:
        console.print(f"Owner tracking table full: {owners.untracked} messages' owners not tracked")

    first = summary.first()
    if first:
        total = summary.violations + summary.warnings
        title = f"First {len(first)} of {total} findings" + (
            " (violations first)" if summary.violations else ""
        )
        table = Table(title=title, title_justify="left")
        for column in ("line", "rule", "field", "severity", "format", "id_type", "id", "detail"):
            table.add_column(
                column,
                justify="right" if column == "line" else "left",
                overflow="fold",
                no_wrap=column != "id",
            )
        for line, finding in first:
            f = engine.redactor.finding(finding)
            table.add_row(
                str(line),
                f["rule"],
                escape(f["field"]),
                f["severity"],
                escape(f["format"] or ""),
                escape(f["id_type"] or ""),
                escape(f["id"] or ""),
                escape(f["detail"] or ""),
            )
        console.print(table)
    elif not summary.findings:
        console.print("[green]No findings.[/]")
