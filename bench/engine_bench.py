"""Engine throughput and memory benchmark (issue 3, item 9). A script, not a test.

    python bench/engine_bench.py --events 1000000

1. Generates a stream of realistic events (incidents with one to three disclosures, crime
   records at realistic delays, some never recorded, victim-care referrals, crime-recorded
   letters, equality updates, cancellations with notifications, N100s for some rape reports,
   incident closures), serialised to JSON bytes first, in roughly event-time order.
2. Decode only: `schemas.registry.decode_event` on every line (events/s).
3. Decode + engine: decode, `Engine.process`, and every `--tick` events an `advance` to the
   event-time watermark (latest event time minus `--lateness`), as the replay mode does.
4. Memory: opens `--open` obligations that nothing satisfies and reports bytes per open
   obligation (tracemalloc, everything the engine holds for them: cases, facts, index) and
   obligations per GiB, with the engine's default number of cases kept unpacked (the rest are
   packed, `streams.rules.store`); with `--memory-extremes`, also with every case unpacked and
   with every case packed. The decoded events stay alive while measuring, so strings a case
   shares with its event (ids, refs) are not counted for unpacked cases; packed ones own copies.

Speeds are given per second of wall-clock time and per second of CPU time (on a shared machine
the second is the steadier). Steps 2 and 3 run with the garbage-collector settings a driver uses
(`streams.runtime.tune_gc`, `--gc tuned`), with CPython's defaults (`--gc default`), or both, one
after the other in the same run (`--gc both`), so the effect of the tuning is measured side by
side.

Prints a table and writes `bench/out/engine.json`.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import random
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from schemas.codes import ClockKind  # noqa: E402
from schemas.events import Envelope  # noqa: E402
from schemas.registry import decode_event  # noqa: E402
from streams.rules.duties import RuleContext  # noqa: E402
from streams.rules.engine import Clock, Engine  # noqa: E402
from streams.rules.families import ALL_FAMILIES  # noqa: E402
from streams.rules.model import derive_id  # noqa: E402
from streams.rules.store import DEFAULT_HOT_CASES  # noqa: E402
from streams.runtime import restore_gc, tune_gc  # noqa: E402

OUT = ROOT / "bench" / "out" / "engine.json"
START = datetime(2016, 3, 1, tzinfo=UTC)
C2C, RMS, CARE = (
    "urn:ncrs:che:command-and-control",
    "urn:ncrs:che:records",
    "urn:ncrs:che:victim-care",
)
AREAS = ("CH-WAR", "CH-CHE", "CH-CRE", "CH-HAL", "CH-MAC", "CH-EPO")
GROUPS = (  # (offence group, Home Office code, weight)
    ("VIOLENCE", "8N", 40),
    ("THEFT", "49", 20),
    ("CRIMINAL_DAMAGE", "58C", 12),
    ("PUBLIC_ORDER", "9", 8),
    ("BURGLARY", "28E", 6),
    ("OTHER_SEXUAL", "20", 4),
    ("HARASSMENT_MALICIOUS_COMMS", "8L", 4),
    ("ROBBERY", "34", 2),
    ("RAPE", "19C", 1),
    ("OTHER", "99", 3),
)


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


class Generator:
    """Seeded generator of event dicts; each incident's events in its own time order."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.n = 0
        self.groups = [g for g in GROUPS for _ in range(g[2])]

    def new_id(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}-{self.n:08d}"

    def event(
        self, type_: str, source: str, t: datetime, refs: dict[str, Any], data: dict[str, Any]
    ) -> dict[str, Any]:
        version = 2 if type_ == "crime.cancelled" else 1
        return {
            "specversion": "1.0",
            "id": self.new_id("EVT"),
            "source": source,
            "type": type_,
            "time": _iso(t),
            "force_code": "CHE",
            "schema_version": version,
            **refs,
            "data": data,
        }

    def incident(self, received: datetime) -> list[dict[str, Any]]:
        """Every event one incident gives rise to."""
        rng = self.rng
        inc = self.new_id("INC")
        area = rng.choice(AREAS)
        domestic = rng.random() < 0.15
        disclosures = []
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            group, code, _ = rng.choice(self.groups)
            disclosures.append((self.new_id("DIS"), group, code, self.new_id("V")))
        rape = any(g == "RAPE" for _, g, _, _ in disclosures)
        events = [
            self.event(
                "incident.reported",
                C2C,
                received,
                {"incident_ref": inc},
                {
                    "received_at": _iso(received),
                    "channel": rng.choice(("emergency_999", "non_emergency_101", "online")),
                    "reporter_type": "victim",
                    "opening_category": "domestic_abuse" if domestic else "crime",
                    "flags": {"domestic_abuse": domestic, "rape_alleged": rape, "sexual": rape},
                    "disclosures": [
                        {
                            "disclosure_id": d,
                            "offence_group": g,
                            "victim_pseudo_ids": [v],
                            "offender_count": 1,
                        }
                        for d, g, _, v in disclosures
                    ],
                    "enhanced_entitlement": [],
                    "area": area,
                },
            )
        ]
        if domestic:
            at = received + timedelta(hours=rng.uniform(1, 30))
            events.append(
                self.event(
                    "safeguarding.assessed",
                    C2C,
                    at,
                    {"incident_ref": inc},
                    {
                        "assessed_at": _iso(at),
                        "risk_level": rng.choice(("standard", "medium", "high")),
                        "marac_referral": False,
                    },
                )
            )
        last = received
        for did, group, code, victim in disclosures:
            if group == "RAPE" and rng.random() < 0.3:
                at = received + timedelta(hours=rng.uniform(1, 30))
                n100 = self.new_id("N100")
                refs = {"incident_ref": inc, "n100_ref": n100, "disclosure_id": did}
                events.append(
                    self.event(
                        "n100.recorded",
                        RMS,
                        at,
                        refs,
                        {
                            "recorded_at": _iso(at),
                            "reason": "occurred_other_force",
                            "recorded_by_role": "omu_staff",
                        },
                    )
                )
                done = at + timedelta(days=rng.uniform(1, 9))
                events.append(
                    self.event(
                        "n100.resolved",
                        RMS,
                        done,
                        refs,
                        {
                            "resolved_at": _iso(done),
                            "outcome": "transferred",
                        },
                    )
                )
                continue
            if rng.random() > 0.84:  # about one in six never recorded (Cheshire: 83.6%)
                continue
            recorded = received + timedelta(hours=rng.expovariate(1 / 12))
            last = max(last, recorded)
            crime = self.new_id("CRI")
            refs = {"crime_ref": crime, "incident_ref": inc, "victim_pseudo_id": victim}
            events.append(
                self.event(
                    "crime.recorded",
                    RMS,
                    recorded,
                    refs,
                    {
                        "disclosure_ids": [did],
                        "reported_at": _iso(received),
                        "recorded_at": _iso(recorded),
                        "home_office_code": code,
                        "offence_group": group,
                        "victim_type": "person",
                        "flags": {"domestic_abuse": domestic},
                        "recorded_by_role": "omu_staff",
                        "enhanced_entitlement": [],
                        "equality_fields_present": {"age": rng.random() < 0.9, "sex": True},
                        "area": area,
                    },
                )
            )
            crefs = {"crime_ref": crime, "incident_ref": inc}
            if rng.random() < 0.8:
                at = recorded + timedelta(hours=rng.uniform(1, 60))
                events.append(
                    self.event(
                        "victim_care.referral",
                        CARE,
                        at,
                        crefs,
                        {
                            "status": rng.choice(("made", "made", "made", "declined")),
                            "at": _iso(at),
                        },
                    )
                )
            if rng.random() < 0.7:
                at = recorded + timedelta(hours=rng.uniform(2, 120))
                events.append(
                    self.event(
                        "victim.notified",
                        RMS,
                        at,
                        crefs,
                        {
                            "notified_at": _iso(at),
                            "notification_type": "crime_recorded",
                            "outcome": "delivered",
                            "method": "letter",
                        },
                    )
                )
            if rng.random() < 0.1:
                at = recorded + timedelta(days=rng.uniform(1, 6))
                events.append(
                    self.event(
                        "crime.updated",
                        RMS,
                        at,
                        crefs,
                        {
                            "updated_at": _iso(at),
                            "equality_fields_present": {"age": True, "sex": True},
                        },
                    )
                )
            if rng.random() < 0.03:
                at = recorded + timedelta(days=rng.uniform(1, 10))
                events.append(
                    self.event(
                        "crime.cancelled",
                        RMS,
                        at,
                        crefs,
                        {
                            "cancelled_at": _iso(at),
                            "cancellation_class": rng.choice(("C2", "C3", "C4")),
                            "avi_present": True,
                            "avi_type": "cctv",
                            "decision_maker_role": "ddm",
                            "rationale_present": True,
                            "offence_group": group,
                        },
                    )
                )
                if rng.random() < 0.6:
                    told = at + timedelta(days=rng.uniform(0.5, 8))
                    events.append(
                        self.event(
                            "victim.notified",
                            RMS,
                            told,
                            crefs,
                            {
                                "notified_at": _iso(told),
                                "notification_type": "cancellation",
                                "outcome": "delivered",
                                "method": "letter",
                            },
                        )
                    )
        closed = last + timedelta(hours=rng.uniform(1, 48))
        events.append(
            self.event(
                "incident.closed",
                C2C,
                closed,
                {"incident_ref": inc},
                {
                    "closed_at": _iso(closed),
                    "outcome": "crime_recorded",
                    "closing_category": "crime",
                    "linked_crime_refs": [],
                    "linked_n100_refs": [],
                    "rationale_present": True,
                    "supervisor_review": False,
                },
            )
        )
        return events


