"""Creating and checking the monitor's topics through the Kafka admin API.

faust creates only its internal topics; the source and output topics must exist with the
declared partition counts before a worker starts, or its agents crash-loop on
`PartitionsMismatch` while it reports "Ready" (docs: ../shared/notes/faust-and-kafka.md). These
functions serve `ncrs-monitor topics create|list`, the worker's start-up check and the tests.
Every broker failure becomes a `BrokerError` with a one-line message.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from streams.errors import BrokerError
from streams.kafka_client import client_kwargs, diagnose_connection
from streams.settings import Settings
from streams.topics import ALL_TOPICS, DEFAULT_PARTITIONS, TopicSpec

DEFAULT_TIMEOUT_SECONDS = 15.0
"""How long an admin operation may take before the broker counts as unreachable."""

_TOPIC_ALREADY_EXISTS = 36


class TopicStatus(StrEnum):
    """State of one expected topic on the broker."""

    CREATED = "created"
    EXISTS = "exists"
    MISSING = "missing"
    PARTITION_MISMATCH = "partition_mismatch"


@dataclass(frozen=True)
class TopicReport:
    """Expected against actual for one topic."""

    name: str
    expected_partitions: int
    actual_partitions: int | None
    status: TopicStatus


def resolve_specs(
    settings: Settings,
    specs: Iterable[TopicSpec] = ALL_TOPICS,
    *,
    suffix: str = "",
) -> list[TopicSpec]:
    """The topics as they should exist: partition override applied, names suffixed.

    `Settings.topic_partitions` replaces the default count on every topic that uses it, so inputs,
    outputs and faust's changelogs stay co-partitioned; a topic declared with another count on
    purpose (the single-partition dead-letter topic) keeps it. `suffix` gives tests their own
    topics on a shared broker.
    """
    resolved = []
    for spec in specs:
        partitions = (
            settings.topic_partitions if spec.partitions == DEFAULT_PARTITIONS else spec.partitions
        )
        resolved.append(
            dataclasses.replace(spec, name=f"{spec.name}{suffix}", partitions=partitions)
        )
    return resolved


@asynccontextmanager
async def admin_client(
    settings: Settings, timeout: float = DEFAULT_TIMEOUT_SECONDS
) -> AsyncIterator[AIOKafkaAdminClient]:
    """A started admin client; connection failures become a `BrokerError` naming the broker."""
    client = AIOKafkaAdminClient(**client_kwargs(settings), request_timeout_ms=int(timeout * 1000))
    try:
        async with asyncio.timeout(timeout):
            await client.start()
    except (KafkaError, OSError, TimeoutError) as exc:
        await client.close()
        refusal = await diagnose_connection(settings, timeout=min(timeout, 5.0))
        if refusal is not None:
            msg = f"Kafka at {settings.bootstrap_servers} refused the connection: {refusal}"
        else:
            msg = (
                f"cannot reach Kafka at {settings.bootstrap_servers} within {timeout:g} s "
                f"({type(exc).__name__}); is the broker running? (set NCRS_BOOTSTRAP_SERVERS)"
            )
        raise BrokerError(msg) from exc
    try:
        yield client
    finally:
        await client.close()


async def _partitions(client: AIOKafkaAdminClient, names: Sequence[str]) -> dict[str, int | None]:
    # List first and describe only what exists: a metadata request naming a missing topic
    # would auto-create it on a broker with auto.create.topics.enable=true.
    existing = set(await client.list_topics())
    wanted = [name for name in names if name in existing]
    counts: dict[str, int | None] = dict.fromkeys(names)
    if wanted:
        described: list[dict[str, Any]] = await client.describe_topics(wanted)
        for topic in described:
            if topic["error_code"] == 0:
                counts[topic["topic"]] = len(topic["partitions"])
    return counts


async def describe_partitions(
    settings: Settings,
    names: Sequence[str],
    *,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> dict[str, int | None]:
    """Partition count of each named topic, `None` where the topic does not exist."""
    async with admin_client(settings, timeout) as client:
        try:
            async with asyncio.timeout(timeout):
                return await _partitions(client, names)
        except (KafkaError, TimeoutError) as exc:
            msg = f"describing topics failed: {type(exc).__name__}: {exc}"
            raise BrokerError(msg) from exc


async def _await_leaders(client: AIOKafkaAdminClient, names: Sequence[str]) -> dict[str, int]:
    """Partition counts of just-created topics, once every partition has a leader.

    Creation is acknowledged before metadata shows the topic everywhere; a producer or worker
    started straight after would otherwise see it missing. The caller's timeout bounds the wait.
    """
    while True:
        described: list[dict[str, Any]] = await client.describe_topics(list(names))
        ready = {
            topic["topic"]: len(topic["partitions"])
            for topic in described
            if topic["error_code"] == 0
            and topic["partitions"]
            and all(p["leader"] >= 0 for p in topic["partitions"])
        }
        if len(ready) == len(names):
            return ready
        await asyncio.sleep(0.1)


def _report(spec: TopicSpec, actual: int | None, *, created: bool = False) -> TopicReport:
    if actual is None:
        status = TopicStatus.MISSING
    elif actual != spec.partitions:
        status = TopicStatus.PARTITION_MISMATCH
    else:
        status = TopicStatus.CREATED if created else TopicStatus.EXISTS
    return TopicReport(spec.name, spec.partitions, actual, status)


async def check_topics(
    settings: Settings,
    specs: Sequence[TopicSpec],
    *,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> list[TopicReport]:
    """Expected against actual for each topic, changing nothing (`topics list`, start-up check)."""
    actual = await describe_partitions(settings, [s.name for s in specs], timeout=timeout)
    return [_report(spec, actual[spec.name]) for spec in specs]


async def ensure_topics(
    settings: Settings,
    specs: Sequence[TopicSpec],
    *,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> list[TopicReport]:
    """Create the missing topics with their partitions and configs; idempotent.

    Existing topics are left alone (never altered or deleted); one with the wrong partition count
    is reported as `partition_mismatch` for the caller to refuse, since repartitioning a keyed
    topic silently moves aggregates between workers.
    """
    async with admin_client(settings, timeout) as client:
        try:
            async with asyncio.timeout(timeout):
                before = await _partitions(client, [s.name for s in specs])
                missing = [s for s in specs if before[s.name] is None]
                if missing:
                    await _create(client, settings, missing, timeout)
                    after = await _await_leaders(client, [s.name for s in missing])
                else:
                    after = {}
        except (KafkaError, TimeoutError) as exc:
            msg = f"creating topics failed: {type(exc).__name__}: {exc}"
            raise BrokerError(msg) from exc
    return [
        _report(spec, after[spec.name], created=True)
        if spec.name in after
        else _report(spec, before[spec.name])
        for spec in specs
    ]


async def _create(
    client: AIOKafkaAdminClient,
    settings: Settings,
    specs: Sequence[TopicSpec],
    timeout: float,
) -> None:
    new_topics = [
        NewTopic(
            name=spec.name,
            num_partitions=spec.partitions,
            replication_factor=settings.topic_replication_factor,
            topic_configs=dict(spec.configs),
        )
        for spec in specs
    ]
    response = await client.create_topics(new_topics, timeout_ms=int(timeout * 1000))
    failures = [
        f"{name}: {message or f'error code {code}'}"
        for name, code, message in _topic_errors(response)
        if code not in (0, _TOPIC_ALREADY_EXISTS)
    ]
    if failures:
        raise BrokerError("broker refused to create topics: " + "; ".join(failures))


def _topic_errors(response: Any) -> list[tuple[str, int, str | None]]:
    """(topic, error code, message) from any CreateTopicsResponse version."""
    out = []
    for entry in response.topic_errors:
        name, code = entry[0], entry[1]
        message = entry[2] if len(entry) > 2 else None
        out.append((name, code, message))
    return out


def mismatches(report: Iterable[TopicReport]) -> list[TopicReport]:
    """The topics that exist with a partition count other than expected."""
    return [r for r in report if r.status is TopicStatus.PARTITION_MISMATCH]


def raise_on_mismatch(report: Iterable[TopicReport]) -> None:
    """Refuse to go on when a topic has the wrong partition count; say which and what to do."""
    wrong = mismatches(report)
    if wrong:
        detail = ", ".join(
            f"{r.name} has {r.actual_partitions} partitions, expected {r.expected_partitions}"
            for r in wrong
        )
        msg = (
            f"{detail}; recreate the topic or set NCRS_TOPIC_PARTITIONS to match "
            "(repartitioning moves keys between workers)"
        )
        raise BrokerError(msg)
