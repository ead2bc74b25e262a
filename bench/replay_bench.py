"""Measurement 1: replay throughput beside decode-only throughput of the same file, same run.

The file is `ncrs-monitor simulate` output (profile cheshire-2016, malformed lines kept: they are
dead-lettered by both passes). The full path is what `ncrs-monitor replay FILE --alerts A
--dead-letters D` runs: read, decode, the rules core on the event-time watermark with its reorder
buffer, then every alert and dead letter encoded as JSON to disk. Decode-only reads the same file
with the same reader and decodes every line. Decode-only runs before and after the full pass and
the faster of the two is the baseline (a conservative ratio on a noisy machine).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench.kit import log
from schemas.registry import DecodeError, decode_event
from streams.commands.replay import write_outputs
from streams.replay.reader import iter_lines
from streams.replay.runner import DEFAULT_LATENESS, replay_files
from streams.sim.generator import SimConfig, generate, write_lines
from streams.sim.profile import load_profile

TARGET_RATIO = 0.5


def _simulate(path: Path, incidents_per_day: int, days: int, seed: int) -> int:
    sim = generate(
        SimConfig(
            load_profile("cheshire-2016"), days=days, incidents_per_day=incidents_per_day, seed=seed
        )
    )
    write_lines(sim.lines, path)
    return len(sim.lines)


def _decode_only(path: Path) -> tuple[float, int, int]:
    events = bad = 0
    started = time.perf_counter()
    for _, raw, _ in iter_lines(path):
        try:
            decode_event(raw)
            events += 1
        except DecodeError:
            bad += 1
    return time.perf_counter() - started, events, bad


def _full(path: Path, out: Path) -> tuple[float, dict[str, int]]:
    started = time.perf_counter()
    result = replay_files([path], lateness=DEFAULT_LATENESS)
    write_outputs(
        result,
        files=[path],
        lateness=DEFAULT_LATENESS,
        alerts=out / "alerts.ndjson",
        dead_letters=out / "dead-letters.ndjson",
        report=None,
    )
    elapsed = time.perf_counter() - started
    return elapsed, {
        "events": result.events,
        "alerts": len(result.alerts),
        "dead_letters": len(result.dead_letters),
        "open_breaches": result.open_breaches,
    }


def run(workdir: Path, *, quick: bool, seed: int = 11) -> dict[str, Any]:
    """Simulate, then decode-only, full replay, decode-only again."""
    incidents_per_day, days = (2_000, 4) if quick else (10_000, 40)
    path = workdir / "replay-input.ndjson"
    workdir.mkdir(parents=True, exist_ok=True)
    log(f"replay: simulating {days} days x {incidents_per_day:,} incidents")
    lines = _simulate(path, incidents_per_day, days, seed)
    log(f"replay: {lines:,} lines ({path.stat().st_size / 2**20:,.0f} MiB); decode-only pass")
    d1, decoded, bad = _decode_only(path)
    log(f"replay: decode-only {decoded / d1:,.0f} lines/s; full replay pass")
    full_s, counts = _full(path, workdir)
    log(f"replay: full {lines / full_s:,.0f} lines/s; decode-only again")
    d2, _, _ = _decode_only(path)
    decode_s = min(d1, d2)
    ratio = decode_s / full_s
    path.unlink()
    return {
        "input": "ncrs-monitor simulate --profile cheshire-2016 "
        f"--days {days} --incidents-per-day {incidents_per_day} --seed {seed}",
        "lines": lines,
        "undecodable_lines": bad,
        "decode_only_seconds": [round(d1, 2), round(d2, 2)],
        "decode_only_lines_per_s": round(lines / decode_s),
        "full_replay_seconds": round(full_s, 2),
        "full_replay_lines_per_s": round(lines / full_s),
        "ratio_full_to_decode": round(ratio, 3),
        "target_ratio": TARGET_RATIO,
        "met": ratio >= TARGET_RATIO,
        "outputs": counts,
    }
