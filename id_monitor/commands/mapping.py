"""`id-monitor mapping check`: verify a legacy -> target mapping table (PostgreSQL or SQLite)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from id_monitor.commands.app import app

mapping_app = typer.Typer(
    name="mapping",
    help="Verify legacy -> target ID mappings (docs/mapping.md).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(mapping_app, name="mapping")

_HELP = """Scan a mapping table and report every pair that breaks the mapping's rules:

  mapping_conflict        a legacy ID with two targets, a target with two legacy IDs, or a pair
                          that changed since the last complete scan (state: mapping_state.path)
  mapping_malformed       the legacy side is not a legacy ID, the target side is not a target of
                          the mapping's expected id_type, or a side is NULL
  mapping_owner_mismatch  the target's embedded owner differs from the row's user (owner_column)

The mapping (table, columns, expected id_type) comes from the `mappings` section of --config. The
table is read in one read-only transaction with keyset pagination (memory stays one page; indexes
on (legacy, key) and (target, key) make each page an index range read). IDs in the output are
redacted (--redact).

Examples:

  id-monitor mapping check --config id-monitor.yaml --mapping threads \\
      --dsn postgresql://monitor@db:5432/app

  id-monitor mapping check --config demo.yaml --mapping threads --dsn ./mappings.sqlite --json

Exit status: 0 clean, 1 findings, 2 bad usage or configuration, or the table could not be read to
the end (a dropped connection gives no verdict).
"""


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


@mapping_app.command("check", help=_HELP)
def check(
    dsn: Annotated[str, typer.Option(
        "--dsn", metavar="DSN", help="postgresql://user@host:port/db (or libpq key=value), or a SQLite file "
                                     "(path or sqlite:///path).", show_default=False)],
    mapping: Annotated[str, typer.Option(
        "--mapping", "-m", metavar="NAME", help="The mapping's name in the config's `mappings` section.",
        show_default=False)],
    config_path: Annotated[Path | None, typer.Option(
        "--config", "-c", metavar="PATH", help="Configuration file (default: $ID_MONITOR_CONFIG).",
        envvar="ID_MONITOR_CONFIG", show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object: counts, findings, state.")] = False,
    redact: Annotated[str | None, typer.Option(
        "--redact", metavar="MODE", help="mask | hash | none (default: violations.redact, else mask).")] = None,
    state: Annotated[str | None, typer.Option(
        "--state", metavar="PATH", help="State file (default: mapping_state.path); `none` keeps no state, "
                                        "so changes over time are not checked.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=0, help="Findings shown (all are counted).")] = 100,
    page_size: Annotated[int, typer.Option("--page-size", min=1, max=1_000_000,
                                           help="Rows per page of the scan.")] = 10_000,
) -> None:
    from id_monitor.classify import Classifier
    from id_monitor.config import ConfigError, load_config
    from id_monitor.mapping import PairRules, PairStore, TableCheck
    from id_monitor.pipeline import build_engine
    from id_monitor.schema import SchemaError
    from id_monitor.sources.tables import TableError, open_table

    try:
        config = load_config(config_path)
        engine = build_engine(config, redact=redact, track_owners=False)
    except (ConfigError, SchemaError) as exc:
        raise _fail(str(exc)) from None
    except ValueError as exc:  # an unknown --redact mode
        raise _fail(str(exc)) from None
    spec = config.mappings.get(mapping)
    if spec is None:
        known = ", ".join(config.mappings) or "none configured"
        raise _fail(f"no mapping {mapping!r} in the config's mappings section (mappings: {known})")
    if spec.table is None:
        raise _fail(f"mappings.{mapping} has no table (set mappings.{mapping}.table.name)")
    severity = engine.judge.severity
    # a table's IDs are each seen once or twice: a cache would only cost
    classifier = Classifier(engine.schema, cache_size=0, max_length=config.limits.max_id_length)
    rules = PairRules(mapping, classifier.classify, severity, spec.expect, config.owner.width)
    state_path = state if state is not None else config.mapping_state.path
    store = None
    try:
        if state_path != "none":
            store = PairStore(state_path, config.mapping_state.max_pairs)
        with open_table(dsn, spec.table, page_size) as rows:
            report = TableCheck(rules, store, severity, keep_findings=limit).run(rows)
            kind = rows.kind
    except TableError as exc:
        raise _fail(f"mapping {mapping}: {exc}; no verdict") from None
    except OSError as exc:
        raise _fail(f"state file {state_path}: {exc}") from None
    finally:
        if store is not None:
            store.close()
    if as_json:
        _print_json(report, engine.redactor, kind, spec.table.name)
    else:
        _print_text(report, engine.redactor, kind, spec.table.name)
    raise typer.Exit(0 if report.clean else 1)


def _print_json(report, redactor, kind: str, table: str) -> None:
    import orjson

    out = {
        "mapping": report.mapping,
        "source": kind,
        "table": table,
        "rows": report.rows,
        "clean": report.clean,
        "counts": report.counts,
        "findings": [redactor.finding(f) for f in report.findings],
        "findings_shown": len(report.findings),
        "state": {"remembered": report.remembered, "unremembered": report.unremembered},
    }
    sys.stdout.write(orjson.dumps(out).decode() + "\n")


def _print_text(report, redactor, kind: str, table: str) -> None:
    verdict = "clean" if report.clean else f"{report.total:,} finding{'s' if report.total != 1 else ''}"
    typer.echo(f"mapping {report.mapping} ({kind} table {table}): {report.rows:,} rows, {verdict}")
    for rule, count in report.counts.items():
        if count:
            typer.echo(f"  {rule}: {count:,}")
    for finding in report.findings:
        shown = redactor.finding(finding)
        typer.echo(f"  {shown['severity']:<9} {shown['rule']:<23} {shown['id'] if shown['id'] is not None else '-'}  {shown['detail']}")
    if len(report.findings) < report.total:
        typer.echo(f"  ... {report.total - len(report.findings):,} more (--limit)")
    if report.unremembered:
        typer.echo(f"  state full: {report.unremembered:,} pairs not remembered for the next scan "
                   f"(mapping_state.max_pairs)")
