"""`ncrs-monitor report REPORT.json`: the inspection-style report of a replay.

Prints the measures as tables (or JSON) and, with `--html`, writes a self-contained page with
charts. Small-number suppression (counts under 5 in sexual-offence rows) is on unless
`--no-suppress` is given.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

EXIT_USAGE = 2


class Format(StrEnum):
    """How the report is printed."""

    TABLE = "table"
    JSON = "json"


def write_html(document: dict[str, object], path: Path, *, suppress: bool) -> None:
    """Render the document's HTML page to `path` (directories created)."""
    from streams.report.html import render_html
    from streams.report.view import build_view

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(build_view(document, suppress=suppress)), encoding="utf-8")


def report(
    document_path: Annotated[
        Path, typer.Argument(metavar="REPORT.json", help="A report written by `replay --report`.")
    ],
    html: Annotated[
        Path | None, typer.Option("--html", help="Also write a self-contained HTML page here.")
    ] = None,
    output: Annotated[Format, typer.Option("--format", help="table or json.")] = Format.TABLE,
    suppress: Annotated[
        bool,
        typer.Option("--suppress/--no-suppress", help="Show counts under 5 as <5 (default on)."),
    ] = True,
) -> None:
    """Render the compliance report of a replay."""
    import json

    from streams.report.table import render_table, report_console
    from streams.report.view import build_view

    try:
        document = json.loads(document_path.read_text(encoding="utf-8"))
        view = build_view(document, suppress=suppress)
    except OSError as exc:
        typer.echo(f"ncrs-monitor: error: cannot read {document_path}: {exc.strerror}", err=True)
        raise typer.Exit(EXIT_USAGE) from exc
    except (ValueError, KeyError, TypeError) as exc:
        msg = f"{document_path} is not a replay report (write one with `replay --report`)"
        typer.echo(f"ncrs-monitor: error: {msg}", err=True)
        raise typer.Exit(EXIT_USAGE) from exc
    if output is Format.JSON:
        typer.echo(json.dumps(view.to_dict(), indent=1, sort_keys=True))
    else:
        render_table(view, report_console())
    if html is not None:
        try:
            write_html(document, html, suppress=suppress)
        except OSError as exc:
            typer.echo(f"ncrs-monitor: error: cannot write {html}: {exc.strerror}", err=True)
            raise typer.Exit(EXIT_USAGE) from exc
        typer.echo(f"HTML report written to {html}", err=output is Format.JSON)
