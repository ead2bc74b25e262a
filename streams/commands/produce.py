"""`ncrs-monitor produce FILE...`: publish a history file to the input topics.

Each event goes to its type's topic, keyed as `streams/topics.py` declares; `--speed 3600` plays
an hour of history a second, `--max-speed` sends as fast as the broker takes it. Connection
settings come from `NCRS_*` (see streams/settings.py); `--bootstrap` overrides the brokers.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

EXIT_USAGE = 2


def produce(
    files: Annotated[list[Path], typer.Argument(help="NDJSON files (.gz allowed).")],
    speed: Annotated[
        float,
        typer.Option("--speed", min=0.0001, help="Event time per wall-clock time (3600 = 1 h/s)."),
    ] = 1.0,
    max_speed: Annotated[
        bool, typer.Option("--max-speed", help="Ignore event times; send as fast as possible.")
    ] = False,
    bootstrap: Annotated[
        str | None, typer.Option("--bootstrap", help="Brokers host:port[,...] (else NCRS_*).")
    ] = None,
    suffix: Annotated[
        str, typer.Option("--suffix", help="Append to every topic name (test isolation).")
    ] = "",
) -> None:
    """Publish events to the input topics at their original pace, scaled, or flat out."""
    import sys

    from aiokafka.errors import KafkaError

    from streams.errors import NcrsError
    from streams.kafka_client import client_kwargs
    from streams.replay.publish import Plan, messages, publish
    from streams.settings import load_settings

    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        typer.echo(f"ncrs-monitor: error: no such file: {', '.join(missing)}", err=True)
        raise typer.Exit(EXIT_USAGE)
    try:
        settings = load_settings(**({"bootstrap_servers": bootstrap} if bootstrap else {}))
        kwargs = client_kwargs(settings)
    except NcrsError as exc:
        typer.echo(f"ncrs-monitor: error: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from exc
    plan = Plan()
    stream = messages(files, plan, suffix=suffix or settings.topic_suffix)
    pace = None if max_speed else speed
    try:
        if sys.stderr.isatty():
            from rich.progress import Progress

            with Progress(transient=True) as bar:
                task = bar.add_task("producing", total=None)
                sent = asyncio.run(
                    publish(
                        stream, kwargs, speed=pace, progress=lambda n: bar.update(task, completed=n)
                    )
                )
        else:
            sent = asyncio.run(publish(stream, kwargs, speed=pace))
    except (KafkaError, OSError) as exc:
        msg = f"cannot publish to {settings.bootstrap_servers}: {exc}"
        typer.echo(f"ncrs-monitor: error: {msg}", err=True)
        raise typer.Exit(EXIT_USAGE) from exc
    typer.echo(f"published {sent} events ({plan.skipped} undecodable lines skipped)")
