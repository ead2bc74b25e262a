"""Measurement 5: a worker restarted with 1,000,000 open obligations in its tables.

Filling a table with a million obligations through a worker would take longer than this whole
benchmark may run (measurement 2 gives the live rate), so the incident table's changelog is
written directly, exactly as the worker writes it: key = the incident ref JSON-encoded (as
faust writes table keys) on the partition murmur2 gives the ref, value = the JSON of the
`CaseState` the rules core makes for that incident. The core builds one template case; each
clone substitutes the ref, the four timestamps and the derived obligation id, and a sample of
clones is checked against the core's own output for the same incident. Every obligation is a
REC-24H whose deadline is 18 to 23 hours ahead.

RocksDB store:
1. Start worker A on that changelog (cold: RocksDB fills its local database from the
   changelog): time to ready, time until its `ncrs_obligations_open` gauge shows every
   obligation (the due index rebuilt), RSS.
2. Produce `due` more incidents through the input topic whose deadlines fall a little later;
   once A holds them, stop it with SIGTERM (a rolling restart) before they fall due.
3. When every one of those deadlines has passed, start worker B on the same directory (warm
   RocksDB): time to ready, time to its first due alert and to the last, then lost (no
   `breached` alert at all) and duplicated (`breached` records beyond one per obligation,
   across both workers) alerts.

Memory store: the worker keeps nothing locally and restores the whole changelog on every start,
so a restart is exactly a start on the changelog. The `due` cases are written into the changelog
with deadlines falling while the worker restores; then the same figures as step 3.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bench.kit import (
    Broker,
    Fleet,
    Record,
    create_topics_named,
    incident_reported,
    input_topics,
    log,
    now,
    produce,
    read_all,
    wait_drained,
)
from bench.memory_bench import wait_gauge
from schemas.registry import decode_event
from streams.live.processing import table_value
from streams.live.topology import partition_for
from streams.rules.duties import RuleContext, obligation_id
from streams.rules.engine import Engine
from streams.rules.families import ALL_FAMILIES
from streams.rules.model import CaseState

TARGET_READY_SECONDS = 60.0
TEMPLATE_REF = "RCVTEMPLATE"


def _core_case(ref: str, received: datetime) -> dict[str, Any]:
    """The table value a live worker writes for `incident_reported(ref, received)`: the rules
    core's case with its due hint (streams/live/processing.py, `table_value`)."""
    engine = Engine(ALL_FAMILIES, RuleContext())
    engine.process(decode_event(incident_reported(ref, received)))
    (case,) = engine.snapshot()
    return table_value(CaseState.from_dict(case))


def _stamps(received: datetime) -> list[str]:
    """The timestamps a REC-24H case holds: receipt, due_soon (16 h), deadline, escalation."""
    return [(received + timedelta(hours=h)).isoformat() for h in (0, 16, 24, 48)]


class Cloner:
    """Case JSON for any ref and receipt time, from one case the rules core built."""

    def __init__(self, received: datetime) -> None:
        case = _core_case(TEMPLATE_REF, received)
        self.template = json.dumps(case, separators=(",", ":"))
        (ob,) = case["obligations"]
        self.template_oid = ob["id"]
        self.template_stamps = _stamps(received)
        for stamp in self.template_stamps:
            assert stamp in self.template, stamp

    def value(self, ref: str, received: datetime) -> bytes:
        text = self.template.replace(self.template_oid, obligation_id("REC-24H", f"{ref}/{ref}-D1"))
        text = text.replace(TEMPLATE_REF, ref)
        for old, new in zip(self.template_stamps, _stamps(received), strict=True):
            text = text.replace(old, new)
        return text.encode()

    def check(self, samples: list[tuple[str, datetime]]) -> None:
        """Each sample's clone equals what the core makes for it."""
        for ref, received in samples:
            clone = json.loads(self.value(ref, received))
            if clone != _core_case(ref, received):
                msg = f"cloned case for {ref} differs from the rules core's"
                raise AssertionError(msg)


def _received(i: int, count: int, base: datetime) -> datetime:
    """Whole seconds over five hours ending an hour before `base`."""
    offset = int(5 * 3600 * i / max(count, 1))
    return (base - timedelta(hours=6) + timedelta(seconds=offset)).replace(microsecond=0)


