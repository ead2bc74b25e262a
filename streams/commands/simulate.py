"""`ncrs-monitor simulate`: generate a force's event stream from a profile, with its truth file.

The stream is NDJSON (gzip when the name ends in `.gz`); the truth file lists every breach the
generator planted (rule, subject, stage `breached`) so a replay can be checked against it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

EXIT_USAGE = 2


def _start(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        msg = f"--start must be an ISO date such as 2016-06-01, got {value!r}"
        raise typer.BadParameter(msg) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def simulate(
    out: Annotated[
        Path, typer.Option("--out", help="NDJSON file to write (.ndjson or .ndjson.gz).")
    ],
    profile: Annotated[
        str, typer.Option("--profile", help="Packaged profile name or a profile JSON file.")
    ] = "cheshire-2016",
    days: Annotated[int, typer.Option("--days", min=1, max=3660, help="Days of incidents.")] = 30,
    incidents_per_day: Annotated[
        int, typer.Option("--incidents-per-day", min=1, max=100_000, help="Incidents a day.")
    ] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same bytes).")] = 1,
    truth: Annotated[
        Path | None, typer.Option("--truth", help="Write the planted breaches here (JSON).")
    ] = None,
    start: Annotated[
        str, typer.Option("--start", help="First day (ISO date, UTC).")
    ] = "2016-06-01",
    malformed_share: Annotated[
        float | None,
        typer.Option(
            "--malformed-share", min=0.0, max=0.5, help="Override the profile's malformed share."
        ),
    ] = None,
) -> None:
    """Generate a realistic, seeded event stream and the breaches planted in it."""
    from streams.sim.generator import SimConfig, generate, write_lines
    from streams.sim.profile import ProfileError, load_profile

    try:
        loaded = load_profile(profile)
    except ProfileError as exc:
        typer.echo(f"ncrs-monitor: error: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from exc
    if malformed_share is not None:
        feed = loaded.feed.model_copy(update={"malformed_share": malformed_share})
        loaded = loaded.model_copy(update={"feed": feed})
    config = SimConfig(
        loaded, days=days, incidents_per_day=incidents_per_day, seed=seed, start=_start(start)
    )
    simulation = generate(config)
    try:
        write_lines(simulation.lines, out)
        if truth is not None:
            simulation.truth.write(truth)
    except OSError as exc:
        typer.echo(f"ncrs-monitor: error: cannot write {exc.filename}: {exc.strerror}", err=True)
        raise typer.Exit(EXIT_USAGE) from exc
    t = simulation.truth
    typer.echo(
        f"wrote {t.lines} lines ({t.events} events, {t.duplicates} duplicates, "
        f"{len(t.malformed_lines)} malformed) to {out}; {len(t.breaches)} breaches planted"
        + (f", truth in {truth}" if truth else "")
    )