def generate(count: int, seed: int) -> list[bytes]:
    """At least `count` events as JSON lines, sorted by event time (the order a replay reads)."""
    gen = Generator(seed)
    rate_per_hour = 40.0  # a Cheshire-sized force: ~350,000 incidents a year
    t = START
    keyed: list[tuple[str, int, bytes]] = []
    while len(keyed) < count:
        t += timedelta(hours=gen.rng.expovariate(rate_per_hour))
        for event in gen.incident(t):
            keyed.append(
                (event["time"], len(keyed), json.dumps(event, separators=(",", ":")).encode())
            )
    keyed.sort()
    return [line for _, _, line in keyed[:count]]


def _progress(label: str, done: int, total: int, started: float) -> None:
    rate = done / max(time.perf_counter() - started, 1e-9)
    print(
        f"\r{label}: {done:,}/{total:,} ({rate:,.0f} events/s)", end="", file=sys.stderr, flush=True
    )


def bench_decode(lines: list[bytes]) -> tuple[float, float]:
    """Seconds (wall clock, CPU) to decode every line."""
    started = time.perf_counter()
    cpu = time.process_time()
    for i, line in enumerate(lines, 1):
        decode_event(line)
        if i % 100_000 == 0:
            _progress("decode", i, len(lines), started)
    print(file=sys.stderr)
    return time.perf_counter() - started, time.process_time() - cpu


