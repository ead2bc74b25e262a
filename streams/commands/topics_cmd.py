"""`ncrs-monitor topics create|list`: make the broker match `streams/topics.py`.

Source and output topics must exist with the declared partitions before workers start; this is
the one supported way to create them (idempotent, never alters or deletes).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from streams.admin import TopicReport

app = typer.Typer(help="Create and inspect the Kafka topics the monitor uses.")

_TIMEOUT_HELP = "Seconds before the broker counts as unreachable."
_SUFFIX_HELP = "Append this to every topic name (test isolation); default NCRS_TOPIC_SUFFIX."


def _print_table(report: list[TopicReport]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("topic", "expected", "actual", "status")
    for row in report:
        actual = "-" if row.actual_partitions is None else str(row.actual_partitions)
        table.add_row(row.name, str(row.expected_partitions), actual, row.status.value)
    Console().print(table)


@app.command("create")
def create_cmd(
    timeout: Annotated[float, typer.Option("--timeout", help=_TIMEOUT_HELP)] = 15.0,
    suffix: Annotated[str, typer.Option("--suffix", help=_SUFFIX_HELP)] = "",
) -> None:
    """Create every topic in streams/topics.py that does not exist yet."""
    from streams import admin
    from streams.settings import load_settings

    settings = load_settings()
    specs = admin.resolve_specs(settings, suffix=suffix or settings.topic_suffix)
    report = asyncio.run(admin.ensure_topics(settings, specs, timeout=timeout))
    _print_table(report)
    admin.raise_on_mismatch(report)


@app.command("list")
def list_cmd(
    timeout: Annotated[float, typer.Option("--timeout", help=_TIMEOUT_HELP)] = 15.0,
    suffix: Annotated[str, typer.Option("--suffix", help=_SUFFIX_HELP)] = "",
) -> None:
    """Show expected against actual partitions of every topic; exit 1 if any differ."""
    from streams import admin
    from streams.admin import TopicStatus
    from streams.settings import load_settings

    settings = load_settings()
    specs = admin.resolve_specs(settings, suffix=suffix or settings.topic_suffix)
    report = asyncio.run(admin.check_topics(settings, specs, timeout=timeout))
    _print_table(report)
    if any(row.status is not TopicStatus.EXISTS for row in report):
        raise typer.Exit(1)
