"""The report as rich tables on a terminal: one table per measure, then the open work."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rich.console import Console
from rich.table import Table

from streams.report.view import SUPPRESSED, ReportView, Row, Section


def pct(value: float | None) -> str:
    """A proportion as a percentage with one decimal, or a dash when undefined."""
    return "-" if value is None else f"{100 * value:.1f}%"


def interval(pair: tuple[float, float] | None) -> str:
    """A 95% interval as 'low-high%'."""
    return "-" if pair is None else f"{100 * pair[0]:.1f}-{100 * pair[1]:.1f}%"


def _count(value: int | None, suppressed: bool) -> str:
    return SUPPRESSED if value is None and suppressed else ("-" if value is None else str(value))


def _rows_table(title: str, rows: Iterable[Row], extra: tuple[str, ...] = ()) -> Table:
    table = Table(title=title, title_justify="left", show_lines=False)
    for name in ("", "n", "of", "rate", "Wilson 95%", "HMIC-style 95%", "HMIC 2017"):
        table.add_column(name, justify="left" if not name else "right")
    for name in extra:
        table.add_column(name.replace("_", " "), justify="right")
    for row in rows:
        reference = row.reference.short if row.reference else ""
        cells = [
            row.label,
            _count(row.successes, row.suppressed),
            _count(row.trials, row.suppressed),
            "suppressed" if row.suppressed else pct(row.rate),
            interval(row.wilson),
            interval(row.hmic),
            reference,
        ]
        cells += [_count(row.extra.get(name), row.suppressed) for name in extra]
        table.add_row(*cells)
    return table


def section_tables(section: Section) -> list[Table]:
    """The tables of one section: by offence group, then by area when there is one."""
    extra = tuple(section.rows[0].extra) if section.rows and section.rows[0].extra else ()
    tables = [_rows_table(section.title, section.rows, extra)]
    if section.by_area:
        tables.append(_rows_table(f"{section.title}, by area", section.by_area))
    return tables


def work_items_table(items: Iterable[Mapping[str, Any]], title: str) -> Table:
    """Open work items: severity, rule, stage, queue, group, area, refs and deadline."""
    table = Table(title=title, title_justify="left")
    for name in ("severity", "rule", "stage", "queue", "group", "area", "ref", "deadline"):
        table.add_column(name)
    for item in items:
        refs = item.get("crime_ref") or item.get("n100_ref") or item.get("incident_ref") or ""
        if item.get("disclosure_id"):
            refs = item["disclosure_id"]
        table.add_row(
            item["severity"],
            item["rule_id"],
            item["stage"],
            item["queue"],
            item.get("offence_group") or "",
            item.get("area") or "",
            refs,
            item["deadline"][:16].replace("T", " "),
        )
    return table


REPORT_WIDTH = 120
"""Columns used when the output is not a terminal (a log or a file), so tables stay readable."""


def report_console() -> Console:
    """A console as wide as the terminal, or `REPORT_WIDTH` when writing to a file or pipe."""
    console = Console()
    return console if console.is_terminal else Console(width=REPORT_WIDTH)


def render_table(view: ReportView, console: Console, *, with_areas: bool = True) -> None:
    """Print the whole report."""
    period = view.period
    console.print(
        f"[bold]Crime-recording compliance, force {view.force_code or '?'}[/bold]  "
        f"{(period.get('first_event') or '')[:10]} to {(period.get('last_event') or '')[:10]}"
        f"  ({view.counts.get('events', 0)} events, "
        f"{view.counts.get('dead_letters', 0)} dead-lettered)"
    )
    if view.suppression:
        console.print("Counts under 5 in sexual-offence rows are shown as <5.")
    for section in view.sections:
        tables = section_tables(section)
        console.print(tables[0])
        if with_areas:
            for table in tables[1:]:
                console.print(table)
    work = view.open_work
    console.print(
        f"Open work items: {work.get('total', 0)}  by severity {work.get('by_severity', {})}"
    )
