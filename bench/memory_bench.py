"""Measurement 4: open obligations per GiB of resident memory (RSS growth).

Every obligation here is a REC-24H opened by an `incident.reported` with one THEFT disclosure
received in the last six hours, so none falls due during the measurement (the smallest realistic
case: one incident, one disclosure, one obligation).

- Engine: a fresh subprocess (`python -m bench.memory_bench engine N`) measures its own RSS
  before creating the engine and after `N` events went through decode + `Engine.process` (the
  events are made one at a time and dropped, so only what the engine keeps stays).
- Worker, memory and RocksDB stores: a fresh worker is started on empty topics and left idle for
  a few seconds (baseline RSS), then `N` incidents are produced; once the consumer group has
  committed them all and the worker's `ncrs_obligations_open` gauge shows them, RSS is read
  again. The RocksDB figure is the process's memory only (block cache and memtables included);
  the data on disk is reported beside it.

Measurement 5 reports the RSS of workers holding 1,000,000 obligations restored from the
changelog as a cross-check at full scale.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.kit import (
    Broker,
    Fleet,
    Worker,
    incident_reported,
    input_topics,
    log,
    now,
    produce,
    rss_bytes,
    wait_drained,
)
from schemas.registry import decode_event
from streams.rules.duties import RuleContext
from streams.rules.engine import Engine
from streams.rules.families import ALL_FAMILIES

TARGET_PER_GIB = 1_000_000
RECEIVED_WINDOW = timedelta(hours=5)


def received_at(i: int, count: int, base: Any) -> Any:
    """Spread over five hours ending an hour before `base`: every deadline well ahead."""
    return base - timedelta(hours=6) + RECEIVED_WINDOW * (i / max(count, 1))


def _engine_child(count: int) -> dict[str, Any]:
    """In the subprocess: RSS growth of an Engine holding `count` open obligations."""
    base = now()
    warm = Engine(ALL_FAMILIES, RuleContext())  # import-time and first-use allocations
    warm.process(decode_event(incident_reported("WARM", received_at(0, 1, base))))
    del warm
    gc.collect()
    before = rss_bytes(os.getpid())
    engine = Engine(ALL_FAMILIES, RuleContext())
    started = time.perf_counter()
    for i in range(count):
        engine.process(decode_event(incident_reported(f"MEM{i:08d}", received_at(i, count, base))))
    seconds = time.perf_counter() - started
    gc.collect()
    after = rss_bytes(os.getpid())
    opened = sum(1 for _ in engine.open_obligations())
    return {
        "open_obligations": opened,
        "rss_before": before,
        "rss_after": after,
        "seconds": round(seconds, 1),
    }


def engine(count: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.memory_bench", "engine", str(count)],
        check=True, capture_output=True, text=True, timeout=3600,
    )  # fmt: skip
    raw: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return _per_gib(raw["open_obligations"], raw["rss_after"] - raw["rss_before"]) | {
        "events_per_s": round(count / raw["seconds"]) if raw["seconds"] else None
    }


def _per_gib(opened: int, growth: int) -> dict[str, Any]:
    per = growth / max(opened, 1)
    return {
        "open_obligations": opened,
        "rss_growth_mib": round(growth / 2**20, 1),
        "bytes_per_open_obligation": round(per),
        "rss_gib_per_million": round(per * 1_000_000 / 2**30, 2),
        "open_obligations_per_gib": round(2**30 / per) if per > 0 else None,
        "met": per > 0 and 2**30 / per >= TARGET_PER_GIB,
    }


def wait_gauge(worker: Worker, at_least: int, timeout: float) -> float:
    """Until the worker reports `at_least` open obligations; monotonic time it did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.metrics().get("ncrs_obligations_open", 0) >= at_least:
            return time.monotonic()
        time.sleep(0.5)
    msg = f"worker did not report {at_least:,} open obligations within {timeout:.0f} s"
    raise TimeoutError(msg)


def dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def worker(broker: Broker, workdir: Path, store: str, count: int) -> dict[str, Any]:
    """RSS growth of one worker with `store` after it processed `count` new obligations."""
    fleet = Fleet(
        broker.bootstrap, f"mem-{store.split(':', maxsplit=1)[0]}", store=store, workdir=workdir
    )
    fleet.create_topics()
    w = fleet.worker()
    try:
        w.start()
        w.wait_ready()
        time.sleep(3)
        before = w.rss()
        base = now()
        topic = fleet.topic("ncrs.incidents.v1")
        records = (
            (
                topic,
                f"MEM{i:08d}".encode(),
                incident_reported(f"MEM{i:08d}", received_at(i, count, base)),
            )
            for i in range(count)
        )
        started = time.monotonic()
        produce(fleet.bootstrap, records)
        wait_drained(fleet, input_topics(fleet), timeout=3600)
        done = wait_gauge(w, count, timeout=600)
        time.sleep(2)
        after = w.rss()
        on_disk = dir_size(w.directory)
    finally:
        w.stop()
        fleet.delete_topics()
    result = _per_gib(count, after - before) | {
        "rss_idle_mib": round(before / 2**20),
        "rss_loaded_mib": round(after / 2**20),
        "load_events_per_s": round(count / (done - started)),
    }
    if store.startswith("rocksdb"):
        result["rocksdb_on_disk_mib"] = round(on_disk / 2**20)
    log(
        f"memory {store}: {result['rss_growth_mib']} MiB for {count:,} obligations "
        f"-> {result['open_obligations_per_gib']:,} per GiB"
    )
    return result


def run(broker: Broker, workdir: Path, *, quick: bool) -> dict[str, Any]:
    engine_count, worker_count = (5_000, 5_000) if quick else (1_000_000, 150_000)
    log(f"memory: engine with {engine_count:,} open obligations")
    eng = engine(engine_count)
    log(f"memory: engine {eng['open_obligations_per_gib']:,} per GiB")
    return {
        "obligation": "REC-24H of an incident with one THEFT disclosure, deadline ahead",
        "engine": eng,
        "worker_memory_store": worker(broker, workdir, "memory://", worker_count),
        "worker_rocksdb_store": worker(broker, workdir, "rocksdb://", worker_count),
        "target_per_gib": TARGET_PER_GIB,
    }


if __name__ == "__main__":
    if sys.argv[1:2] == ["engine"]:
        print(json.dumps(_engine_child(int(sys.argv[2]))))
