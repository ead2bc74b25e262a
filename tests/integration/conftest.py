"""Fixtures for tests against the real Kafka broker that `make test` starts (deploy/local-kafka).

The broker address comes from NCRS_TEST_BOOTSTRAP. Without it the tests here are skipped on a
developer's machine, but in CI (CI=true) a missing broker is an error: a green run must never
hide integration tests that did not run.
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

BOOTSTRAP_ENV = "NCRS_TEST_BOOTSTRAP"
_HERE = Path(__file__).resolve().parent
_TOPIC_READY_TIMEOUT_S = 15.0

CreateTopics = Callable[..., Awaitable[list[str]]]


def _in_ci() -> bool:
    """CI sets CI=true; there every integration test must really run."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test under tests/integration, and skip them when no broker was started.

    pytest calls this hook with all collected items, so it filters on the test's path.
    """
    skip = None
    if not os.environ.get(BOOTSTRAP_ENV) and not _in_ci():
        skip = pytest.mark.skip(
            reason=f"{BOOTSTRAP_ENV} is not set: run `make test` to start the local Kafka broker"
        )
    for item in items:
        if item.path.resolve().is_relative_to(_HERE):
            item.add_marker(pytest.mark.integration)
            if skip is not None:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def bootstrap() -> str:
    """The bootstrap address of the test broker, e.g. 127.0.0.1:19092."""
    value = os.environ.get(BOOTSTRAP_ENV, "").strip()
    if not value:
        pytest.fail(f"CI=true but {BOOTSTRAP_ENV} is not set: run the tests with `make test`")
    return value


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> str:
    """A per-test suffix for topic names and group ids, so tests never see each other's data.

    It starts with the test's name (to find its topics on the broker) and ends with random hex.
    Underscores become dashes: Kafka treats '.' and '_' as colliding in topic names.
    """
    name = re.sub(r"[^a-zA-Z0-9.-]+", "-", request.node.name).strip("-")[:60]
    return f"{name}-{uuid.uuid4().hex[:10]}"


async def create_topics_on(
    bootstrap: str,
    *names: str,
    partitions: int = 1,
    configs: Mapping[str, str] | None = None,
) -> list[str]:
    """Create topics and wait until every partition has a leader.

    aiokafka's create_topics reports failures in the response instead of raising; this raises.
    The broker runs with auto.create.topics.enable=false, so tests must create what they use.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        response = await admin.create_topics(
            [NewTopic(name, partitions, 1, topic_configs=dict(configs or {})) for name in names]
        )
        errors = [(t, code, msg) for t, code, msg in response.topic_errors if code != 0]
        if errors:
            raise RuntimeError(f"create_topics failed: {errors}")
        async with asyncio.timeout(_TOPIC_READY_TIMEOUT_S):
            while not await _all_have_leaders(admin, list(names), partitions):
                await asyncio.sleep(0.1)
    finally:
        await admin.close()
    return list(names)


async def _all_have_leaders(admin: AIOKafkaAdminClient, names: list[str], partitions: int) -> bool:
    """True once metadata lists each topic with all its partitions led."""
    described = await admin.describe_topics(names)
    for topic in described:
        led = [p for p in topic["partitions"] if p["leader"] >= 0]
        if topic["error_code"] != 0 or len(led) != partitions:
            return False
    return len(described) == len(names)


@pytest.fixture
async def create_topics(bootstrap: str) -> AsyncIterator[CreateTopics]:
    """`await create_topics(name, ..., partitions=3, configs={...})`; deleted after the test."""
    created: list[str] = []

    async def create(
        *names: str, partitions: int = 1, configs: Mapping[str, str] | None = None
    ) -> list[str]:
        created.extend(
            await create_topics_on(bootstrap, *names, partitions=partitions, configs=configs)
        )
        return list(names)

    yield create
    if created:
        # Best effort: keeps the long-lived dev broker small; a failure here is not the test's.
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.delete_topics(created)
        finally:
            await admin.close()
