"""Smoke test: the broker started by `make test` serves aiokafka producers and consumers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer


@pytest.mark.timeout(60)
async def test_broker__consumer_reads_back_every_message_produced(
    bootstrap: str, unique_name: str, create_topics: Callable[..., Awaitable[list[str]]]
) -> None:
    """Ten messages produced to a new topic are consumed back unchanged and in order."""
    topic = f"ncrs.smoke.v1.{unique_name}"
    await create_topics(topic)
    sent = [f"message-{i}".encode() for i in range(10)]

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for value in sent:
            await producer.send_and_wait(topic, value)
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"smoke-{unique_name}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    received: list[bytes | None] = []
    try:
        async with asyncio.timeout(30):
            while len(received) < len(sent):
                batches = await consumer.getmany(timeout_ms=500)
                received.extend(m.value for batch in batches.values() for m in batch)
    finally:
        await consumer.stop()

    assert received == sent
