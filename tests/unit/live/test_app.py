"""The worker's faust-facing decisions with a stand-in consumer: input bounds and the offsets
settled after a rebalance. No broker: the faust app is built, never started."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from faust.types import TP

from schemas.codes import ClockKind
from streams.live.app import LiveWorker
from streams.live.clock import Bound
from streams.rules.families import ALL_FAMILIES, RULE_IDS
from streams.settings import load_settings

WALL = datetime(2024, 6, 4, 12, 0, tzinfo=UTC)
INCIDENTS = "ncrs.incidents.v1"
CRIMES = "ncrs.crime-records.v1"


@dataclass
class FakeConsumer:
    """What the worker asks faust's consumer, answered from dicts."""

    assigned: set[TP]
    highwaters: dict[TP, int | None]
    committed: dict[TP, int | None] = field(default_factory=dict)
    log_start: dict[TP, int] = field(default_factory=dict)
    seeks: dict[TP, int] = field(default_factory=dict)
    commits: list[dict[TP, int]] = field(default_factory=list)
    earliest_asked: list[TP] = field(default_factory=list)

    @property
    def _committed_offset(self) -> dict[TP, int | None]:
        return self.committed

    def assignment(self) -> set[TP]:
        return self.assigned

    def highwater(self, tp: TP) -> int | None:
        if tp not in self.highwaters:
            raise KeyError(tp)  # aiokafka raises for a partition it does not hold
        return self.highwaters[tp]

    async def earliest_offsets(self, *tps: TP) -> dict[TP, int]:
        self.earliest_asked.extend(tps)
        return {tp: self.log_start.get(tp, 0) for tp in tps}

    async def seek_to_committed(self) -> dict[TP, int | None]:
        return {tp: self.committed.get(tp) for tp in self.assigned}

    async def seek(self, tp: TP, offset: int) -> None:
        self.seeks[tp] = offset

    async def _commit(self, offsets: dict[TP, int]) -> bool:
        self.commits.append(dict(offsets))
        return True


@dataclass
class FakeAssignor:
    """The assignor's view: this worker's active partitions."""

    actives: set[TP]

    def assigned_actives(self) -> set[TP]:
        return self.actives


def _worker(consumer: FakeConsumer) -> LiveWorker:
    live = LiveWorker(
        load_settings(topic_partitions=2, grace_seconds=60), ALL_FAMILIES, rule_ids=RULE_IDS
    )
    live.app.consumer = consumer  # type: ignore[assignment]
    live.app.__dict__["assignor"] = FakeAssignor(consumer.assigned)  # a cached_property
    return live


def _tp(topic: str, partition: int) -> TP:
    return TP(topic, partition)


async def test_input_bounds__caught_up_lagging_and_unknown_inputs() -> None:
    """Caught up: wall - grace; lagging with progress: reached - grace; lagging without: None;
    side topics and changelogs are not inputs and get no bound."""
    caught, lagging, fresh = _tp(INCIDENTS, 0), _tp(CRIMES, 0), _tp(CRIMES, 1)
    side = _tp("ncrs-monitor-incident-side", 0)
    consumer = FakeConsumer(
        assigned={caught, lagging, fresh, side},
        highwaters={caught: 10, lagging: 500, fresh: 40, side: 7},
        committed={caught: 10, lagging: 100},
    )
    live = _worker(consumer)
    reached = WALL - timedelta(days=2)
    live.progress.delivered((CRIMES, 0), 200, reached)
    bounds = await live.input_bounds(WALL)
    grace = timedelta(seconds=60)
    assert bounds == {
        "ncrs.incidents.v1/0": Bound(WALL - grace, ClockKind.WALL_CLOCK),
        "ncrs.crime-records.v1/0": Bound(reached - grace, ClockKind.EVENT_TIME_WATERMARK),
        "ncrs.crime-records.v1/1": None,
    }