def _changelog(
    fleet: Fleet, count: int, due: dict[str, datetime] | None = None
) -> tuple[str, Iterator[Record]]:
    """`count` cases far from due, plus one case per `due` ref falling due at its deadline."""
    topic = f"{fleet.app_id}-incident_cases-changelog"
    base = now()
    cloner = Cloner(_received(0, count, base))
    rng = random.Random(5)
    sample = sorted(rng.sample(range(count), min(20, count)))
    cloner.check([(f"RCV{i:08d}", _received(i, count, base)) for i in sample])
    cases = [(f"RCV{i:08d}", _received(i, count, base)) for i in range(count)]
    cases += [(ref, d - timedelta(hours=24)) for ref, d in (due or {}).items()]

    def records() -> Iterator[Record]:
        # faust writes a table key JSON-encoded (b'"ref"', whatever the table's key
        # serializer) to the partition of the event that changed it: the ref's own partition.
        for ref, received in cases:
            value = cloner.value(ref, received)
            yield topic, json.dumps(ref).encode(), value, partition_for(ref, fleet.partitions)

    return topic, records()


def _drop_data(directory: Path) -> None:
    """Remove RocksDB data (gigabytes) as soon as a store is done; logs stay for the suite."""
    for data in directory.glob("*/*-data"):
        shutil.rmtree(data, ignore_errors=True)


def _due_alerts(fleet: Fleet, refs: set[str]) -> list[tuple[str, int]]:
    """(incident ref, publish time ms) of every REC-24H `breached` record for `refs`."""
    out = []
    for _, value, ts in read_all(fleet.bootstrap, fleet.topic("ncrs.alerts.v1")):
        if value is None:
            continue
        alert = json.loads(value)
        ref = alert["subject"].get("incident_ref")
        if alert["stage"] == "breached" and alert["rule_id"] == "REC-24H" and ref in refs:
            out.append((ref, ts))
    return out


def _cold_start(
    fleet: Fleet, count: int, lead: float, due: int
) -> tuple[dict[str, Any], dict[str, datetime]]:
    """Worker A restores the changelog, takes `due` incidents falling due later, and is stopped
    (SIGTERM) once it holds them; (figures, deadline of each due incident).

    The deadlines are `lead` seconds plus half the cold start's index rebuild ahead: a worker
    holding a million cases in memory can take tens of seconds to process anything after a
    rebuild, and the due incidents must be in its table before they fall due.
    """
    a = fleet.worker("w1")
    try:
        a.start()
        ready = a.wait_ready(timeout=1800)
        indexed = wait_gauge(a, count, timeout=1800)
        figures = {
            "seconds_to_ready": round(ready - a.started_at, 1),
            "seconds_to_index_rebuilt": round(indexed - a.started_at, 1),
            "rss_mib": round(a.rss() / 2**20),
        }
        lead += 0.5 * (indexed - a.started_at)
        first = now() + timedelta(seconds=lead)
        deadlines = {f"DUE{i:06d}": first + timedelta(seconds=5 * i / due) for i in range(due)}
        topic = fleet.topic("ncrs.incidents.v1")
        records = (
            (topic, ref.encode(), incident_reported(ref, d - timedelta(hours=24)))
            for ref, d in deadlines.items()
        )
        produce(fleet.bootstrap, records)
        wait_drained(fleet, input_topics(fleet), timeout=lead + 120)
        wait_gauge(a, count + due, timeout=lead + 120)
        figures["sigterm_seconds_before_first_deadline"] = round((first - now()).total_seconds(), 1)
        stop_sent = time.monotonic()
        a.stop()
        figures["seconds_sigterm_to_exit"] = round(time.monotonic() - stop_sent, 1)
    finally:
        a.stop()
    return figures, deadlines


def _restart(fleet: Fleet, refs: set[str]) -> tuple[dict[str, Any], list[tuple[str, int]]]:
    """Worker B on A's directory; (figures, every due alert record) once all refs alerted."""
    b = fleet.worker("w1")  # same directory: warm RocksDB
    try:
        started_wall = time.time()
        b.start()
        ready = b.wait_ready(timeout=1800)
        deadline = time.monotonic() + 180
        seen: list[tuple[str, int]] = []
        while time.monotonic() < deadline:
            seen = _due_alerts(fleet, refs)
            if len({r for r, _ in seen}) >= len(refs):
                break
            time.sleep(2)
        time.sleep(3)  # anything else (duplicates) still on its way
        seen = _due_alerts(fleet, refs)
        figures: dict[str, Any] = {
            "signal": "SIGTERM",
            "seconds_to_ready": round(ready - b.started_at, 1),
            "rss_mib": round(b.rss() / 2**20),
        }
    finally:
        b.stop()
    after = [ts / 1000 - started_wall for _, ts in seen if ts / 1000 >= started_wall]
    if after:
        figures["seconds_to_first_due_alert"] = round(min(after), 1)
        figures["seconds_to_last_due_alert"] = round(max(after), 1)
    figures["due_alerts_after_restart"] = len(after)
    return figures, seen


