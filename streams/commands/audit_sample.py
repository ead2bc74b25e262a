"""`ncrs-monitor audit-sample FILE...`: a stratified random sample of incidents for the FCR.

Sized to a target margin of error (rules file §6 formula with finite-population correction),
allocated in proportion to offence group x area strata, written as CSV of incident refs and codes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

EXIT_USAGE = 2


def audit_sample(
    files: Annotated[list[Path], typer.Argument(help="Replayed events (NDJSON, .gz allowed).")],
    out: Annotated[Path, typer.Option("--out", help="CSV file to write.")],
    margin: Annotated[
        float,
        typer.Option("--margin", min=0.001, max=0.5, help="Target 95% margin (0.03 = ±3 pp)."),
    ] = 0.03,
    seed: Annotated[int, typer.Option("--seed", help="Random seed of the draw.")] = 1,
    expected_rate: Annotated[
        float,
        typer.Option(
            "--expected-rate", min=0.0, max=1.0, help="Prior recording rate (0.5 is safest)."
        ),
    ] = 0.5,
) -> None:
    """Draw a stratified random sample of incidents for the Force Crime Registrar's audit."""
    from streams.replay.audit_sample import draw_sample, read_population, write_csv

    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        typer.echo(f"ncrs-monitor: error: no such file: {', '.join(missing)}", err=True)
        raise typer.Exit(EXIT_USAGE)
    try:
        population = read_population(files)
        sample = draw_sample(population.strata, margin, seed=seed, expected_rate=expected_rate)
        write_csv(sample, out)
    except (OSError, EOFError) as exc:
        typer.echo(f"ncrs-monitor: error: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from exc
    typer.echo(
        f"sampled {len(sample)} of {population.size} incidents with a crime disclosure "
        f"({len(population.strata)} strata, margin ±{100 * margin:.1f} pp at 95%); "
        f"{population.skipped_lines} unreadable lines skipped; written to {out}"
    )
