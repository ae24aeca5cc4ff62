"""`id-monitor discover`: what do the IDs the schema does not know look like?"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from id_monitor.commands.app import app
from id_monitor.commands.inputs import fail, open_input

_HELP = """Mine the shapes of IDs the schema does not know, and propose schema formats for them.

Reads one ID per line (or, with --messages, JSON Lines messages whose IDs sit at the configured
fields), classifies each, and counts the shapes of the unknown ones (with --all: of every ID).
A shape is the ID cut into separators and classes: 13-digit ms / 10-digit s epoch timestamps,
counters, hex and upper-case hex runs, UUIDs, ULIDs and words. A literal word is shown only
when at least K distinct IDs carry it (--min-support); otherwise it is a class, so no shape
carries a user's value. Examples are redacted. Memory is bounded whatever the input size.

Examples:

  id-monitor discover ids.txt

  id-monitor discover --messages --config agent.yaml events.jsonl

  id-monitor discover --yaml ids.txt > proposed.yaml && id-monitor classify --schema proposed.yaml ...

Exit status: 0, or 2 for a usage, config or schema error. Undecodable lines are counted
(on stderr) and skipped. How to turn a shape into a schema entry: docs/discover.md.
"""




@app.command(help=_HELP)
def discover(
    path: Annotated[str, typer.Argument(metavar="PATH|-", help="File of IDs or messages; - for stdin.")],
    schema: Annotated[str | None, typer.Option(
        "--schema", "-s", metavar="NAME|PATH",
        help="Builtin schema name or schema file (default: the config's schema, else netra).")] = None,
    config_path: Annotated[str | None, typer.Option(
        "--config", "-c", metavar="FILE", help="Configuration YAML: its schema and, with --messages, its fields.")] = None,
    messages: Annotated[bool, typer.Option(
        "--messages", help="Input is JSON Lines messages; IDs are taken from the configured fields.")] = False,
    all_ids: Annotated[bool, typer.Option("--all", help="Mine the shapes of every ID, not only unknown ones.")] = False,
    min_support: Annotated[int, typer.Option(
        "--min-support", metavar="K", min=1, max=1000,
        help="Distinct IDs that must share a literal word (and a shape) before it is shown.")] = 20,
    top: Annotated[int, typer.Option("--top", metavar="N", min=1, max=1000, help="How many shapes to report.")] = 20,
    status: Annotated[str, typer.Option(
        "--status", metavar="legacy|target", help="Status of the formats --yaml proposes.")] = "legacy",
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per shape, one per line.")] = False,
    as_yaml: Annotated[bool, typer.Option(
        "--yaml", help="A complete schema file: the current schema included, one format per proposed shape.")] = False,
) -> None:
    from id_monitor.classify import Classifier
    from id_monitor.config import ConfigError, load_config
    from id_monitor.discover.mine import mine_ids, mine_messages
    from id_monitor.schema import SchemaError, load_schema

    if as_json and as_yaml:
        fail("give at most one of --json and --yaml")
    if schema is not None and config_path is not None:
        fail("give at most one of --schema and --config (the config names its schema)")
    if status not in ("legacy", "target"):
        fail(f"--status must be legacy or target, got {status!r}")
    try:
        config = load_config(config_path) if (config_path is not None or messages) else None
        schema_name = schema or (config.schema if config is not None else "netra")
        loaded = load_schema(schema_name)
        classifier = Classifier(loaded)
    except (ConfigError, SchemaError) as exc:
        fail(str(exc))
    stream = open_input(path)
    try:
        if messages:
            from id_monitor.extract import Extractor

            assert config is not None
            extractor = Extractor({n: s.paths for n, s in config.fields.items()},
                                  max_values=config.limits.max_ids_per_message)
            result = mine_messages(stream, classifier.classify, extractor, fields=list(config.fields),
                                   all_ids=all_ids, min_support=min_support,
                                   max_bytes=config.limits.max_message_bytes, max_depth=config.limits.max_depth)
        else:
            result = mine_ids(stream, classifier.classify, all_ids=all_ids, min_support=min_support)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()

    rows = result.tracker.rows(top)
    if not messages:
        rows = [_without_field(r) for r in rows]
    try:
        if as_json:
            _print_json(rows)
        elif as_yaml:
            _print_yaml(rows, schema_name, status, loaded.format_names(), result.mined)
        else:
            _print_table(rows)
    except BrokenPipeError:
        sys.stderr.close()
        raise typer.Exit(0) from None
    what = "IDs" if all_ids else "unknown IDs"
    skipped = f"; {result.undecodable} undecodable line(s) skipped" if result.undecodable else ""
    typer.echo(f"discover: {result.ids} IDs read, {result.mined} {what} mined, {len(rows)} shape(s) "
               f"with support >= {min_support}{skipped}", err=True)


def _without_field(row):
    from dataclasses import replace

    return replace(row, field=None)


def _print_json(rows) -> None:
    import orjson

    out = sys.stdout
    for row in rows:
        out.write(orjson.dumps(row.as_dict()).decode() + "\n")
    out.flush()


def _print_yaml(rows, schema_name: str, status: str, existing: list[str], total: int) -> None:
    import yaml

    from id_monitor.discover.propose import schema_document

    doc = schema_document(rows, schema_name, status, existing, total)
    sys.stdout.write("# Proposed by id-monitor discover: review the formats, rename them, then use this file\n"
                     "# as --schema / schema: (docs/discover.md).\n")
    sys.stdout.write(yaml.safe_dump(doc, sort_keys=False, allow_unicode=False, width=4096))
    sys.stdout.flush()


def _print_table(rows) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    with_field = any(r.field for r in rows)
    columns = (["field"] if with_field else []) + ["shape", "count", "share", "example", "proposed format"]
    for column in columns:
        table.add_column(column, no_wrap=True, justify="right" if column in ("count", "share") else "left")
    for row in rows:
        cells = ([row.field or ""] if with_field else []) + [
            row.shape, str(row.count), f"{row.share:.1%}", row.example, row.template or "(none: not expressible)"]
        table.add_row(*[Text(c) for c in cells])
    console = Console()
    if not console.is_terminal:
        console = Console(width=4096)
    if rows:
        console.print(table)