def run_store(
    broker: Broker, workdir: Path, store: str, count: int, due: int, lead: float
) -> dict[str, Any]:
    """The whole sequence for one store (module docstring)."""
    name = store.split(":", maxsplit=1)[0]
    fleet = Fleet(broker.bootstrap, f"rec-{name}", store=store, workdir=workdir)
    fleet.create_topics()
    try:
        topic, records = _changelog(fleet, count)
        create_topics_named(
            fleet.bootstrap, [topic], fleet.partitions, {"cleanup.policy": "compact"}
        )
        n, seconds = produce(fleet.bootstrap, records)
        log(f"recovery {name}: wrote {n:,} cases to {topic} in {seconds:.0f} s")
        cold, deadlines = _cold_start(fleet, n, lead, due)
        log(f"recovery {name}: cold start {cold}")
        while now() <= max(deadlines.values()) + timedelta(seconds=1):
            time.sleep(0.2)
        restart, seen = _restart(fleet, set(deadlines))
    finally:
        fleet.delete_topics()
        _drop_data(workdir / fleet.app_id)
    distinct = {r for r, _ in seen}
    result: dict[str, Any] = {
        "store": name,
        "open_obligations": n,
        "cold_start": cold,
        "restart": restart,
        "due_during_downtime": due,
        "alerted_before_stop": len(seen) - restart["due_alerts_after_restart"],
        "lost_alerts": due - len(distinct),
        "duplicated_alerts": len(seen) - len(distinct),
    }
    result["met"] = (
        restart["seconds_to_ready"] <= TARGET_READY_SECONDS and not result["lost_alerts"]
    )
    log(
        f"recovery {name}: restart {restart}, lost {result['lost_alerts']}, "
        f"duplicated {result['duplicated_alerts']}"
    )
    return result


def run_memory_store(
    broker: Broker, workdir: Path, count: int, due: int, lead: float
) -> dict[str, Any]:
    """The memory store restores the whole changelog on every start, so its restart is one
    start on a changelog that already holds `due` cases falling due `lead` s later (while the
    worker restores): no earlier worker is needed, and none has to free 9 GiB on exit."""
    fleet = Fleet(broker.bootstrap, "rec-memory", workdir=workdir)
    fleet.create_topics()
    try:
        first = now() + timedelta(seconds=lead)
        deadlines = {
            f"DUE{i:06d}": (first + timedelta(seconds=5 * i / due)).replace(microsecond=0)
            for i in range(due)
        }
        topic, records = _changelog(fleet, count, deadlines)
        create_topics_named(
            fleet.bootstrap, [topic], fleet.partitions, {"cleanup.policy": "compact"}
        )
        n, seconds = produce(fleet.bootstrap, records)
        log(f"recovery memory: wrote {n:,} cases to {topic} in {seconds:.0f} s")
        restart, seen = _restart(fleet, set(deadlines))
        restart["deadlines_seconds_after_start"] = round(lead - seconds, 1)
    finally:
        fleet.delete_topics()
        _drop_data(workdir / fleet.app_id)
    distinct = {r for r, _ in seen}
    result: dict[str, Any] = {
        "store": "memory",
        "open_obligations": n,
        "restart": restart,
        "due_during_recovery": due,
        "lost_alerts": due - len(distinct),
        "duplicated_alerts": len(seen) - len(distinct),
    }
    result["met"] = (
        restart["seconds_to_ready"] <= TARGET_READY_SECONDS and not result["lost_alerts"]
    )
    log(
        f"recovery memory: restart {restart}, lost {result['lost_alerts']}, "
        f"duplicated {result['duplicated_alerts']}"
    )
    return result


def run(broker: Broker, workdir: Path, *, quick: bool) -> dict[str, Any]:
    count, due, lead = (5_000, 200, 10.0) if quick else (1_000_000, 1_000, 25.0)
    return {
        "method": "changelog written directly from rules-core case states (see module doc)",
        "rocksdb": run_store(broker, workdir, "rocksdb://", count, due, lead),
        "memory": run_memory_store(broker, workdir, count, due, lead + (10 if quick else 60)),
        "target_seconds_to_ready": TARGET_READY_SECONDS,
    }
