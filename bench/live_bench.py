"""Measurements 2 (live throughput per worker) and 6 (catch-up after an outage).

Both drain a pre-loaded backlog of simulated events (`ncrs-monitor simulate`, shifted so the last
event is just before now, keyed and routed to the input topics as producers must) with real
`ncrs-monitor worker` processes, memory store, 6 partitions. The clock runs from the moment the
worker answers /readyz 200 (all workers, for two) to the moment the consumer group's committed
offsets reach the input topics' end offsets and then the side topics' end offsets as they were
at that moment (the forwarded events processed too). faust commits every 2.8 s, so a short run
overstates the time by up to that much; the steady rate (10 % to 90 % of the backlog committed)
is reported beside it.

The baseline, in the same run and on the same topics with its own consumer group, is
bench/passthrough.py: aiokafka consume -> decode_event -> produce -> commit.

Catch-up: the fleet runs (ready, idle), is stopped (the outage), a day of input is produced, and
the workers are started again; the time runs from the restart (process start, so start-up and
recovery count) to drained. A national day (about 1,700,000 events) takes longer than the
20 minutes this benchmark may spend on it here, so a proportionate slice is drained and the day
is extrapolated linearly, which the result says.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from bench import profile as spy
from bench.kit import (
    Broker,
    Fleet,
    Worker,
    create_topics_named,
    input_topics,
    log,
    now,
    produce,
    route_lines,
    simulated_lines,
    start_workers,
    stop_workers,
    wait_drained,
)

TARGET_PER_WORKER = 15_000
NATIONAL_DAY_EVENTS = 1_700_000


def _backlog(fleet: Fleet, incidents_per_day: int, days: int, seed: int) -> int:
    lines = simulated_lines(incidents_per_day, days, seed, end=now())
    count, seconds = produce(fleet.bootstrap, route_lines(lines, fleet))
    log(f"produced {count:,} events in {seconds:.1f} s ({count / seconds:,.0f}/s)")
    return count


def _worker_figures(workers: list[Worker]) -> dict[str, Any]:
    totals: dict[str, float] = {}
    rss = []
    for w in workers:
        for name, value in w.metrics().items():
            if name.endswith("_total") and name.startswith("ncrs_"):
                totals[name] = totals.get(name, 0.0) + value
        rss.append(round(w.rss() / 2**20))
    return {
        "events_consumed": int(totals.get("ncrs_events_consumed_total", 0)),
        "alerts": int(totals.get("ncrs_alerts_total", 0)),
        "dead_letters": int(totals.get("ncrs_dead_letters_total", 0)),
        "rss_mib": rss,
    }


def _profile_in_background(worker: Worker, seconds: float, out: Path) -> threading.Thread:
    thread = threading.Thread(
        target=spy.record, args=(worker.pid, seconds, out), daemon=True, name="py-spy"
    )
    thread.start()
    return thread


def drain(
    base: Fleet, events: int, workers: int, *, timeout: float, profile_to: Path | None = None
) -> dict[str, Any]:
    """Start `workers` fresh workers on the backlog already in `base`'s topics; time the drain."""
    fleet = Fleet(base.bootstrap, base.label, uid=base.uid, run=f"-{workers}w")
    fleet.workdir = base.workdir
    ws = [fleet.worker(f"w{i + 1}") for i in range(workers)]
    try:
        ready = start_workers(ws)
        t0 = max(ready)
        log(f"{workers} worker(s) ready in {t0 - ws[0].started_at:.1f} s; draining {events:,}")
        thread = None
        if profile_to is not None:
            thread = _profile_in_background(ws[0], 30, profile_to)
        progress = wait_drained(fleet, input_topics(fleet), timeout)
        seconds = progress.done_at - t0
        figures = _worker_figures(ws)
        if thread is not None:
            thread.join()
    finally:
        stop_workers(ws)
    rate = events / seconds
    steady = progress.rate_between(0.1, 0.9, events)
    log(f"{workers} worker(s): {rate:,.0f} events/s (steady {steady or 0:,.0f})")
    return {
        "workers": workers,
        "events": events,
        "seconds_ready_to_drained": round(seconds, 1),
        "events_per_s": round(rate),
        "events_per_s_per_worker": round(rate / workers),
        "steady_events_per_s": round(steady) if steady else None,
        "never_committed": progress.stalled,
        **figures,
    }


def passthrough(base: Fleet, events: int) -> dict[str, Any]:
    """bench/passthrough.py on the same topics with its own group and output topic."""
    out = base.topic("bench.passthrough")
    create_topics_named(base.bootstrap, [out], base.partitions)
    cmd = [
        sys.executable, "-m", "bench.passthrough",
        "--bootstrap", base.bootstrap,
        "--group", f"bench-{base.label}-{base.uid}-passthrough",
        "--out", out,
        "--expect", str(events),
        *input_topics(base),
    ]  # fmt: skip
    done = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=900)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    log(f"pass-through: {result['events_per_s']:,} events/s")
    return result


