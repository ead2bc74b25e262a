"""In-process: rebuilding a live worker's due index from a RocksDB table of N cases.

The recovery benchmark (measurement 5) found a warm restart ready in seconds but its first due
alert a minute later: the agent rebuilds its due index from every case before it handles
anything. This times that rebuild alone, without Kafka or faust, on a RocksDB database holding
what the worker's table holds: the key JSON-encoded, the value faust's JSON of the case
(`bench.recovery_bench.Cloner`: one REC-24H incident case per ref, as the rules core makes it).

Two tables, same cases, rebuilt by the same `SideProcessor` in one run:
- before: values as `CaseState.to_dict()` (no due hint): each is decoded (JSON, then
  `CaseState.from_dict`) and `next_due` computed from the case;
- after: values as `processing.table_value` (due hint first): `rebuild_add_encoded` reads the
  hint alone.
The phases of the old path (iterate, JSON, from_dict, next_due) are timed separately too.

    python -m bench.rebuild_bench [N]      # default 200,000
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from rocksdict import Options, Rdict

from bench.kit import now
from bench.recovery_bench import Cloner, _received
from streams.live.metrics import Metrics
from streams.live.processing import SideProcessor, table_value
from streams.live.topology import Topology
from streams.rules.duties import RuleContext
from streams.rules.engine import next_due
from streams.rules.families import ALL_FAMILIES, RULE_IDS
from streams.rules.model import CaseKind, CaseState
from streams.settings import load_settings
from streams.topics import TOPIC_OF_TYPE

PARTITIONS = 6


def _side() -> SideProcessor:
    topology = Topology.from_settings(load_settings(topic_partitions=PARTITIONS))
    metrics = Metrics(
        CollectorRegistry(),
        rule_ids=RULE_IDS,
        input_topics=[spec.name for spec in TOPIC_OF_TYPE.values()],
        version="bench",
        ruleset="bench",
    )
    side = SideProcessor(
        CaseKind.INCIDENT,
        ALL_FAMILIES,
        RuleContext(),
        topology,
        metrics,
        grace=timedelta(seconds=120),
        future_tolerance=timedelta(minutes=5),
        staleness=timedelta(minutes=15),
        max_age=timedelta(days=90),
    )
    side.start_rebuild(range(PARTITIONS))
    return side


def _write(path: Path, count: int, *, hinted: bool) -> None:
    base = now()
    cloner = Cloner(_received(0, count, base))
    db = Rdict(str(path), options=Options(raw_mode=True))
    for i in range(count):
        ref = f"RCV{i:08d}"
        value: dict[str, Any] = json.loads(cloner.value(ref, _received(i, count, base)))
        if hinted:
            value = table_value(CaseState.from_dict(value))
        db[json.dumps(ref).encode()] = json.dumps(value, separators=(",", ":")).encode()
    db.close()


def _items(path: Path) -> Iterator[tuple[bytes, bytes]]:
    db = Rdict(str(path), options=Options(raw_mode=True))
    try:
        yield from db.items()
    finally:
        db.close()


def _rebuild(path: Path) -> tuple[float, int]:
    """Seconds to rebuild a side's index from the table at `path`, and the keys indexed."""
    side = _side()
    started = time.perf_counter()
    for raw_key, value in _items(path):
        side.rebuild_add_encoded(json.loads(raw_key), value, json.loads)
    side.finish_rebuild()
    seconds = time.perf_counter() - started
    return seconds, sum(len(i) for i in side.index.values())


def _phases(path: Path) -> dict[str, float]:
    """The old path's time by phase, each entry timed as it streams by (nothing is kept, so
    the collector sees what the rebuild itself leaves, as in the worker)."""
    clock = time.perf_counter
    spent = dict.fromkeys(("iterate", "json", "from_dict", "next_due"), 0.0)
    max_age = timedelta(days=90)
    mark = clock()
    for _, value in _items(path):
        t1 = clock()
        raw = json.loads(value)
        t2 = clock()
        case = CaseState.from_dict(raw)
        t3 = clock()
        next_due(case, max_age=max_age)
        t4 = clock()
        spent["iterate"] += t1 - mark
        spent["json"] += t2 - t1
        spent["from_dict"] += t3 - t2
        spent["next_due"] += t4 - t3
        mark = clock()
    return {k: round(v, 2) for k, v in spent.items()}


def run(count: int) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="rebuild-bench-"))
    try:
        plain, hinted = workdir / "plain", workdir / "hinted"
        _write(plain, count, hinted=False)
        _write(hinted, count, hinted=True)
        before, n_before = _rebuild(plain)
        after, n_after = _rebuild(hinted)
        assert n_before == n_after == count, (n_before, n_after)
        return {
            "cases": count,
            "before_seconds": round(before, 2),
            "after_seconds": round(after, 2),
            "speedup": round(before / after, 1),
            "before_phases": _phases(plain),
        }
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000), indent=1))
