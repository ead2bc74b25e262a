"""A live worker side without faust or Kafka: a `SideProcessor`, a dict as its table, and ticks.

`Side.run` does what the faust agent does with one batch (streams/live/app.py): process every
message, then write the changed cases to the table and commit. Tests drive it with plain
messages and read back the outputs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry

from schemas.codes import ClockKind
from schemas.events import Envelope
from schemas.registry import encode_event
from streams.live.clock import Bound, encode_tick
from streams.live.metrics import Metrics
from streams.live.processing import TICK_HEADER, BatchOutput, SideProcessor, table_value
from streams.live.topology import Topology, partition_for
from streams.rules.duties import RuleContext
from streams.rules.families import ALL_FAMILIES, RULE_IDS
from streams.rules.family import RuleFamily
from streams.rules.model import CaseKind, CaseState
from streams.settings import load_settings
from streams.topics import TOPIC_OF_TYPE

PARTITIONS = 3
NOW = datetime(2024, 6, 4, 12, 0, tzinfo=UTC)
"""The wall clock of every batch unless a test says otherwise."""

Message = tuple[str, int, int, bytes | None, dict[str, bytes]]


def topology(partitions: int = PARTITIONS) -> Topology:
    """The topic names of a test deployment (no suffix)."""
    return Topology.from_settings(load_settings(topic_partitions=partitions))


def metrics(registry: CollectorRegistry | None = None) -> Metrics:
    """Metrics on a fresh registry."""
    return Metrics(
        registry or CollectorRegistry(),
        rule_ids=RULE_IDS,
        input_topics=[spec.name for spec in TOPIC_OF_TYPE.values()],
        version="test",
        ruleset="test",
    )


def tick(at: datetime, bounds: dict[str, Bound | None]) -> bytes:
    """A tick's value."""
    return encode_tick(at, bounds)


def all_caught_up(topo: Topology, at: datetime, grace: timedelta = timedelta(0)) -> bytes:
    """A tick from a worker owning every input partition, all caught up at wall clock `at`."""
    return encode_tick(
        at, {source: Bound(at - grace, ClockKind.WALL_CLOCK) for source in topo.clock_sources}
    )


@dataclass
class Side:
    """One agent's processor and table."""

    kind: CaseKind
    topo: Topology = field(default_factory=topology)
    families: tuple[RuleFamily, ...] = ALL_FAMILIES
    grace: timedelta = timedelta(0)
    retention: timedelta | None = None
    max_age: timedelta | None = None
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    table: dict[str, dict[str, Any]] = field(default_factory=dict)
    reads: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.metrics = metrics(self.registry)
        extra: dict[str, Any] = {"max_age": self.max_age}
        if self.retention is not None:
            extra["retention"] = self.retention
        self.proc = SideProcessor(
            self.kind,
            self.families,
            RuleContext(),
            self.topo,
            self.metrics,
            grace=self.grace,
            future_tolerance=timedelta(minutes=5),
            staleness=timedelta(minutes=15),
            **extra,
        )
        self.proc.start_rebuild(range(self.topo.partitions))
        self.proc.finish_rebuild()

    def _read(self, key: str, partition: int) -> CaseState | None:
        self.reads.append(key)
        raw = self.table.get(key)
        return None if raw is None else CaseState.from_dict(raw)

    def run(self, messages: Iterable[Message], now: datetime = NOW) -> BatchOutput:
        """One batch: process, write the table, commit (what app.py does after delivery)."""
        batch = self.proc.batch(self._read, now)
        for topic, partition, offset, value, headers in messages:
            batch.message(topic, partition, offset, value, headers)
        for key, (case, _) in batch.output.cases.items():
            if case is None:
                self.table.pop(key, None)
            else:
                self.table[key] = table_value(case)
        self.proc.commit(batch)
        return batch.output

    def tick_all(self, value: bytes, now: datetime = NOW) -> BatchOutput:
        """The same tick on every partition of this side's topic."""
        side = self.topo.side_of(self.kind)
        return self.run(
            [(side, p, 0, value, {TICK_HEADER: b"1"}) for p in range(self.topo.partitions)], now
        )

    def case(self, key: str) -> CaseState | None:
        """A case as the table holds it."""
        raw = self.table.get(key)
        return None if raw is None else CaseState.from_dict(raw)


def on_topic(topo: Topology, event: Envelope, key: str, offset: int = 0) -> Message:
    """`event` as a producer sends it: on its input topic, on the partition of `key`."""
    actual_of = {canonical: actual for actual, canonical in topo.canonical.items()}
    topic = actual_of[TOPIC_OF_TYPE[event.type].name]
    return (topic, partition_for(key, topo.partitions), offset, encode_event(event), {})


def alerts(out: BatchOutput) -> list[tuple[str, str]]:
    """(rule, stage) of every alert in a batch's output."""
    return [(alert.rule_id, alert.stage.value) for alert, _ in out.alerts]