def run_throughput(broker: Broker, workdir: Path, *, quick: bool, profile: bool) -> dict[str, Any]:
    """Measurement 2: pass-through, one worker, two workers on one backlog."""
    incidents_per_day, days = (1_000, 1) if quick else (12_000, 3)
    base = Fleet(broker.bootstrap, "live", workdir=workdir)
    base.create_topics()
    try:
        events = _backlog(base, incidents_per_day, days, seed=21)
        raw = passthrough(base, events)
        prof = workdir / "live-worker.pyspy.txt" if profile else None
        one = drain(base, events, 1, timeout=3600, profile_to=prof)
        two = drain(base, events, 2, timeout=3600)
    finally:
        base.delete_topics()
    result: dict[str, Any] = {
        "input": f"simulate cheshire-2016 --days {days} --incidents-per-day "
        f"{incidents_per_day}, shifted to end now; 6 partitions, memory store",
        "events": events,
        "passthrough": raw,
        "one_worker": one,
        "two_workers": two,
        "ratio_one_worker_to_passthrough": round(one["events_per_s"] / raw["events_per_s"], 3),
        "target_per_worker": TARGET_PER_WORKER,
        "met": one["events_per_s"] >= TARGET_PER_WORKER,
    }
    if prof is not None and prof.exists():
        result["profile"] = spy.summarise(prof)
        log("profile of one worker:\n" + spy.format_summary(result["profile"]))
    return result


def _catch_up(base: Fleet, workers: int, events_produce: Any, timeout: float) -> dict[str, Any]:
    fleet = Fleet(base.bootstrap, base.label, uid=base.uid, run=f"-{workers}w")
    fleet.workdir = base.workdir
    ws = [fleet.worker(f"w{i + 1}") for i in range(workers)]
    start_workers(ws)
    for w in ws:  # the outage
        w.stop(signal.SIGTERM)
    events = events_produce()
    log(f"outage over: restarting {workers} worker(s) on {events:,} events")
    for w in ws:
        w.start()
    t0 = min(w.started_at for w in ws)
    try:
        ready = [w.wait_ready() for w in ws]
        progress = wait_drained(fleet, input_topics(fleet), timeout)
        figures = _worker_figures(ws)
    finally:
        stop_workers(ws)
    seconds = progress.done_at - t0
    return {
        "workers": workers,
        "events": events,
        "seconds_restart_to_ready": round(max(ready) - t0, 1),
        "seconds_restart_to_drained": round(seconds, 1),
        "events_per_s": round(events / seconds),
        "never_committed": progress.stalled,
        **figures,
    }


def run_catchup(broker: Broker, workdir: Path, *, quick: bool) -> dict[str, Any]:
    """Measurement 6: one and then two workers catch up on a (slice of a) national day.

    Each fleet gets its own topics: it runs idle, stops, and only then is the day produced.
    """
    slice_events = 4_000 if quick else 120_000
    # The simulator writes about 2.6 events per incident (one day plus its follow-ups).
    incidents = max(100, round(slice_events / 2.6))
    lines = simulated_lines(incidents, 1, seed=31, end=now())
    results = []
    for workers in (1, 2):
        base = Fleet(broker.bootstrap, "catchup", workdir=workdir)
        base.create_topics()

        def produce_day(fleet: Fleet = base) -> int:
            count, seconds = produce(fleet.bootstrap, route_lines(lines, fleet))
            log(f"produced {count:,} events in {seconds:.1f} s")
            return count

        try:
            results.append(_catch_up(base, workers, produce_day, timeout=3600))
        finally:
            base.delete_topics()
    events = results[0]["events"]
    factor = NATIONAL_DAY_EVENTS / events
    for r in results:
        r["extrapolated_minutes_for_national_day"] = round(
            r["seconds_restart_to_drained"] * factor / 60, 1
        )
        log(
            f"catch-up {r['workers']} worker(s): {r['seconds_restart_to_drained']:.0f} s for "
            f"{events:,}; national day ~{r['extrapolated_minutes_for_national_day']} min"
        )
    return {
        "input": f"simulate cheshire-2016 --days 1 --incidents-per-day {incidents} "
        "(one day of incidents and their follow-ups), shifted to end now",
        "slice_events": events,
        "national_day_events": NATIONAL_DAY_EVENTS,
        "slice_share_of_national_day": round(events / NATIONAL_DAY_EVENTS, 4),
        "extrapolated": True,
        "one_worker": results[0],
        "two_workers": results[1],
    }
