"""`ncrs-monitor bench`: run the benchmarks of bench/ and write bench/results.json.

The benchmark code lives in the source checkout's `bench/` package (it is not installed with the
monitor); this command puts the checkout on the import path and runs `bench.suite`. Kafka-backed
measurements start a broker of their own on other ports (deploy/local-kafka, port 29092), so the
development broker's users are not disturbed, and stop it at the end.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

MEASUREMENTS = ("replay", "live", "latency", "memory", "recovery", "catchup")
EXIT_USAGE = 2


def source_root() -> Path:
    """The checkout holding `bench/` (two levels above this package)."""
    return Path(__file__).resolve().parents[2]


def bench(
    quick: Annotated[
        bool, typer.Option("--quick", help="Small sizes: a smoke run of every measurement.")
    ] = False,
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only",
            help=f"Run only this measurement (repeatable): {', '.join(MEASUREMENTS)}.",
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Results JSON (default bench/results.json).")
    ] = None,
    bootstrap: Annotated[
        str | None,
        typer.Option("--bootstrap", help="Use this running broker instead of starting one."),
    ] = None,
    profile: Annotated[
        bool, typer.Option("--profile/--no-profile", help="py-spy the live worker (if installed).")
    ] = True,
) -> None:
    """Measure replay and live throughput, breach latency, memory, recovery and catch-up."""
    root = source_root()
    if not (root / "bench" / "suite.py").is_file():
        typer.echo(
            f"ncrs-monitor: error: no bench/ package under {root}; run from a source checkout",
            err=True,
        )
        raise typer.Exit(EXIT_USAGE)
    unknown = sorted(set(only or ()) - set(MEASUREMENTS))
    if unknown:
        typer.echo(
            f"ncrs-monitor: error: unknown measurement {', '.join(unknown)}; "
            f"choose from {', '.join(MEASUREMENTS)}",
            err=True,
        )
        raise typer.Exit(EXIT_USAGE)
    sys.path.insert(0, str(root))
    from bench import suite

    suite.main(
        list(only or ()),
        quick=quick,
        out=out or suite.DEFAULT_OUT,
        bootstrap=bootstrap,
        profile=profile,
    )
