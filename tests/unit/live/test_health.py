"""Liveness and readiness: the `Health` rules, and the worker's verdicts from faust's state."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from streams.live.app import LiveWorker
from streams.live.health import Health, Progress
from streams.rules.families import ALL_FAMILIES, RULE_IDS
from streams.rules.model import CaseKind
from streams.settings import load_settings


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    """A hand-moved clock."""
    return FakeClock()


@pytest.fixture
def health(clock: FakeClock) -> Health:
    """Health with a 30 s loop-stall and 300 s commit-stall limit on the fake clock."""
    return Health(commit_stall_seconds=300, loop_stall_seconds=30, clock=clock)


RUNNING = {"incident": True, "crime": True}


def test_liveness__alive_when_agents_run_and_the_loop_turns(health: Health) -> None:
    """A heartbeat, running agents and advancing commits: alive."""
    health.heartbeat()
    verdict = health.liveness(Progress(10, pending=True), RUNNING)
    assert verdict.ok
    assert verdict.as_dict() == {"ok": True, "reasons": []}


def test_liveness__dead_when_an_agent_crashed(health: Health) -> None:
    """An agent whose body raised has acked a batch unprocessed: restart the worker."""
    health.agent_crashed("incident")
    verdict = health.liveness(None, RUNNING)
    assert not verdict.ok
    assert verdict.reasons == ("agent_crashed:incident",)


def test_liveness__dead_when_an_agent_task_has_stopped(health: Health) -> None:
    """An agent task that is done (not running) fails liveness."""
    verdict = health.liveness(None, {"incident": True, "crime": False})
    assert verdict.reasons == ("agent_stopped:crime",)


def test_liveness__dead_when_the_event_loop_stalls(health: Health, clock: FakeClock) -> None:
    """No heartbeat for longer than the loop-stall limit: the loop is blocked."""
    health.heartbeat()
    clock.now += 29
    assert health.liveness(None, RUNNING).ok
    clock.now += 2
    assert health.liveness(None, RUNNING).reasons == ("event_loop_stalled",)


def test_liveness__dead_when_commits_stop_while_input_waits(
    health: Health, clock: FakeClock
) -> None:
    """Input pending and the committed offset unchanged beyond the limit: stuck consumer."""
    health.heartbeat()
    assert health.liveness(Progress(50, pending=True), RUNNING).ok
    clock.now += 200
    health.heartbeat()
    assert health.liveness(Progress(50, pending=True), RUNNING).ok
    clock.now += 101
    health.heartbeat()
    assert health.liveness(Progress(50, pending=True), RUNNING).reasons == (
        "commits_not_advancing",
    )


def test_liveness__idle_consumer_is_alive_however_long_it_waits(
    health: Health, clock: FakeClock
) -> None:
    """No input waiting: unchanged commits are no sign of trouble (a quiet night)."""
    health.heartbeat()
    health.liveness(Progress(50, pending=False), RUNNING)
    clock.now += 10_000
    health.heartbeat()
    assert health.liveness(Progress(50, pending=False), RUNNING).ok


@pytest.mark.parametrize(
    ("started", "rebalancing", "recovered", "reasons"),
    [
        (True, False, True, ()),
        (False, False, True, ("starting",)),
        (True, True, True, ("rebalancing",)),
        (True, False, False, ("recovering",)),
        (True, True, False, ("rebalancing", "recovering")),
    ],
)
def test_readiness__ready_only_when_started_recovered_and_not_rebalancing(
    started: bool, rebalancing: bool, recovered: bool, reasons: tuple[str, ...]
) -> None:
    """Readiness fails while starting, rebalancing or recovering, and names why."""
    verdict = Health.readiness(started=started, rebalancing=rebalancing, recovered=recovered)
    assert verdict.ok is (not reasons)
    assert verdict.reasons == reasons


# --- the worker's verdicts from faust's own state ------------------------------------------


@pytest.fixture
def live(monkeypatch: pytest.MonkeyPatch) -> LiveWorker:
    """A worker (faust app built, never started) that looks started, assigned and recovered."""
    worker = LiveWorker(load_settings(topic_partitions=3), ALL_FAMILIES, rule_ids=RULE_IDS)
    monkeypatch.setattr(type(worker.app), "started", property(lambda self: True))
    worker.generation = 1
    worker.app.tables.recovery.completed.set()  # type: ignore[attr-defined]
    return worker


def _actors(live: LiveWorker, tasks: dict[CaseKind, Any]) -> None:
    for kind, task in tasks.items():
        live.agents[kind]._actors = [SimpleNamespace(actor_task=task)]


def test_worker_readiness__ready_when_assigned_recovered_and_settled(live: LiveWorker) -> None:
    """A started worker with recovered tables and no rebalance in progress is ready."""
    assert live.readiness().ok


def test_worker_readiness__not_ready_during_recovery(live: LiveWorker) -> None:
    """While faust replays the changelogs into the tables, readiness is false."""
    live.app.tables.recovery.in_recovery = True  # type: ignore[attr-defined]
    assert live.readiness().reasons == ("recovering",)


def test_worker_readiness__not_ready_during_a_rebalance(live: LiveWorker) -> None:
    """While the group rebalances, readiness is false."""
    live.app.rebalancing = True
    assert live.readiness().reasons == ("rebalancing",)


def test_worker_readiness__not_ready_before_the_first_assignment(live: LiveWorker) -> None:
    """No partitions assigned yet (generation 0): still starting."""
    live.generation = 0
    assert live.readiness().reasons == ("starting",)


async def test_worker_liveness__false_when_an_agent_task_has_died(live: LiveWorker) -> None:
    """An agent whose actor task is done no longer consumes: liveness fails."""
    loop = asyncio.get_running_loop()
    running = loop.create_future()
    dead = loop.create_future()
    dead.set_result(None)
    _actors(live, {CaseKind.INCIDENT: dead, CaseKind.CRIME: running})
    verdict = live.liveness()
    assert "agent_stopped:incident" in verdict.reasons
    assert "agent_stopped:crime" not in verdict.reasons
    running.cancel()


async def test_worker_liveness__false_after_an_agent_body_raised(live: LiveWorker) -> None:
    """faust's error hook is chained: a crashed body marks the worker not alive for good."""
    loop = asyncio.get_running_loop()
    running = loop.create_future()
    _actors(live, {CaseKind.INCIDENT: running, CaseKind.CRIME: running})
    assert live.liveness().ok
    agent = live.agents[CaseKind.CRIME]
    await agent._on_error(agent, RuntimeError("boom"))
    assert live.liveness().reasons == ("agent_crashed:crime",)
    running.cancel()


async def test_worker_liveness__false_when_the_loop_stalls(live: LiveWorker) -> None:
    """The heartbeat timer stops when the loop is blocked; liveness then fails."""
    running = asyncio.get_running_loop().create_future()
    _actors(live, {CaseKind.INCIDENT: running, CaseKind.CRIME: running})
    live.health.heartbeat()
    assert live.health.last_heartbeat is not None
    live.health.last_heartbeat -= live.health.loop_stall_seconds + 1
    assert live.liveness().reasons == ("event_loop_stalled",)
    running.cancel()
