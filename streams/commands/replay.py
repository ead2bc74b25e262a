"""`ncrs-monitor replay FILE...`: the embedded audit mode, no broker needed.

Exit codes (documented in docs/audit-mode.md):

- 0: replay finished and no obligation is left open with a breach announced;
- 3: replay finished and breaches remain open at the end (the audit found something);
- 2: usage or I/O error (a file cannot be read or written); the message says which.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from streams.replay.runner import ReplayResult

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_BREACHES = 3


def fail(message: str) -> typer.Exit:
    """Print one clear line on stderr and return the usage/I-O exit to raise."""
    typer.echo(f"ncrs-monitor: error: {message}", err=True)
    return typer.Exit(EXIT_USAGE)


def parse_as_of(value: str | None) -> datetime | None:
    """An ISO timestamp; a naive one is taken as UTC."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        msg = f"--as-of must be an ISO timestamp such as 2016-07-31T00:00:00Z, got {value!r}"
        raise fail(msg) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def run_replay(
    files: list[Path], lateness: timedelta, as_of: datetime | None, *, progress: bool
) -> ReplayResult:
    """Replay the files, with a progress bar when `progress`; I/O errors exit with code 2.

    Tunes the garbage collector first (`streams.runtime.tune_gc`) and leaves it tuned: the
    engine's case state is millions of long-lived objects that default collections rescan over
    and over, and the process ends soon after the replay (the report is written from the same
    heap). It changes no decision.
    """
    from streams.replay.reader import total_size
    from streams.replay.runner import replay_files
    from streams.runtime import tune_gc

    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise fail(f"no such file: {', '.join(missing)}")
    tune_gc()
    try:
        if not progress:
            return replay_files(files, lateness=lateness, as_of=as_of)
        from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

        columns = (BarColumn(), DownloadColumn(), TimeRemainingColumn())
        with Progress("replaying", *columns, transient=True) as bar:
            task = bar.add_task("replay", total=total_size(files))
            result = replay_files(
                files,
                lateness=lateness,
                as_of=as_of,
                progress=lambda done: bar.update(task, completed=done),
            )
            bar.update(task, completed=total_size(files))
            return result
    except (OSError, EOFError) as exc:
        raise fail(f"cannot read input: {exc}") from exc


def write_outputs(
    result: ReplayResult,
    *,
    files: list[Path],
    lateness: timedelta,
    alerts: Path | None,
    dead_letters: Path | None,
    report: Path | None,
) -> None:
    """Write the alerts and dead letters (NDJSON, emission order) and the report (JSON)."""
    import json

    from streams.replay.summary import build_report

    try:
        if alerts is not None:
            alerts.parent.mkdir(parents=True, exist_ok=True)
            with alerts.open("w", encoding="utf-8") as out:
                out.writelines(a.model_dump_json() + "\n" for a in result.alerts)
        if dead_letters is not None:
            dead_letters.parent.mkdir(parents=True, exist_ok=True)
            with dead_letters.open("w", encoding="utf-8") as out:
                out.writelines(d.model_dump_json() + "\n" for d in result.dead_letters)
        if report is not None:
            document = build_report(result, inputs=[str(f) for f in files], lateness=lateness)
            report.parent.mkdir(parents=True, exist_ok=True)
            report.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", "utf-8")
    except OSError as exc:
        raise fail(f"cannot write {exc.filename}: {exc.strerror}") from exc


def replay(
    files: Annotated[list[Path], typer.Argument(help="NDJSON files (.gz is decompressed).")],
    alerts: Annotated[
        Path | None, typer.Option("--alerts", help="Write alert lifecycle events (NDJSON).")
    ] = None,
    dead_letters: Annotated[
        Path | None, typer.Option("--dead-letters", help="Write rejected lines (NDJSON).")
    ] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write the report document (JSON).")
    ] = None,
    lateness: Annotated[
        float,
        typer.Option("--lateness", min=0.0, help="Seconds an event may arrive out of order."),
    ] = 3600.0,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Decide deadlines up to this time (default: last event)."),
    ] = None,
) -> None:
    """Replay history through the rules; exit 0 clean, 3 breaches open, 2 usage/I-O error."""
    window = timedelta(seconds=lateness)
    result = run_replay(files, window, parse_as_of(as_of), progress=sys.stderr.isatty())
    write_outputs(
        result,
        files=files,
        lateness=window,
        alerts=alerts,
        dead_letters=dead_letters,
        report=report,
    )
    if result.absent_sources:
        # Replay judges no source silence (docs/audit-mode.md): a topic missing from the
        # history is taken as "nothing happened", which the auditor must know.
        typer.echo(
            "warning: no event of " + ", ".join(result.absent_sources) + " in the input; "
            "rules that wait on them are judged as if nothing arrived",
            err=True,
        )
    breached = sum(1 for a in result.alerts if a.stage.value == "breached")
    typer.echo(
        f"replayed {result.events} events ({len(result.dead_letters)} dead-lettered): "
        f"{len(result.alerts)} alerts, {breached} breaches, {result.open_breaches} still open",
        err=True,
    )
    raise typer.Exit(EXIT_BREACHES if result.open_breaches else EXIT_OK)