def bench_engine(
    lines: list[bytes], tick: int, lateness: timedelta
) -> tuple[float, float, dict[str, int]]:
    """Seconds (wall clock, CPU) to decode and run every line through the engine; counts of
    what came out."""
    engine = Engine(ALL_FAMILIES, RuleContext())
    counts: dict[str, int] = {}
    latest: datetime | None = None
    started = time.perf_counter()
    cpu = time.process_time()
    for i, line in enumerate(lines, 1):
        event = decode_event(line)
        latest = event.time if latest is None or event.time > latest else latest
        for effect in engine.process(event):
            counts[type(effect).__name__] = counts.get(type(effect).__name__, 0) + 1
        if i % tick == 0:
            for effect in engine.advance(Clock(latest - lateness, ClockKind.EVENT_TIME_WATERMARK)):
                counts[type(effect).__name__] = counts.get(type(effect).__name__, 0) + 1
        if i % 100_000 == 0:
            _progress("decode+engine", i, len(lines), started)
    print(file=sys.stderr)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu
    counts["open_obligations_at_end"] = sum(1 for _ in engine.open_obligations())
    counts["cases_at_end"] = len(engine.cases)
    return elapsed, cpu, counts


def _unsatisfied_incidents(open_count: int, seed: int) -> list[Envelope]:
    """`open_count` decoded incident reports, each opening one obligation nothing satisfies."""
    rng = random.Random(seed)
    gen = Generator(seed)
    events = []
    t = START
    for _ in range(open_count):
        t += timedelta(seconds=rng.uniform(1, 60))
        inc = gen.new_id("INC")
        events.append(
            decode_event(
                json.dumps(
                    gen.event(
                        "incident.reported",
                        C2C,
                        t,
                        {"incident_ref": inc},
                        {
                            "received_at": _iso(t),
                            "channel": "online",
                            "reporter_type": "victim",
                            "opening_category": "crime",
                            "flags": {},
                            "disclosures": [
                                {
                                    "disclosure_id": gen.new_id("DIS"),
                                    "offence_group": "THEFT",
                                    "victim_pseudo_ids": [gen.new_id("V")],
                                    "offender_count": 1,
                                }
                            ],
                            "enhanced_entitlement": [],
                            "area": rng.choice(AREAS),
                        },
                    )
                ).encode()
            )
        )
    return events


