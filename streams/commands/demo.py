"""`ncrs-monitor demo`: a month of a Cheshire-sized force, simulated, replayed and reported.

The README's first command. It needs no broker: it generates a month of events from the
`cheshire-2016` profile (about 1,000 incidents a day, as Cheshire's 363,000 calls a year), replays
them through every rule, prints the inspection-style report and the ten most severe open work
items, and writes the files (events, truth, alerts, report JSON and HTML) to `./out/`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def demo(
    out_dir: Annotated[Path, typer.Option("--out-dir", help="Where to write the files.")] = Path(
        "out"
    ),
    profile: Annotated[str, typer.Option("--profile", help="Simulator profile.")] = "cheshire-2016",
    days: Annotated[int, typer.Option("--days", min=1, max=366, help="Days to simulate.")] = 30,
    incidents_per_day: Annotated[
        int, typer.Option("--incidents-per-day", min=1, max=20_000, help="Incidents a day.")
    ] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 2016,
) -> None:
    """Simulate a month of a Cheshire-sized force, replay it and show the report."""
    import json
    import sys
    import time
    from datetime import timedelta

    from streams.commands.replay import fail, run_replay, write_outputs
    from streams.commands.report import write_html
    from streams.report.table import render_table, report_console, work_items_table
    from streams.report.view import build_view
    from streams.sim.generator import SimConfig, generate, write_lines
    from streams.sim.profile import ProfileError, load_profile

    console = report_console()
    started = time.monotonic()
    try:
        loaded = load_profile(profile)
    except ProfileError as exc:
        raise fail(str(exc)) from exc
    events = out_dir / "events.ndjson.gz"
    truth = out_dir / "truth.json"
    console.print(
        f"Simulating {days} days x {incidents_per_day} incidents a day "
        f"(profile {loaded.name}, seed {seed}) ..."
    )
    simulation = generate(
        SimConfig(loaded, days=days, incidents_per_day=incidents_per_day, seed=seed)
    )
    try:
        write_lines(simulation.lines, events)
        simulation.truth.write(truth)
    except OSError as exc:
        raise fail(f"cannot write {exc.filename}: {exc.strerror}") from exc
    console.print(f"Replaying {len(simulation.lines)} lines through every rule ...")
    lateness = timedelta(seconds=simulation.truth.lateness_seconds)
    result = run_replay([events], lateness, None, progress=sys.stderr.isatty())
    report_path = out_dir / "report.json"
    write_outputs(
        result,
        files=[events],
        lateness=lateness,
        alerts=out_dir / "alerts.ndjson",
        dead_letters=out_dir / "dead-letters.ndjson",
        report=report_path,
    )
    document = json.loads(report_path.read_text(encoding="utf-8"))
    view = build_view(document)
    render_table(view, console, with_areas=False)
    most_severe = view.open_work.get("most_severe", [])
    console.print(work_items_table(most_severe, "Ten most severe open work items"))
    html = out_dir / "report.html"
    try:
        write_html(document, html, suppress=True)
    except OSError as exc:
        raise fail(f"cannot write {html}: {exc.strerror}") from exc
    elapsed = time.monotonic() - started
    console.print(
        f"\n{result.events} events, {len(result.alerts)} alerts, "
        f"{len(result.dead_letters)} dead letters, {elapsed:.0f} s."
    )
    console.print(f"HTML report written to [bold]{html.resolve()}[/bold]")
    console.print(f"Alerts, dead letters, report JSON and the simulated events are in {out_dir}/")
