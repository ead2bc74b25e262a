"""`ncrs-monitor worker`: run one live worker of the fleet (streams/live/, docs/live.md).

Before faust starts, the worker checks the broker: every input and output topic must exist with
`NCRS_TOPIC_PARTITIONS` partitions (faust would otherwise ignore a missing topic, or crash-loop
on `PartitionsMismatch` while reporting "Ready"); the two internal side topics are created here
with the same count. SIGTERM stops it gracefully: the batch in hand finishes, output is flushed,
offsets are committed, and the process exits 0.

Just before faust runs, the worker tunes the garbage collector (`streams.runtime.tune_gc`, the
replay's parameters). Freezing there is right for faust: what exists then (modules, settings, the
faust app with its agents, tables and topics, the mode Worker, metrics) lives as long as the
process (a frozen object later dropped in a cycle would never be collected, hence once, here), and
the `asyncio.run` loop of the broker check is garbage that the collection before the freeze frees;
connections and restored table state come later and stay under collection. The raised thresholds
are safe for a long-running worker's memory: acyclic objects (messages, decoded events, case JSON)
are still freed at once by reference counting; cyclic garbage (asyncio futures and exceptions with
tracebacks) waits at most 100,000 net allocations for a young collection (tens of MB at most); and
a full collection still runs once the objects promoted since the last one reach a quarter of the
old generation, as with CPython's defaults. So the same parameters serve: with the memory store the
table is millions of dicts that default collections rescan (measurement 5 in docs/benchmarks.md).

Test hook (never set in production): with `NCRS_TEST_HOOKS=1` in the environment the worker
also serves `GET /test-hooks/crash-incident-agent`, which makes the incident agent raise at its
next batch, as a bug in the agent would, so the integration tests can check that `/healthz`
reports a dead agent. Without the variable the route does not exist. It is an environment switch
rather than a setting so that no configuration file can turn it on by accident. (A signal would
not do: mode's worker takes SIGUSR1 for stack dumps and SIGUSR2 for a debugger.)
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import typer

TEST_HOOKS_ENV = "NCRS_TEST_HOOKS"
"""Set to 1 to enable the test hook described in the module docstring."""


CRASH_AGENT_PATH = "/test-hooks/crash-incident-agent"


class InjectedAgentCrashError(RuntimeError):
    """Raised inside the incident agent by the test hook."""


def install_test_hooks(live: Any) -> None:
    """`GET /test-hooks/crash-incident-agent`: the incident agent raises at its next batch."""
    from streams.rules.model import CaseKind

    armed: set[CaseKind] = set()
    handle_batch = live.handle_batch

    async def crashing_handle_batch(kind: CaseKind, events: Any) -> None:
        if kind in armed:
            armed.discard(kind)
            msg = f"test hook: {kind.value} agent crash injected"
            raise InjectedAgentCrashError(msg)
        await handle_batch(kind, events)

    live.handle_batch = crashing_handle_batch

    @live.app.page(CRASH_AGENT_PATH)  # type: ignore[untyped-decorator]  # faust is untyped
    async def crash_incident_agent(web: Any, request: Any) -> Any:
        armed.add(CaseKind.INCIDENT)
        return web.json({"armed": "incident"})


app = typer.Typer(help="Run a live worker.", invoke_without_command=True)


async def check_broker(settings: object) -> None:
    """Refuse to start unless the topics exist and are co-partitioned; create side topics."""
    from streams import admin
    from streams.errors import BrokerError
    from streams.live.topology import Topology
    from streams.settings import Settings
    from streams.topics import Role, TopicSpec

    assert isinstance(settings, Settings)
    topo = Topology.from_settings(settings)
    names = [*topo.all_inputs, *topo.keyed_outputs]
    counts = await admin.describe_partitions(settings, names)
    missing = [n for n in names if counts[n] is None]
    if missing:
        msg = (
            f"topics missing: {', '.join(missing)}; "
            "create them with `ncrs-monitor topics create` before starting a worker"
        )
        raise BrokerError(msg)
    wrong = [
        f"{n} has {counts[n]}"
        for n in (*topo.all_inputs, topo.alerts, *topo.workqueues.values())
        if counts[n] != topo.partitions
    ]
    if wrong:
        msg = (
            f"topics not co-partitioned: {', '.join(wrong)} partitions, expected "
            f"{topo.partitions} (NCRS_TOPIC_PARTITIONS); recreate them or change the setting"
        )
        raise BrokerError(msg)
    sides = [
        TopicSpec(
            name=name,
            key="aggregate key",
            partitions=topo.partitions,
            role=Role.INTERNAL,
            event_types=(),
            description="forwarded events and clock ticks",
        )
        for name in (topo.incident_side, topo.crime_side)
    ]
    report = await admin.ensure_topics(settings, sides)
    admin.raise_on_mismatch(report)


@app.callback()
def worker() -> None:
    """Run a live worker: consume the input topics, emit alerts and work items."""
    from streams.errors import ConfigError
    from streams.logs import configure_logging, get_logger
    from streams.settings import load_settings

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    if settings.store_url.split(":", 1)[0] not in {"memory", "rocksdb"}:
        msg = "NCRS_STORE_URL: must be memory:// or rocksdb://"
        raise ConfigError(msg)
    asyncio.run(check_broker(settings))

    from faust import Worker

    from streams.live.app import LiveWorker
    from streams.rules.families import ALL_FAMILIES, RULE_IDS

    live = LiveWorker(settings, ALL_FAMILIES, rule_ids=RULE_IDS)
    if os.environ.get(TEST_HOOKS_ENV) == "1":
        install_test_hooks(live)
        get_logger("streams.worker").warning("test_hooks_enabled", route=CRASH_AGENT_PATH)
    get_logger("streams.worker").info(
        "worker_starting",
        app_id=settings.app_id,
        partitions=settings.topic_partitions,
        store=settings.store_url.split(":", 1)[0],
        web_port=settings.web_port,
    )
    runner = Worker(
        live.app,
        loglevel=settings.log_level,
        override_logging=False,
        redirect_stdouts=False,
        console_port=0,
        quiet=True,
    )
    # faust's start-up spinner writes terminal escapes and " OK ^" to stdout, which breaks a
    # JSON log stream; without it faust logs "Ready" through the same renderer instead.
    runner.spinner = None
    from streams.runtime import tune_gc

    tune_gc()  # the app, agents, tables and topics built above live as long as the process
    runner.execute_from_commandline()
