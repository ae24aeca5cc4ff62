"""`id-monitor scan`: uuid4 call sites left in code, per service, with a baseline ratchet.

Exit codes: 0 ok, 1 the ratchet failed (--fail-on-increase and a service has more sites than its
baseline), 2 usage error (bad flag, config or baseline; a path that does not exist).
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from id_monitor.commands.app import app

EXIT_RATCHET = 1
EXIT_USAGE = 2


def _usage(message: str) -> typer.Exit:
    typer.echo(f"id-monitor scan: error: {message}", err=True)
    return typer.Exit(EXIT_USAGE)


@app.command(
    help=(
        "Find where uuid4 (or other configured targets) is still generated in Python code: per "
        "service and test/production scope, with patterns (str, hex, hex[:N], f-string, ...), "
        "inline suppressions (# id-monitor: ignore\\[uuid4]) and a baseline ratchet. Configure in "
        "\\[tool.id-monitor.scan] of the scanned root's pyproject.toml or with --config; see docs/scan.md. "
        "Exit codes: 0 ok, 1 ratchet failed, 2 usage error."
    )
)
def scan(
    paths: list[Path] = typer.Argument(None, help="Files or directories to scan (default: .)."),
    as_json: bool = typer.Option(False, "--json", help="Print the full result as JSON."),
    as_sarif: bool = typer.Option(False, "--sarif", help="Print SARIF 2.1.0 (for code-scanning UIs)."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the table/JSON/SARIF here instead of stdout."),
    prometheus: Path | None = typer.Option(None, "--prometheus", help="Also write a node_exporter textfile (.prom)."),
    baseline: Path | None = typer.Option(None, "--baseline", help="Compare with this saved baseline."),
    write_baseline: Path | None = typer.Option(None, "--write-baseline", help="Save this scan as the baseline."),
    fail_on_increase: bool = typer.Option(False, "--fail-on-increase", help="Exit 1 if any service has more sites than its baseline (needs --baseline)."),
    config_file: Path | None = typer.Option(None, "--config", help="TOML file with the scan settings (default: <root>/pyproject.toml)."),
    targets: list[str] = typer.Option([], "--target", help="Extra call target, e.g. secrets.token_hex (repeatable)."),
    services: list[str] = typer.Option([], "--service", help="GLOB=NAME service mapping, first match wins (repeatable)."),
    tests: list[str] = typer.Option([], "--test-glob", help="Globs of test code; replace the defaults (repeatable)."),
    allow: list[str] = typer.Option([], "--allow", help="Glob of files whose sites are allowed, e.g. the unified generator (repeatable)."),
    exclude: list[str] = typer.Option([], "--exclude", help="Glob to leave out of the scan, added to the defaults (repeatable)."),
    max_file_bytes: int | None = typer.Option(None, "--max-file-bytes", min=1, help="Skip larger files as too_large (default 2000000)."),
    jobs: int | None = typer.Option(None, "--jobs", "-j", min=1, help="Worker processes (default: CPUs available)."),
    limit: int = typer.Option(50, "--limit", min=0, help="Rows per list in the table output (0 = all)."),
    no_progress: bool = typer.Option(False, "--no-progress", help="No progress bar on stderr."),
) -> None:
    from rich.console import Console

    from id_monitor.scan.baseline import BaselineError, compare, read_baseline
    from id_monitor.scan.baseline import write_baseline as save_baseline
    from id_monitor.scan.config import ScanConfigError, Overrides, load_scan_config
    from id_monitor.scan.runner import run_scan

    if as_json and as_sarif:
        raise _usage("--json and --sarif are exclusive; run twice for both")
    if fail_on_increase and baseline is None:
        raise _usage("--fail-on-increase needs --baseline FILE")
    paths = paths or [Path(".")]
    for path in paths:
        if not path.exists() and not path.is_symlink():
            raise _usage(f"{path}: no such file or directory")
    root = paths[0] if len(paths) == 1 and paths[0].is_dir() else Path(".")
    overrides = Overrides(tuple(targets), tuple(services), tuple(tests), tuple(allow), tuple(exclude), max_file_bytes)
    try:
        config = load_scan_config(root, config_file, overrides)
        saved = read_baseline(baseline) if baseline is not None else None
    except (ScanConfigError, BaselineError) as exc:
        raise _usage(str(exc)) from None

    stderr = Console(stderr=True)
    progress_bar = None
    task = None

    def discovered(total: int) -> None:
        nonlocal progress_bar, task
        if no_progress or not stderr.is_terminal or total < 200:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        # No refresh thread: worker processes are forked, and a fork should not race a live thread.
        progress_bar = Progress(TextColumn("scanning"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                console=stderr, transient=True, auto_refresh=False)
        progress_bar.start()
        task = progress_bar.add_task("scan", total=total)

    def advance(done: int, total: int) -> None:
        if progress_bar is not None and task is not None:
            progress_bar.update(task, completed=done)
            progress_bar.refresh()

    try:
        result = run_scan(paths, root, config, jobs, progress=advance, on_discovered=discovered)
    finally:
        if progress_bar is not None:
            progress_bar.stop()

    comparison = compare(result, saved) if saved is not None else None
    if write_baseline is not None:
        save_baseline(result, write_baseline)
    if prometheus is not None:
        from id_monitor.scan.textfile import write_textfile

        write_textfile(result, prometheus, comparison)

    if as_json or as_sarif:
        import json

        if as_json:
            from id_monitor.scan.jsonout import to_json

            document = to_json(result, comparison)
        else:
            from id_monitor.scan.sarif import to_sarif

            document = to_sarif(result, comparison)
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        if output is not None:
            output.write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text)
    else:
        from id_monitor.scan.report import render

        if output is not None:
            with output.open("w", encoding="utf-8") as handle:
                render(Console(file=handle, width=160, no_color=True), result, comparison, limit)
        else:
            render(Console(), result, comparison, limit)
    if write_baseline is not None:
        stderr.print(f"baseline written: {write_baseline} ({len(result.active_sites)} sites)", highlight=False)

    if fail_on_increase and comparison is not None and comparison.failed:
        if as_json or as_sarif or output is not None:
            # The table names the new sites itself; machine formats get them on stderr too.
            for record in comparison.new_sites:
                if record.service in comparison.failed_services:
                    stderr.print(f"new site: {record.path}:{record.site.line}:{record.site.column} "
                                 f"{record.site.pattern} {record.site.code}", highlight=False, markup=False)
        raise typer.Exit(EXIT_RATCHET)
