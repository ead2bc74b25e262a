"""Reading what a fleet wrote, from the start of each topic, and waiting for it to catch up.

A work-queue topic is read the way its consumers are told to read it: from the beginning,
folding the log by key (the last value wins, a tombstone deletes). That is what compaction would
leave, so the test needs no compaction to have run.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from schemas.codes import Queue
from streams.topics import ALERTS, DEAD_LETTERS, WORKQUEUE_TOPICS
from tests.integration.kit import Fleet


@dataclass(frozen=True, slots=True)
class Message:
    """The parts of a consumed record the checks look at."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


async def end_offsets(bootstrap: str, topics: Sequence[str]) -> dict[TopicPartition, int]:
    """The current end offset of every partition of `topics`."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = [
            TopicPartition(t, p) for t in topics for p in (consumer.partitions_for_topic(t) or ())
        ]
        if len(parts) < len(topics):
            await consumer._client.force_metadata_update()
            parts = [
                TopicPartition(t, p)
                for t in topics
                for p in (consumer.partitions_for_topic(t) or ())
            ]
        return dict(await consumer.end_offsets(parts)) if parts else {}
    finally:
        await consumer.stop()


async def read_all(bootstrap: str, topic: str, timeout: float = 120.0) -> list[Message]:
    """Every record of `topic` from offset 0 up to its end offsets at the time of the call."""
    ends = await end_offsets(bootstrap, [topic])
    wanted = {tp: end for tp, end in ends.items() if end > 0}
    out: list[Message] = []
    if not wanted:
        return out
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    try:
        consumer.assign(list(wanted))
        await consumer.seek_to_beginning(*wanted)
        done: set[TopicPartition] = set()
        async with asyncio.timeout(timeout):
            while len(done) < len(wanted):
                batches = await consumer.getmany(timeout_ms=500, max_records=10_000)
                for tp, msgs in batches.items():
                    out.extend(
                        Message(tp.partition, m.offset, m.key, m.value)
                        for m in msgs
                        if m.offset < wanted[tp]
                    )
                for tp, end in wanted.items():
                    # position, not the last offset seen: compaction may leave offset gaps
                    if tp not in done and await consumer.position(tp) >= end:
                        done.add(tp)
    finally:
        await consumer.stop()
    return out


def fold(messages: Iterable[Message]) -> dict[bytes, bytes]:
    """The log folded by key: the last value of each key, keys whose last value is a tombstone
    removed. Records are in offset order within a partition, and a key lives in one partition."""
    state: dict[bytes, bytes] = {}
    for m in messages:
        if m.key is None:
            continue
        if m.value is None:
            state.pop(m.key, None)
        else:
            state[m.key] = m.value
    return state


@dataclass(frozen=True)
class Outputs:
    """What a fleet wrote: raw alerts, folded work queues, dead letters."""

    alerts: list[dict[str, Any]]
    open_items: dict[Queue, dict[str, dict[str, Any]]]
    dead_letters: list[dict[str, Any]]
    workqueue_records: int

    @property
    def alert_ids(self) -> set[str]:
        return {a["alert_id"] for a in self.alerts}

    @property
    def raw_duplicate_alerts(self) -> int:
        """Alert records beyond the first of each id (what an at-least-once restart re-sends)."""
        return len(self.alerts) - len(self.alert_ids)

    def duplicated_alert_ids(self) -> Counter[str]:
        counts = Counter(a["alert_id"] for a in self.alerts)
        return Counter({k: n for k, n in counts.items() if n > 1})


async def read_outputs(fleet: Fleet) -> Outputs:
    """Read the alerts, every work queue (folded) and the dead letters of a fleet."""
    bootstrap = fleet.bootstrap
    raw_alerts = await read_all(bootstrap, fleet.topic(ALERTS.name))
    alerts = [json.loads(m.value) for m in raw_alerts if m.value is not None]
    open_items: dict[Queue, dict[str, dict[str, Any]]] = {}
    records = 0
    for queue, spec in WORKQUEUE_TOPICS.items():
        messages = await read_all(bootstrap, fleet.topic(spec.name))
        records += len(messages)
        open_items[queue] = {k.decode(): json.loads(v) for k, v in fold(messages).items()}
    letters = [
        json.loads(m.value)
        for m in await read_all(bootstrap, fleet.topic(DEAD_LETTERS.name))
        if m.value is not None
    ]
    return Outputs(alerts, open_items, letters, records)


async def committed_offsets(bootstrap: str, group: str) -> dict[TopicPartition, int]:
    """The group's committed offset of every partition it ever committed."""
    client = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await client.start()
    try:
        committed = await client.list_consumer_group_offsets(group)
    finally:
        await client.close()
    return {tp: meta.offset for tp, meta in committed.items() if meta.offset >= 0}


async def committed_lag(bootstrap: str, group: str, topics: Sequence[str]) -> int:
    """Messages of `topics` not yet committed by `group` (end offset minus committed)."""
    ends = await end_offsets(bootstrap, topics)
    committed = await committed_offsets(bootstrap, group)
    return sum(end - committed.get(tp, 0) for tp, end in ends.items())
