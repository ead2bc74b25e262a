"""The worker's index rebuild as a task beside the agent (memory store; the app is never
started): every active key indexed from its hint, standby keys skipped, gauges at the end, and
a newer rebuild abandoning an older one."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from faust.types import TP

from streams.live.app import REBUILD_CHUNK, LiveWorker
from streams.live.processing import table_value
from streams.live.topology import partition_for
from streams.rules.duties import RuleContext
from streams.rules.engine import Engine
from streams.rules.families import ALL_FAMILIES, RULE_IDS
from streams.rules.model import CaseKind, CaseState
from streams.settings import load_settings
from tests.factories import make_disclosure, make_incident_reported
from tests.unit.live.test_app import FakeAssignor

RECEIVED = datetime(2024, 6, 4, 12, 0, tzinfo=UTC)
KEYS = 2 * REBUILD_CHUNK + 17  # several yields to the event loop


def _worker() -> tuple[LiveWorker, int]:
    """A worker owning partition 0 of two, its incident table holding KEYS cases; (worker,
    how many of them are on partition 0)."""
    live = LiveWorker(load_settings(topic_partitions=2), ALL_FAMILIES, rule_ids=RULE_IDS)
    side_topic = live.topology.side_of(CaseKind.INCIDENT)
    live.app.__dict__["assignor"] = FakeAssignor({TP(side_topic, 0)})  # a cached_property
    engine = Engine(ALL_FAMILIES, RuleContext())
    template = make_incident_reported(
        incident_ref="INC-T", received_at=RECEIVED, disclosures=[make_disclosure()]
    )
    engine.process(template)
    (raw,) = engine.snapshot()
    case = CaseState.from_dict(raw)
    store = live.tables[CaseKind.INCIDENT].data
    active = 0
    for i in range(KEYS):
        key = f"INC-{i}"
        store[key] = table_value(CaseState(case.kind, key, case.facts, case.obligations))
        active += partition_for(key, 2) == 0
    return live, active


async def _wait(live: LiveWorker) -> None:
    task = live._rebuilds.get(CaseKind.INCIDENT)
    if task is not None:
        await task


async def test_start_rebuild__indexes_every_active_key_from_its_hint_in_a_task() -> None:
    """The rebuild returns at once, runs beside the caller and ends with the full index."""
    live, active = _worker()
    side = live.sides[CaseKind.INCIDENT]
    live.start_rebuild(CaseKind.INCIDENT)
    assert side.rebuilding
    await _wait(live)
    assert not side.rebuilding
    assert set(side.index) == {0}
    assert len(side.index[0]) == active
    assert side.index[0].next_due() == RECEIVED + timedelta(hours=16)  # REC-24H due_soon
    assert side.gauge_parts[0]["REC-24H"] == active


async def test_start_rebuild__abandons_a_rebuild_still_running() -> None:
    """A second start (a new assignment, a source back from silence) cancels the first."""
    live, active = _worker()
    side = live.sides[CaseKind.INCIDENT]
    live.start_rebuild(CaseKind.INCIDENT)
    first = live._rebuilds[CaseKind.INCIDENT]
    await asyncio.sleep(0)
    live.start_rebuild(CaseKind.INCIDENT)
    await _wait(live)
    assert first.cancelled()
    assert len(side.index[0]) == active
    assert side.gauge_parts[0]["REC-24H"] == active
    assert CaseKind.INCIDENT not in live._rebuilds


async def test_start_due_rebuilds__starts_once_tables_are_recovered_and_only_once() -> None:
    """Nothing while the assignment or its tables are in flux; then one rebuild per side."""
    live, active = _worker()
    live.generation = 1
    ticking = False
    live._ticking = lambda: ticking  # type: ignore[method-assign]  # recovery state stand-in
    live.start_due_rebuilds()
    assert live._rebuilds == {}
    ticking = True
    live.start_due_rebuilds()
    first = live._rebuilds[CaseKind.INCIDENT]
    live.start_due_rebuilds()
    assert live._rebuilds[CaseKind.INCIDENT] is first
    await _wait(live)
    assert len(live.sides[CaseKind.INCIDENT].index[0]) == active