async def test_input_bounds__never_committed_empty_partition_is_caught_up_by_its_log_start() -> (
    None
):
    """No commit and nothing processed: the log start decides (an emptied partition whose log
    starts at its highwater is caught up), asked once per assignment."""
    tp = _tp(INCIDENTS, 1)
    consumer = FakeConsumer(assigned={tp}, highwaters={tp: 35}, log_start={tp: 35})
    live = _worker(consumer)
    for _ in range(2):
        bounds = await live.input_bounds(WALL)
        assert bounds["ncrs.incidents.v1/1"] == Bound(
            WALL - timedelta(seconds=60), ClockKind.WALL_CLOCK
        )
    assert consumer.earliest_asked == [tp]


async def test_input_bounds__highwater_not_yet_known_is_not_caught_up() -> None:
    """Before the first fetch response names the highwater, the input is not vouched for."""
    tp = _tp(INCIDENTS, 0)
    consumer = FakeConsumer(assigned={tp}, highwaters={}, committed={tp: 10})
    bounds = await _worker(consumer).input_bounds(WALL)
    assert bounds["ncrs.incidents.v1/0"] is None


@pytest.mark.parametrize("committed", [None, 0])
async def test_settle_offsets__rewinds_partitions_without_a_commit_to_the_log_start(
    committed: int | None,
) -> None:
    """A partition with no committed offset (or 0, which aiokafka does not seek to) is rewound
    to its log start; committed ones and faust's own topics are left to faust."""
    fresh, done = _tp(INCIDENTS, 0), _tp(CRIMES, 0)
    side = _tp("ncrs-monitor-crime-side", 0)
    changelog = _tp("ncrs-monitor-crime_cases-changelog", 0)
    consumer = FakeConsumer(
        assigned={fresh, done, side, changelog},
        highwaters={},
        committed={fresh: committed, done: 42, side: None, changelog: None},
        log_start={fresh: 5, side: 0},
    )
    await _worker(consumer).settle_offsets()
    assert consumer.seeks == {fresh: 5, side: 0}
    assert consumer.commits == []


@pytest.mark.parametrize("committed", [None, 0, 80])
async def test_settle_offsets__commits_what_this_worker_delivered_past_the_groups_commit(
    committed: int | None,
) -> None:
    """Input this worker delivered before the rebalance, whose acks faust dropped, is committed
    (and resumed from), whether the partition had no commit or an older one."""
    tp = _tp(CRIMES, 1)
    consumer = FakeConsumer(
        assigned={tp}, highwaters={}, committed={tp: committed}, log_start={tp: 3}
    )
    live = _worker(consumer)
    live.progress.delivered((CRIMES, 1), 120, None)
    await live.settle_offsets()
    assert consumer.commits == [{tp: 120}]
    assert consumer.seeks == {tp: 120}
    assert consumer.earliest_asked == []


async def test_settle_offsets__never_commits_behind_the_groups_commit() -> None:
    """Where another worker committed further than this one delivered, nothing is committed
    or sought: faust resumes from the group's commit."""
    tp = _tp(INCIDENTS, 1)
    consumer = FakeConsumer(assigned={tp}, highwaters={}, committed={tp: 300})
    live = _worker(consumer)
    live.progress.delivered((INCIDENTS, 1), 120, None)
    await live.settle_offsets()
    assert consumer.commits == []
    assert consumer.seeks == {}


async def test_settle_offsets__consumer_failure_is_logged_not_raised() -> None:
    """A failing consumer call never escapes the rebalance callback."""

    class Broken(FakeConsumer):
        async def seek_to_committed(self) -> dict[TP, int | None]:
            raise RuntimeError("broker gone")

    tp = _tp(INCIDENTS, 0)
    consumer: Any = Broken(assigned={tp}, highwaters={})
    await _worker(consumer).settle_offsets()
    assert consumer.seeks == {}
    assert consumer.commits == []
