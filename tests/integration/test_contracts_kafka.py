"""Contracts and topic creation against the real broker started by `deploy/local-kafka`."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from schemas.events import Envelope
from schemas.registry import decode_event, encode_event
from streams import admin
from streams.admin import TopicStatus
from streams.errors import BrokerError
from streams.settings import Settings, load_settings
from streams.topics import ALL_TOPICS, INPUT_TOPICS, TOPIC_OF_TYPE, TopicSpec
from tests.factories import ALL_EVENT_TYPES, FACTORIES

CONSUME_TIMEOUT_S = 30.0
CLI = str(Path(sys.executable).with_name("ncrs-monitor"))


async def _delete(bootstrap: str, names: list[str]) -> None:
    """Best-effort removal, keeping the long-lived dev broker small."""
    client = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await client.start()
    try:
        existing = set(await client.list_topics())
        doomed = [n for n in names if n in existing]
        if doomed:
            await client.delete_topics(doomed)
    finally:
        await client.close()


@pytest.fixture
def suffix(unique_name: str) -> str:
    return f"-{unique_name}"


@pytest.fixture
def settings(bootstrap: str) -> Settings:
    # two partitions keep creation quick and still exercise key-based routing
    return load_settings(bootstrap_servers=bootstrap, topic_partitions=2)


@pytest.fixture
async def topics(settings: Settings, suffix: str) -> AsyncIterator[list[TopicSpec]]:
    """Every project topic, suffixed for this test, created before and deleted after."""
    specs = admin.resolve_specs(settings, suffix=suffix)
    yield specs
    await _delete(settings.bootstrap_servers, [s.name for s in specs])


async def test_every_input_event_type_round_trips_through_its_topic(settings, topics):
    """One event of each type, produced keyed to its topic, is consumed back equal."""
    report = await admin.ensure_topics(settings, topics)
    assert {r.status for r in report} == {TopicStatus.CREATED}
    by_base = {base.name: spec for base, spec in zip(ALL_TOPICS, topics, strict=True)}

    sent: dict[str, tuple[Envelope, bytes, int]] = {}
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
    await producer.start()
    try:
        for event_type in ALL_EVENT_TYPES:
            event = FACTORIES[event_type]()
            spec = by_base[TOPIC_OF_TYPE[event_type].name]
            key = getattr(event, spec.key).encode()
            metadata = await producer.send_and_wait(spec.name, encode_event(event), key=key)
            sent[event.id] = (event, key, metadata.partition)
    finally:
        await producer.stop()

    input_names = [by_base[t.name].name for t in INPUT_TOPICS]
    received: dict[str, tuple[Envelope, bytes, int, str]] = {}
    consumer = AIOKafkaConsumer(
        *input_names,
        bootstrap_servers=settings.bootstrap_servers,
        group_id=f"test{topics[0].name}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        async with asyncio.timeout(CONSUME_TIMEOUT_S):
            while len(received) < len(sent):
                batches = await consumer.getmany(timeout_ms=500)
                for tp, records in batches.items():
                    for record in records:
                        event = decode_event(record.value)
                        received[event.id] = (event, record.key, record.partition, tp.topic)
    finally:
        await consumer.stop()

    assert received.keys() == sent.keys()
    for event_id, (event, key, partition) in sent.items():
        got, got_key, got_partition, topic = received[event_id]
        assert got == event
        assert got_key == key
        assert got_partition == partition
        assert topic == by_base[TOPIC_OF_TYPE[event.type].name].name


async def test_ensure_topics_is_idempotent_and_applies_specs(settings, topics):
    """A second run reports every topic as existing, with the partitions asked for."""
    first = await admin.ensure_topics(settings, topics)
    second = await admin.ensure_topics(settings, topics)
    assert [r.status for r in first] == [TopicStatus.CREATED] * len(topics)
    assert [r.status for r in second] == [TopicStatus.EXISTS] * len(topics)
    actual = await admin.describe_partitions(settings, [s.name for s in topics])
    assert actual == {s.name: s.partitions for s in topics}
    dead_letters = next(s for s in topics if s.name.startswith("ncrs.deadletter.v1"))
    assert actual[dead_letters.name] == 1  # deliberately single-partition, not overridden


async def test_describe_partitions_reports_missing_topics_as_none(settings, suffix):
    """A topic that does not exist is None, and asking does not create it."""
    name = f"ncrs.never-created{suffix}"
    assert await admin.describe_partitions(settings, [name]) == {name: None}
    assert await admin.describe_partitions(settings, [name]) == {name: None}


async def test_partition_mismatch_is_reported_and_refused(settings, topics, suffix):
    """A topic that exists with another partition count is a clear BrokerError."""
    incidents = topics[0]
    one_partition = admin.resolve_specs(
        load_settings(bootstrap_servers=settings.bootstrap_servers, topic_partitions=1),
        [ALL_TOPICS[0]],
        suffix=suffix,
    )
    await admin.ensure_topics(settings, one_partition)
    report = await admin.ensure_topics(settings, topics)
    wrong = admin.mismatches(report)
    assert [(r.name, r.expected_partitions, r.actual_partitions) for r in wrong] == [
        (incidents.name, 2, 1)
    ]
    with pytest.raises(BrokerError, match=f"{incidents.name} has 1 partitions, expected 2"):
        admin.raise_on_mismatch(report)


def _cli(*args: str, bootstrap: str, partitions: int = 2) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "NCRS_BOOTSTRAP_SERVERS": bootstrap,
        "NCRS_TOPIC_PARTITIONS": str(partitions),
    }
    return subprocess.run(  # noqa: PLW1510 - the tests assert on the return code
        [CLI, *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_cli_topics_create_reports_created_then_exists(bootstrap, suffix):
    """`topics create` twice: a table of created topics, then of existing ones, exit 0."""
    names = [f"{t.name}{suffix}" for t in ALL_TOPICS]
    try:
        first = _cli("topics", "create", "--suffix", suffix, bootstrap=bootstrap)
        assert first.returncode == 0, first.stderr
        assert first.stdout.count("created") == len(ALL_TOPICS)
        second = _cli("topics", "create", "--suffix", suffix, bootstrap=bootstrap)
        assert second.returncode == 0, second.stderr
        assert second.stdout.count("exists") == len(ALL_TOPICS)
        listed = _cli("topics", "list", "--suffix", suffix, bootstrap=bootstrap)
        assert listed.returncode == 0, listed.stdout
    finally:
        asyncio.run(_delete(bootstrap, names))


def test_cli_partition_mismatch_fails_with_one_line_and_exit_2(bootstrap, suffix):
    """A partition mismatch ends `topics create` with a message, not a traceback."""
    names = [f"{t.name}{suffix}" for t in ALL_TOPICS]
    try:
        assert _cli("topics", "create", "--suffix", suffix, bootstrap=bootstrap).returncode == 0
        result = _cli("topics", "create", "--suffix", suffix, bootstrap=bootstrap, partitions=3)
        assert result.returncode == 2
        assert "partition_mismatch" in result.stdout
        assert "Traceback" not in result.stderr
        assert result.stderr.startswith("ncrs-monitor: error: ")
        assert "expected 3" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert (
            _cli("topics", "list", "--suffix", suffix, bootstrap=bootstrap, partitions=3).returncode
            == 1
        )
    finally:
        asyncio.run(_delete(bootstrap, names))


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1:1",  # refused at once
        "192.0.2.1:9092",  # TEST-NET-1: packets vanish, so only the timeout ends the wait
    ],
)
async def test_unreachable_broker_fails_quickly_with_clear_error(address):
    """No broker: a BrokerError naming the address within the bounded timeout."""
    settings = load_settings(bootstrap_servers=address)
    started = time.monotonic()
    with pytest.raises(BrokerError, match=f"cannot reach Kafka at {address} within 2 s"):
        await admin.ensure_topics(settings, admin.resolve_specs(settings), timeout=2.0)
    assert time.monotonic() - started < 5.0


def test_cli_unreachable_broker_is_one_line_and_exit_2(bootstrap):
    """`topics create` without a broker prints what to check, not a traceback."""
    del bootstrap  # only to be skipped with the other integration tests when no broker is set
    started = time.monotonic()
    result = subprocess.run(  # noqa: PLW1510 - the test asserts on the return code
        [CLI, "topics", "create", "--timeout", "2"],
        env={**os.environ, "NCRS_BOOTSTRAP_SERVERS": "127.0.0.1:1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "cannot reach Kafka at 127.0.0.1:1" in result.stderr
    assert "NCRS_BOOTSTRAP_SERVERS" in result.stderr
    assert time.monotonic() - started < 15.0
