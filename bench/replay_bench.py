"""Measurement 1: replay throughput beside decode-only throughput of the same file, same run.

The file is `ncrs-monitor simulate` output (profile cheshire-2016, malformed lines kept: they are
dead-lettered by both passes). The full path is what `ncrs-monitor replay FILE --alerts A
--dead-letters D` runs: read, decode, the rules core on the event-time watermark with its reorder
buffer, then every alert and dead letter encoded as JSON to disk. Decode-only reads the same file
with the same reader and decodes every line. Decode-only runs before and after the full passes
and the faster of the two is the baseline (a conservative ratio on a noisy machine).

The full path runs twice on the same file, side by side: first with CPython's garbage-collector
defaults, then with `streams.runtime.tune_gc` as `ncrs-monitor replay` calls it (the headline
ratio is the tuned pass, what the command does). Each pass starts from a collected heap and an
empty id cache, so the second pays for everything the first did.

    python -m bench.replay_bench --days 10 --incidents-per-day 10000   # a smaller input
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path
from typing import Any

from bench.kit import log
from schemas.registry import DecodeError, decode_event
from streams.commands.replay import write_outputs
from streams.replay.reader import iter_lines
from streams.replay.runner import DEFAULT_LATENESS, replay_files
from streams.rules.model import derive_id
from streams.runtime import restore_gc, tune_gc
from streams.sim.generator import SimConfig, generate, write_lines
from streams.sim.profile import load_profile

TARGET_RATIO = 0.5
GC_MODES = ("default", "tuned")
"""Garbage-collector settings of the full passes, in the order they run."""


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


def _full(path: Path, out: Path, mode: str) -> dict[str, Any]:
    """One full replay pass with the collector at CPython's defaults or tuned as the command
    tunes it; wall and CPU seconds and what it produced."""
    derive_id.cache_clear()  # a fresh engine's ids, as in a fresh process
    gc.collect()
    previous = tune_gc() if mode == "tuned" else None
    started, cpu = time.perf_counter(), time.process_time()
    try:
        result = replay_files([path], lateness=DEFAULT_LATENESS)
        write_outputs(
            result,
            files=[path],
            lateness=DEFAULT_LATENESS,
            alerts=out / "alerts.ndjson",
            dead_letters=out / "dead-letters.ndjson",
            report=None,
        )
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        if previous is not None:
            restore_gc(previous)
    return {
        "seconds": round(elapsed, 2),
        "cpu_seconds": round(cpu, 2),
        "lines_per_s": round(result.lines / elapsed),
        "outputs": {
            "events": result.events,
            "alerts": len(result.alerts),
            "dead_letters": len(result.dead_letters),
            "open_breaches": result.open_breaches,
        },
    }


def run(
    workdir: Path,
    *,
    quick: bool,
    seed: int = 11,
    size: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """Simulate, then decode-only, full replay with default and tuned GC, decode-only again.

    `size` is (incidents a day, days); by default 10,000 x 40 (2,000 x 4 when `quick`).
    """
    incidents_per_day, days = size or ((2_000, 4) if quick else (10_000, 40))
    path = workdir / "replay-input.ndjson"
    workdir.mkdir(parents=True, exist_ok=True)
    log(f"replay: simulating {days} days x {incidents_per_day:,} incidents")
    lines = _simulate(path, incidents_per_day, days, seed)
    log(f"replay: {lines:,} lines ({path.stat().st_size / 2**20:,.0f} MiB); decode-only pass")
    d1, decoded, bad = _decode_only(path)
    log(f"replay: decode-only {decoded / d1:,.0f} lines/s")
    by_gc: dict[str, dict[str, Any]] = {}
    for mode in GC_MODES:
        log(f"replay: full replay pass, gc {mode}")
        by_gc[mode] = _full(path, workdir, mode)
        log(f"replay: full (gc {mode}) {by_gc[mode]['lines_per_s']:,} lines/s")
    log("replay: decode-only again")
    d2, _, _ = _decode_only(path)
    decode_s = min(d1, d2)
    for figures in by_gc.values():
        figures["ratio_full_to_decode"] = round(decode_s / figures["seconds"], 3)
    tuned, default = by_gc["tuned"], by_gc["default"]
    path.unlink()
    return {
        "input": "ncrs-monitor simulate --profile cheshire-2016 "
        f"--days {days} --incidents-per-day {incidents_per_day} --seed {seed}",
        "lines": lines,
        "undecodable_lines": bad,
        "decode_only_seconds": [round(d1, 2), round(d2, 2)],
        "decode_only_lines_per_s": round(lines / decode_s),
        "full_replay_seconds": tuned["seconds"],
        "full_replay_lines_per_s": tuned["lines_per_s"],
        "ratio_full_to_decode": tuned["ratio_full_to_decode"],
        "target_ratio": TARGET_RATIO,
        "met": tuned["ratio_full_to_decode"] >= TARGET_RATIO,
        "gc_speedup": round(default["seconds"] / tuned["seconds"], 2),
        "same_outputs_both_gc": default["outputs"] == tuned["outputs"],
        "by_gc": by_gc,
        "outputs": tuned["outputs"],
    }


def main() -> None:
    """Run measurement 1 alone, at any size, and print its JSON figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=40)
    parser.add_argument("--incidents-per-day", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/ncrs-bench-work/replay"))
    args = parser.parse_args()
    figures = run(
        args.workdir, quick=False, seed=args.seed, size=(args.incidents_per_day, args.days)
    )
    json.dump(figures, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
