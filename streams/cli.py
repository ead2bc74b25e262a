"""The `ncrs-monitor` console script.

Each command group lives in its own module under `streams/commands/` and is registered here with
one line, so engineers add commands without editing each other's code. Heavy imports (faust,
aiokafka) happen inside the commands, keeping `ncrs-monitor --help` fast.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from streams import __version__
from streams.commands import (
    audit_sample,
    bench,
    demo,
    produce,
    queue,
    replay,
    report,
    schemas_cmd,
    simulate,
    topics_cmd,
    worker,
)
from streams.errors import NcrsError

EXIT_ERROR = 2
"""Exit code of a reported `NcrsError` (1 is reserved for checks that found a difference)."""

app = typer.Typer(
    name="ncrs-monitor",
    help="Real-time National Crime Recording Standard compliance monitor.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold secrets or event payloads
    add_completion=False,
)
app.add_typer(schemas_cmd.app, name="schemas")
app.add_typer(topics_cmd.app, name="topics")
app.add_typer(worker.app, name="worker")
app.add_typer(queue.app, name="queue")
app.command("simulate")(simulate.simulate)
app.command("replay")(replay.replay)
app.command("report")(report.report)
app.command("demo")(demo.demo)
app.command("audit-sample")(audit_sample.audit_sample)
app.command("produce")(produce.produce)
app.command("bench")(bench.bench)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"ncrs-monitor {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Real-time National Crime Recording Standard compliance monitor."""


def main() -> None:
    """Entry point: run the app; an `NcrsError` becomes one line on stderr and exit code 2."""
    try:
        app()
    except NcrsError as exc:
        print(f"ncrs-monitor: error: {exc}", file=sys.stderr)  # noqa: T201 - the CLI's output
        sys.exit(EXIT_ERROR)