def bench_memory(events: list[Envelope], hot_cases: int | None) -> dict[str, Any]:
    """Bytes the engine holds per open obligation after `events`, keeping `hot_cases` cases
    unpacked (`streams.rules.store`; None: every case unpacked)."""
    derive_id.cache_clear()  # each run pays for the obligation ids it caches, as a fresh engine
    gc.collect()
    tracemalloc.start()
    before, _ = tracemalloc.get_traced_memory()
    engine = Engine(ALL_FAMILIES, RuleContext(), hot_cases=hot_cases)
    for event in events:
        engine.process(event)
    gc.collect()
    after, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    opened = sum(1 for _ in engine.open_obligations())
    held = after - before
    per = held / max(opened, 1)
    return {
        "hot_cases": hot_cases,
        "open_obligations": opened,
        "cases": len(engine.cases),
        "bytes_held": held,
        "peak_bytes": peak - before,
        "bytes_per_open_obligation": round(per, 1),
        "bytes_per_100k_open_obligations": round(per * 100_000),
        "open_obligations_per_gib": round(2**30 / per) if per else None,
    }


def _speed(lines: list[bytes], args: argparse.Namespace, mode: str) -> dict[str, Any]:
    """Decode-only and decode + engine figures under one garbage-collector setting."""
    previous = tune_gc() if mode == "tuned" else None
    try:
        decode_s, decode_cpu = bench_decode(lines)
        engine_s, engine_cpu, counts = bench_engine(
            lines, args.tick, timedelta(minutes=args.lateness)
        )
    finally:
        if previous is not None:
            restore_gc(previous)
    return {
        "gc": mode,
        "decode_only": {
            "seconds": round(decode_s, 2),
            "events_per_s": round(len(lines) / decode_s),
            "cpu_seconds": round(decode_cpu, 2),
            "events_per_cpu_s": round(len(lines) / decode_cpu),
        },
        "decode_and_engine": {
            "seconds": round(engine_s, 2),
            "events_per_s": round(len(lines) / engine_s),
            "cpu_seconds": round(engine_cpu, 2),
            "events_per_cpu_s": round(len(lines) / engine_cpu),
        },
        "engine_to_decode_ratio": round(decode_s / engine_s, 3),
        "effects": counts,
    }


