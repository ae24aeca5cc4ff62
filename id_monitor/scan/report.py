"""The human report: one row per service with a progress bar, then the sites, the exempt sites,
the skipped files and the ratchet's verdict. Long lists are cut at `limit` and say so."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from id_monitor.scan.baseline import Comparison
from id_monitor.scan.results import ScanResult, SiteRecord


def _bar(share: float | None, label: str) -> Table:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=8, no_wrap=True)
    grid.add_column(no_wrap=True)
    if share is None:
        grid.add_row(Text("n/a", style="dim"), label)
    else:
        style = "green" if share >= 0.999 else "yellow" if share >= 0.5 else "red"
        grid.add_row(ProgressBar(total=1.0, completed=share, width=8, complete_style=style, finished_style=style),
                     f"{share:4.0%} {label}".strip())
    return grid


def _site_line(record: SiteRecord, show_target: bool = False) -> str:
    site = record.site
    shape = f"{site.pattern}={site.truncation}" if site.truncation else site.pattern
    if show_target:
        shape = f"{site.target} {shape}"
    context = " ".join(x for x in (f"in {site.function}" if site.function else "",
                                   f"-> {site.assigned_to}" if site.assigned_to else "") if x)
    return (f"[cyan]{escape(record.path)}:{site.line}:{site.column}[/]  [bold]{shape}[/]  {escape(context)}  "
            f"[dim]{escape(site.code)}[/]")


def services_table(result: ScanResult, comparison: Comparison | None) -> Table:
    progress_title = "migrated (left/baseline)" if comparison else "clean files"
    table = Table(title=f"uuid4 call sites by service in {result.root}", title_justify="left")
    any_exempt = any(s.suppressed or s.allowed for s in result.services.values())
    any_skipped = bool(result.skipped)
    table.add_column("service")
    headers = ["files", "with\nsites", "sites\nprod", "sites\ntest"]
    headers += ["exempt"] if any_exempt else []
    headers += ["skipped"] if any_skipped else []
    for header in headers:
        table.add_column(header, justify="right", no_wrap=True)
    table.add_column(progress_title, no_wrap=True)
    names = list(result.services)
    if comparison:
        names += [n for n in comparison.services if n not in result.services]
    for name in names:
        summary = result.services.get(name)
        progress = comparison.services.get(name) if comparison else None
        files = summary.files_in() if summary else 0
        hits = summary.files_in("hits") if summary else 0
        skipped = summary.files_in("skipped") if summary else 0
        if comparison is not None:
            if progress is None:
                bar = _bar(1.0 if not (summary and summary.active) else None, "")
            else:
                label = f"{progress.remaining}/{progress.baseline if progress.baseline is not None else '-'}"
                if progress.increase:
                    label += f" [red]+{progress.increase}[/]"
                bar = _bar(progress.migrated, label)
        else:
            scanned = files - skipped
            bar = _bar((scanned - hits) / scanned if scanned else None, f"{scanned - hits}/{scanned}")
        exempt = (summary.suppressed + summary.allowed) if summary else 0
        cells: list[object] = [escape(name), str(files), str(hits),
                               str(summary.sites_in("production") if summary else 0),
                               str(summary.sites_in("test") if summary else 0)]
        cells += [str(exempt) if exempt else "-"] if any_exempt else []
        cells += [str(skipped) if skipped else "-"] if any_skipped else []
        table.add_row(*cells, bar)  # type: ignore[arg-type]
    return table


def patterns_table(result: ScanResult) -> Table | None:
    """Active sites by pattern: one row per pattern that occurs, with the services it occurs in."""
    from id_monitor.scan.detect import PATTERNS

    rows = []
    for pattern in PATTERNS:
        where = {name: s.by_pattern().get(pattern, 0) for name, s in result.services.items()}
        where = {name: n for name, n in sorted(where.items(), key=lambda kv: (-kv[1], kv[0])) if n}
        if where:
            prod = sum(s.patterns.get(("production", pattern), 0) for s in result.services.values())
            rows.append((pattern, sum(where.values()), prod, where))
    if not rows:
        return None
    table = Table(title="sites by pattern", title_justify="left")
    table.add_column("pattern", no_wrap=True)
    for header in ("sites", "prod", "test"):
        table.add_column(header, justify="right", no_wrap=True)
    table.add_column("services")
    for pattern, total, prod, where in rows:
        top = ", ".join(f"{escape(n)} {c}" for n, c in list(where.items())[:4])
        top += f", +{len(where) - 4} more" if len(where) > 4 else ""
        table.add_row(pattern, str(total), str(prod), str(total - prod), top)
    return table


def render(console: Console, result: ScanResult, comparison: Comparison | None = None, limit: int = 50) -> None:
    active = result.active_sites
    exempt = [s for s in result.sites if s.status != "active"]
    skipped = result.skipped
    several = len(result.config.targets.names) > 1
    console.print(services_table(result, comparison))
    patterns = patterns_table(result)
    if patterns is not None:
        console.print(patterns)
    summary = (f"{len(result.files)} files, {result.parsed_files} parsed, {len(active)} sites "
               f"({sum(1 for s in active if s.scope == 'production')} production, "
               f"{sum(1 for s in active if s.scope == 'test')} test), {len(exempt)} exempt, "
               f"{len(skipped)} skipped in {result.elapsed_seconds:.2f}s; targets: "
               f"{', '.join(sorted(result.config.targets.names))}; config: {result.config.source}")
    console.print(Text(summary, style="dim"))
    if active:
        console.print(f"\n[bold]Sites[/] ({len(active)}):")
        _print_list(console, [_site_line(s, several) for s in active], limit)
    if exempt:
        console.print(f"\n[bold]Exempt[/] ({len(exempt)}; not counted):")
        _print_list(console, [escape(f"[{s.status}] ") + _site_line(s, several) for s in exempt], limit)
    if skipped:
        console.print(f"\n[bold]Skipped[/] ({len(skipped)}; not analysed):")
        _print_list(console, [f"[cyan]{escape(f.path)}[/]  [yellow]{f.reason}[/]  {escape(f.detail or '')}" for f in skipped], limit)
    if comparison is not None:
        console.print()
        if comparison.failed:
            console.print(f"[bold red]Ratchet failed[/]: more sites than the baseline in "
                          f"{', '.join(comparison.failed_services)}. New sites:")
            failed = set(comparison.failed_services)
            _print_list(console, [_site_line(s, several) for s in comparison.new_sites if s.service in failed], limit)
        else:
            done = sum(p.baseline or 0 for p in comparison.services.values())
            left = sum(p.remaining for p in comparison.services.values())
            share = f" ({1 - left / done:.0%} migrated)" if done else ""
            console.print(f"[bold green]Ratchet ok[/]: {left} sites left of {done} in the baseline{share}.")


def _print_list(console: Console, lines: list[str], limit: int) -> None:
    for line in lines[: limit if limit > 0 else None]:
        console.print("  " + line, highlight=False, soft_wrap=True)
    if 0 < limit < len(lines):
        console.print(f"  [dim]... and {len(lines) - limit} more (--limit 0 shows all, --json has everything)[/]")

