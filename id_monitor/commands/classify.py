"""`id-monitor classify`: what format is this ID?"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from datetime import UTC
from typing import Annotated

import typer

from id_monitor.commands.app import app

_HELP = """Classify IDs against a schema: status (target, legacy, unknown), format, id_type, owner,
embedded timestamp and counter.

IDs come from the arguments, else one per line on stdin. This is a local inspection tool: the
output echoes each ID unredacted (the agent and the violation records redact them).

Examples:

  id-monitor classify ws_conn_test_use_1757367656601_1_a2f73ae7

  cat ids.txt | id-monitor classify --json | jq .format

  id-monitor classify --schema standard 017f22e2-79b0-7cc3-98c4-dc0c0c07398f

Exit status: 0 (also when IDs are unknown), 2 when the schema cannot be loaded.
The schema language and the netra formats: docs/schema.md.
"""


def _lines(stream: Iterable[bytes]) -> Iterator[str]:
    """stdin lines as text; bytes that are not UTF-8 become U+FFFD instead of an error."""
    for line in stream:
        yield line.decode("utf-8", errors="replace").rstrip("\r\n")


@app.command(help=_HELP)
def classify(
    ids: Annotated[list[str] | None, typer.Argument(
        help="IDs to classify. Without any, reads one ID per line from stdin.", show_default=False)] = None,
    schema: Annotated[str, typer.Option(
        "--schema", "-s", metavar="NAME|PATH",
        help="Builtin schema name (netra, standard) or path to a schema YAML file.")] = "netra",
    as_json: Annotated[bool, typer.Option(
        "--json", help="One JSON object per line (keys: id, status, format, id_type, owner, "
                       "timestamp_ms, counter, reason, parts) instead of a table.")] = False,
    max_length: Annotated[int, typer.Option(
        "--max-length", min=1, help="Longer inputs are 'unknown' (reason too_long) without matching.")] = 256,
) -> None:
    from id_monitor.classify import Classifier
    from id_monitor.schema import SchemaError, load_schema

    try:
        classifier = Classifier(load_schema(schema), max_length=max_length)
    except SchemaError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if ids:
        values: Iterable[str] = ids
    elif sys.stdin is None or sys.stdin.isatty():
        typer.echo("error: give IDs as arguments or one per line on stdin (see --help)", err=True)
        raise typer.Exit(2)
    else:
        values = _lines(sys.stdin.buffer)

    if as_json:
        _print_json(classifier, values)
    else:
        _print_table(classifier, values)


def _print_json(classifier: object, values: Iterable[str]) -> None:
    import orjson

    out = sys.stdout
    for value in values:
        info = classifier.classify(value)  # type: ignore[attr-defined]
        record = {"id": value, **info.as_dict()}
        try:
            line = orjson.dumps(record)
        except TypeError:  # lone surrogates from undecodable argv bytes
            record["id"] = value.encode("utf-8", errors="replace").decode("utf-8")
            line = orjson.dumps(record)
        out.write(line.decode() + "\n")
        out.flush()


def _display(value: str, limit: int = 80) -> str:
    text = value if value.isprintable() else repr(value)[1:-1]
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _print_table(classifier: object, values: Iterable[str]) -> None:
    from datetime import datetime

    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    for column in ("id", "status", "format", "id_type", "owner", "timestamp", "counter", "parts"):
        table.add_column(column, no_wrap=True)
    style = {"target": "green", "legacy": "yellow", "unknown": "red"}
    for value in values:
        info = classifier.classify(value)  # type: ignore[attr-defined]
        when = ""
        if info.timestamp_ms is not None:
            try:
                stamp = datetime.fromtimestamp(info.timestamp_ms / 1000, tz=UTC)
                when = stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")
            except (OverflowError, OSError, ValueError):
                when = str(info.timestamp_ms)
        detail = " ".join(f"{k}={v}" for k, v in info.parts.items())
        if info.reason:
            detail = f"reason={info.reason}" + (f" {detail}" if detail else "")
        cells = [_display(value), info.status, info.format or "", info.id_type or "", info.owner or "",
                 when, "" if info.counter is None else str(info.counter), detail]
        row = [Text(cell) for cell in cells]
        row[1].stylize(style.get(info.status, ""))
        table.add_row(*row)
    console = Console()
    if not console.is_terminal:  # piped: keep rows whole instead of folding at 80 columns
        console = Console(width=4096)
    console.print(table)