def main() -> None:
    """Run the three measurements, print a table and write the JSON figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--events", type=int, default=100_000, help="events in the stream (issue: >= 1,000,000)"
    )
    parser.add_argument(
        "--open", type=int, default=100_000, help="unsatisfied obligations for the memory figure"
    )
    parser.add_argument(
        "--tick", type=int, default=500, help="advance the watermark every N events"
    )
    parser.add_argument("--lateness", type=float, default=10.0, help="watermark lag, minutes")
    parser.add_argument(
        "--gc",
        choices=("tuned", "default", "both"),
        default="tuned",
        help="garbage-collector settings for the speed figures (tuned: streams.runtime.tune_gc)",
    )
    parser.add_argument(
        "--memory-extremes",
        action="store_true",
        help="also measure memory with every case unpacked and with every case packed",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    started = time.perf_counter()
    lines = generate(args.events, args.seed)
    generated = time.perf_counter() - started
    size = sum(len(line) for line in lines)
    print(
        f"generated {len(lines):,} events ({size / 2**20:,.0f} MiB) in {generated:.1f} s",
        file=sys.stderr,
    )

    modes = ("default", "tuned") if args.gc == "both" else (args.gc,)
    speeds = [_speed(lines, args, mode) for mode in modes]
    events = len(lines)
    del lines  # the memory figure should not be measured beside a gigabyte of input
    incidents = _unsatisfied_incidents(args.open, args.seed)
    memory = bench_memory(incidents, DEFAULT_HOT_CASES)
    extremes = [bench_memory(incidents, hot) for hot in (None, 0)] if args.memory_extremes else []

    main_speed = speeds[-1]
    result = {
        "events": events,
        "bytes": size,
        **main_speed,
        "by_gc": speeds,
        "tick_every_events": args.tick,
        "lateness_minutes": args.lateness,
        "memory": memory,
        "memory_all_unpacked_and_all_packed": extremes,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "seed": args.seed,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")

    rows = [("events", f"{events:,}")]
    for speed in speeds:
        gc_mode = speed["gc"]
        decode, engine = speed["decode_only"], speed["decode_and_engine"]
        rows += [
            (
                f"decode only (gc {gc_mode})",
                f"{decode['events_per_s']:,} events/s ({decode['events_per_cpu_s']:,} per CPU s)",
            ),
            (
                f"decode + engine (gc {gc_mode})",
                f"{engine['events_per_s']:,} events/s ({engine['events_per_cpu_s']:,} per CPU s)",
            ),
            (f"engine / decode speed (gc {gc_mode})", f"{speed['engine_to_decode_ratio']:.2f}"),
        ]
    rows += [
        ("open obligations measured", f"{memory['open_obligations']:,}"),
        (
            f"bytes per open obligation ({DEFAULT_HOT_CASES:,} cases unpacked)",
            f"{memory['bytes_per_open_obligation']:,.0f}",
        ),
        ("MiB per 100,000 open", f"{memory['bytes_per_100k_open_obligations'] / 2**20:,.1f}"),
        ("open obligations per GiB", f"{memory['open_obligations_per_gib']:,}"),
    ]
    labels = ("every case unpacked", "every case packed") if extremes else ()
    for extreme, label in zip(extremes, labels, strict=True):
        rows.append(
            (
                f"bytes per open obligation ({label})",
                f"{extreme['bytes_per_open_obligation']:,.0f}"
                f" ({extreme['open_obligations_per_gib']:,} per GiB)",
            )
        )
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    if args.open <= DEFAULT_HOT_CASES:
        print(
            f"(the engine packs cases beyond the latest {DEFAULT_HOT_CASES:,}: "
            "--open 1000000 measures the issue's million open obligations)"
        )
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")


if __name__ == "__main__":
    main()
