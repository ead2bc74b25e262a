"""The faust-streaming application: two thin agents around the pure rules core.

Topology (streams/live/topology.py). The incident agent consumes `ncrs.incidents.v1` and the
internal `<app_id>-incident-side` topic; the crime agent consumes crime records, cancellations
and victim contact and `<app_id>-crime-side`. Every one of these topics and both changelogs have
the same partition count, and faust co-partitions all subscribed topics of equal count, so one
worker owns partition p of all of them. A side topic carries two things: events forwarded from
the other agent (a crime record that names an incident, raw bytes, key = the aggregate key) and
clock ticks (header `ncrs-tick`, explicit partition).

Input is consumed as raw bytes and decoded inside the agent. An exception escaping an agent body
acks the message and it is never redelivered (../shared/notes/faust-and-kafka.md, "Failure
semantics"), so every message is handled inside `Batch.message`, which turns bad input and
failures of the rules core into dead letters and never raises.

Output ordering (at-least-once, no loss). Each agent takes a batch (`stream.take_events`), runs
the core per message, then (1) sends every alert, work-queue change, forward and dead letter and
AWAITS their delivery, (2) only then writes each changed case, once per case per batch, and
(3) returns, after which `take_events` acks the batch's offsets (faust/streams.py: acks happen
in the generator's `finally`, after the body ran) and a later commit may commit them. Hence:
- a crash before the case write re-processes the batch and re-emits the same alerts with the
  same deterministic ids (raw duplicates on `ncrs.alerts.v1`; the compacted work-queue topics
  and any consumer keyed by alert id absorb them);
- a crash after it cannot lose an alert: the alert was acknowledged by the broker before the
  state that says "announced" was written.
A send that fails is fatal: the worker exits without committing so the batch is redone.

Durability. A case write is its changelog record, sent and AWAITED, then the local store
(`write_cases`). faust's own path (`table[key] = value`) only queues the record in its producer
buffer, and its commit does not wait for that buffer: `_commit_offsets` awaits
`producer.flush()`, whose buffer flush returns once no record has left the buffer for 0.1 s
(faust/transport/producer.py, `flush_atmost`), so under load input was committed while its new
state was still queued, and a `kill -9` then lost the state for good
(tests/integration/test_faults_changelog.py reproduces it). The awaited write costs one broker
round trip per batch.

Tables. Values are `processing.table_value(case)` (JSON: `CaseState.to_dict()` with the case's
due hint as first key), always reassigned. faust writes a table key to
the changelog partition (and the RocksDB partition store) of the *current event* (faust/tables/
base.py `partition_for_key`, faust/stores/rocksdb.py `_set`), a context variable the batch API
does not set in the agent's task; each read and write therefore runs under the event of the
partition that owns the key (`_event_context`). Events are applied only on their key's own
partition (see processing.py), so a key always lives in one partition.

The clock (streams/live/clock.py). Timers cannot modify tables. A timer on every worker sends
one tick to every partition of both side topics, carrying the bound of each input partition
this worker owns: the wall clock minus grace while it is caught up (lag 0 against the
consumer's highwater), else the latest event time it has processed and delivered there minus
grace. The agent that owns a side partition keeps a decision clock per partition (the minimum
over every input partition's latest bound, never moving backwards) and advances the cases its
in-memory `DueIndex` says are due at that clock. While every input is caught up this is the
wall clock minus grace, so a quiet overnight feed still breaches; while the worker (or another
one) drains a backlog it is the event time the backlog has reached, so no breach is declared
whose satisfying event is still waiting in that backlog. The index is derived data, rebuilt
from the table after every rebalance (faust resumes stream processing only after recovery, so
the first batch after a rebalance sees the recovered table) and scans only keys of this
worker's active partitions: the memory store's `items()` also returns standby keys, which are
filtered out by the key's partition. The rebuild starts as soon as the table is recovered
(`start_due_rebuilds`) and runs beside the agent, so ticks announce the cases already indexed
while the rest is read (`start_rebuild`), and each table value carries a
small due hint written first, so a RocksDB entry is indexed without decoding its case
(processing.py, `table_value`). Residual limits (docs/live.md, "The decision clock"): an
event more than the grace out of order within its partition, or delivered late by its source,
is a late arrival as in real time; lag is read from the consumer's cached highwater, so the
last fetch interval is covered by the grace; ticks grow with the partition count.

Retention. Purges and the max-age guardrail are judged on each partition's event-time horizon
(processing.py), not the wall clock, so old events (a backlog of history) keep their cases.

Rebalances. On `on_rebalance_complete`, before faust resumes and seeks the partitions
(`settle_offsets`): every input partition this worker has delivered past the group's committed
offset is committed there, because faust forgets the acks of revoked partitions (with the eager
protocol, all of them) before it commits, so a partition drained just before a rebalance was
never committed; and every other input or side partition without a commit is rewound to its log
start, because faust drops records fetched across a generation change and aiokafka cannot seek
back to a commit that does not exist.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import weakref
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import faust
from faust.serializers import codecs
from faust.stores.base import SerializedStore
from faust.streams import _current_event
from faust.types import EventT, StoreT
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from schemas.alerts import WorkItem
from streams import __version__
from streams.kafka_client import client_kwargs
from streams.live.clock import Bound, InputProgress, Source, encode_tick, source_id
from streams.live.health import Health, Progress
from streams.live.metrics import Metrics
from streams.live.processing import (
    ORIGIN_HEADER,
    TICK_HEADER,
    BatchOutput,
    SideProcessor,
    table_value,
)
from streams.live.topology import Topology, partition_for
from streams.logs import get_logger
from streams.rules.duties import RuleContext
from streams.rules.family import RuleFamily
from streams.rules.model import CaseKind, CaseState
from streams.settings import Settings
from streams.topics import TOPIC_OF_TYPE

log = get_logger("streams.live")

BATCH_MAX = 500
"""Messages per batch: amortises the awaited delivery over many events."""
BATCH_WITHIN_SECONDS = 0.5
"""A partial batch is processed after this long, bounding the latency of a quiet feed."""
REBUILD_CHUNK = 1000
"""Table entries read between yields to the event loop while rebuilding the index."""
REBUILD_POLL_SECONDS = 1.0
"""How often the worker checks whether a recovered table waits for its index rebuild."""
EXIT_DELIVERY_FAILED = 75
"""Exit status when output could not be delivered (EX_TEMPFAIL: restart and redo the batch)."""
BROKER_SILENCE_TICKS = 3
"""Tick intervals without any acknowledged send after which `/readyz` reports the broker down."""


def _now() -> datetime:
    return datetime.now(UTC)


def _headers(raw: Any) -> dict[str, bytes]:
    """faust gives headers as a list of pairs or a mapping; values may be None."""
    if not raw:
        return {}
    pairs = raw.items() if isinstance(raw, Mapping) else raw
    return {str(k): (v or b"") for k, v in pairs}


@contextlib.contextmanager
def _event_context(event: EventT[Any]) -> Iterator[None]:
    """Make `event` faust's current event, so table I/O uses its partition (see docstring)."""
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


def _credentials(settings: Settings) -> Any:
    """faust `broker_credentials` from the same settings as every aiokafka client."""
    kwargs = client_kwargs(settings)
    ssl_context = kwargs.get("ssl_context")
    if settings.uses_sasl:
        password = settings.sasl_password.get_secret_value() if settings.sasl_password else ""
        return faust.SASLCredentials(
            username=settings.sasl_username,
            password=password,
            mechanism=settings.sasl_mechanism,
            ssl_context=ssl_context,
        )
    return ssl_context


class LiveWorker:
    """The faust app of one worker, its two agents, clock, metrics and health endpoints."""

    def __init__(
        self,
        settings: Settings,
        families: Sequence[RuleFamily],
        *,
        rule_ids: Sequence[str] = (),
        registry: CollectorRegistry | None = None,
        ctx: RuleContext | None = None,
    ) -> None:
        self.settings = settings
        self.topology = Topology.from_settings(settings)
        self.registry = registry or CollectorRegistry()
        ids = set(rule_ids) | {r for f in families for r in f.rule_ids}
        catalogue = RuleContext().catalogue.with_overrides(settings.ruleset_overrides)
        self.ctx = ctx or RuleContext(catalogue=catalogue, force_code=settings.force_code)
        self.metrics = Metrics(
            self.registry,
            rule_ids=sorted(ids),
            input_topics={spec.name for spec in TOPIC_OF_TYPE.values()},
            version=__version__,
            ruleset="live",
            catalogue=self.ctx.catalogue,
            open_limit=settings.max_open_obligations_per_rule,
        )
        self.health = Health()
        self.generation = 0
        self.app = self._build_app()
        self.sides = {
            kind: SideProcessor(
                kind,
                families,
                self.ctx,
                self.topology,
                self.metrics,
                grace=timedelta(seconds=settings.grace_seconds),
                future_tolerance=timedelta(seconds=settings.future_tolerance_seconds),
                staleness=timedelta(seconds=settings.staleness_seconds),
                max_age=timedelta(days=settings.max_obligation_age_days),
                open_limit=settings.max_open_obligations_per_rule,
            )
            for kind in CaseKind
        }
        self.built: dict[CaseKind, int] = dict.fromkeys(CaseKind, -1)
        """The generation each side's last index rebuild was started for."""
        self._rebuilds: dict[CaseKind, asyncio.Task[None]] = {}
        self.progress = InputProgress()
        self._log_start: dict[Any, int] = {}
        self.tables = {
            kind: self.app.Table(
                f"{kind.value}_cases",
                partitions=self.topology.partitions,
                schema=faust.Schema(key_serializer="raw", value_serializer="json"),
            )
            for kind in CaseKind
        }
        self.agents = {kind: self._agent(kind) for kind in CaseKind}
        self._wire()

    # --- construction ----------------------------------------------------------------------

    def _build_app(self) -> faust.App:
        s = self.settings
        return faust.App(
            s.app_id,
            broker=[f"kafka://{h.strip()}" for h in s.bootstrap_servers.split(",")],
            broker_credentials=_credentials(s),
            store=s.store_url,
            autodiscover=False,
            key_serializer="raw",
            value_serializer="raw",
            topic_partitions=s.topic_partitions,
            topic_replication_factor=s.topic_replication_factor,
            consumer_auto_offset_reset="earliest",
            processing_guarantee="at_least_once",
            web_enabled=True,
            web_bind=s.web_host,
            web_port=s.web_port,
            web_tables_enabled=False,
            web_in_thread=False,
            # Static membership: a worker restarted under the same id (a StatefulSet pod) gets
            # its partitions back at once instead of after the 60 s session timeout.
            consumer_group_instance_id=s.consumer_group_instance_id,
        )

    def _agent(self, kind: CaseKind) -> Any:
        topics = (*self.topology.inputs_of(kind), self.topology.side_of(kind))
        channel = self.app.topic(*topics, key_serializer="raw", value_serializer="raw")

        async def body(stream: Any) -> None:
            async for events in stream.take_events(BATCH_MAX, within=BATCH_WITHIN_SECONDS):
                await self.handle_batch(kind, events)

        body.__name__ = f"{kind.value}_agent"
        body.__qualname__ = body.__name__
        agent = self.app.agent(channel, name=f"{kind.value}_agent", concurrency=1)(body)
        faust_on_error = agent._on_error  # type: ignore[attr-defined]  # faust's own hook

        async def on_error(failed: Any, exc: BaseException) -> None:
            # Chained before faust's own handler (app._on_agent_error, which only notifies the
            # consumer): a crashed body acked its batch unprocessed, so liveness must fail.
            log.error("agent_crashed", agent=kind.value, error=type(exc).__name__)
            self.health.agent_crashed(kind.value)
            if faust_on_error is not None:
                await faust_on_error(failed, exc)

        agent._on_error = on_error  # type: ignore[attr-defined]  # chained, see above
        return agent

    def _wire(self) -> None:
        app = self.app

        async def on_assigned(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
            self.generation += 1
            self.metrics.rebalances.inc()
            # An assignment is the broker answering too; it also starts the silence clock of
            # `/readyz` for a worker whose first tick never gets through.
            self.health.broker_acked()
            self._log_start = {}
            self.progress.retain(self._owned_inputs().values())

        app.on_partitions_assigned.connect(on_assigned)

        async def on_rebalance_complete(
            sender: Any, /, *args: Any, signal: Any, **kwargs: Any
        ) -> None:
            await self.settle_offsets()

        app.on_rebalance_complete.connect(on_rebalance_complete)

        # Every worker ticks (not only the leader): a tick carries the bounds of the inputs its
        # sender owns, and each partition's clock waits for all of them (streams/live/clock.py).
        @app.timer(interval=self.settings.tick_interval_seconds)  # type: ignore[untyped-decorator]  # faust is untyped
        async def tick() -> None:
            try:
                await self.send_ticks()
            except Exception as exc:  # a lost tick only delays the clock; the next one follows
                log.warning("tick_failed", error=type(exc).__name__)

        @app.timer(interval=1.0)  # type: ignore[untyped-decorator]  # faust is untyped
        async def heartbeat() -> None:
            self.health.heartbeat()

        @app.timer(interval=REBUILD_POLL_SECONDS)  # type: ignore[untyped-decorator]  # untyped
        async def rebuild_when_recovered() -> None:
            self.start_due_rebuilds()

        @app.page("/metrics")
        async def metrics_view(web: Any, request: Any) -> Any:
            body = generate_latest(self.registry)
            return web.bytes(body, content_type=CONTENT_TYPE_LATEST.split(";")[0])

        @app.page("/healthz")
        async def healthz(web: Any, request: Any) -> Any:
            verdict = self.liveness()
            return web.json(verdict.as_dict(), status=200 if verdict.ok else 503)

        @app.page("/readyz")
        async def readyz(web: Any, request: Any) -> Any:
            verdict = self.readiness()
            return web.json(verdict.as_dict(), status=200 if verdict.ok else 503)

    # --- offsets across a rebalance ---------------------------------------------------------

    async def settle_offsets(self) -> None:
        """Commit what this worker delivered and rewind what nobody committed, before faust
        resumes the partitions of a new assignment.

        Two faust behaviours meet in a rebalance (faust/transport/consumer.py):
        - `on_partitions_revoked` forgets the acknowledgements of every revoked partition
          before faust's revocation commit runs, and the eager protocol revokes every partition,
          the ones a worker keeps included. Input processed since the last periodic commit
          (`broker_commit_interval`, 2.8 s) is therefore never committed by faust; a partition
          drained in that window gets no later ack either, so it stayed uncommitted for good
          (lag never cleared, the next owner processed it again). That is what happened when a
          second worker joined one that had just drained a backlog.
        - `getmany` drops the rest of a fetched batch when the generation changes mid-fetch
          ("Generation id changed") although aiokafka has already moved its position past
          those records; faust then seeks back to the committed offset, which aiokafka's
          `seek_to_committed` does not do for a partition without one (or with 0), so the
          dropped records would never be read.
        Called on `on_rebalance_complete`, which faust sends before it resumes the partitions
        and seeks them to their committed offsets (faust/tables/recovery.py). Every input
        partition this worker has itself delivered past the group's committed offset is
        committed there: `handle_batch` records progress only once the batch's output and case
        writes are acknowledged, and `InputProgress.retain` forgets partitions this worker did
        not own throughout. faust's own seek then starts from that commit. Every other input or
        side partition without a commit is rewound to its log start; re-read events are
        duplicates the cases drop.
        """
        consumer: Any = self.app.consumer  # the concrete consumer: seek_to_committed, _commit
        canonical = self.topology.canonical
        topics = {*self.topology.all_inputs, *(self.topology.side_of(k) for k in CaseKind)}
        try:
            ours = [tp for tp in consumer.assignment() if tp.topic in topics]
            if not ours:
                return
            committed = await consumer.seek_to_committed()
            delivered: dict[Any, int] = {}
            for tp in ours:
                if tp.topic in canonical:
                    done = self.progress.next_offset((canonical[tp.topic], tp.partition))
                    if done is not None and done > (committed.get(tp) or 0):
                        delivered[tp] = done
            if delivered:
                # The transport-level commit: faust has no acks left to commit these from.
                await consumer._commit(delivered)
            missing = [tp for tp in ours if not committed.get(tp) and tp not in delivered]
            starts = await consumer.earliest_offsets(*missing) if missing else {}
            # Seeking the delivered partitions too keeps their position should the commit
            # have been refused (a newer rebalance): aiokafka would not seek to a missing one.
            targets = {**{tp: starts.get(tp) or 0 for tp in missing}, **delivered}
            for tp, offset in targets.items():
                await consumer.seek(tp, offset)
        except Exception as exc:  # best effort: faust's own seek still follows
            log.warning("settle_offsets_failed", error=type(exc).__name__)
            return
        log.info("offsets_settled", committed=len(delivered), rewound=len(missing))

    # --- the clock -------------------------------------------------------------------------

    def _ticking(self) -> bool:
        """Ticks vouch for delivered input: none while assignment or tables are in flux."""
        app = self.app
        if self.generation == 0 or app.rebalancing:
            return False
        recovery = app.tables.recovery  # type: ignore[attr-defined]  # on the concrete manager
        return bool(recovery.completed.is_set()) and not recovery.in_recovery

    def _owned_inputs(self) -> dict[Any, Source]:
        """This worker's active input partitions (faust TPs) and their canonical sources."""
        canonical = self.topology.canonical
        return {
            tp: (canonical[tp.topic], tp.partition)
            for tp in self.app.assignor.assigned_actives()
            if tp.topic in canonical
        }

    async def input_bounds(self, wall: datetime) -> dict[str, Bound | None]:
        """The bound of every input partition this worker owns (streams/live/clock.py).

        Lag is the consumer's highwater against the next offset to process: this worker's own
        delivered progress, else the group's committed offset, else (nothing ever committed)
        the log start, so an empty partition counts as caught up.
        """
        consumer = self.app.consumer
        owned = self._owned_inputs()
        # faust keeps committed offsets only privately (faust/transport/consumer.py).
        committed = consumer._committed_offset  # type: ignore[attr-defined]  # no public API
        unknown = [
            tp
            for tp, source in owned.items()
            if self.progress.next_offset(source) is None
            and committed.get(tp) is None
            and tp not in self._log_start
        ]
        if unknown:
            self._log_start.update(await consumer.earliest_offsets(*unknown))
        grace = timedelta(seconds=self.settings.grace_seconds)
        bounds: dict[str, Bound | None] = {}
        for tp, source in owned.items():
            floors = [o for o in (committed.get(tp), self._log_start.get(tp)) if o is not None]
            try:
                highwater = consumer.highwater(tp)
            except Exception:  # not fetched yet, or just revoked: lag unknown
                highwater = None
            bounds[source_id(source)] = self.progress.bound(
                source,
                highwater=highwater,
                floor=max(floors) if floors else None,
                wall=wall,
                grace=grace,
            )
        return bounds

    async def send_ticks(self) -> None:
        """One tick to every partition of both side topics; skipped while in flux."""
        if not self._ticking():
            return
        wall = _now()
        value = encode_tick(wall, await self.input_bounds(wall))
        producer = self.app.producer
        pending = []
        for kind in CaseKind:
            for partition in range(self.topology.partitions):
                pending.append(
                    await producer.send(
                        self.topology.side_of(kind),
                        None,
                        value,
                        partition,
                        None,
                        [(TICK_HEADER, b"1")],
                    )
                )
        await asyncio.gather(*pending)
        self.health.broker_acked()

    # --- batches ---------------------------------------------------------------------------

    async def handle_batch(self, kind: CaseKind, events: Sequence[EventT[Any]]) -> None:
        """Process, deliver and await, then write the tables (module docstring: ordering)."""
        side = self.sides[kind]
        if self.built[kind] != self.generation or side.needs_rebuild:
            self.start_rebuild(kind)
        table = self.tables[kind]
        anchors: dict[int, EventT[Any]] = {}

        def read(key: str, partition: int) -> CaseState | None:
            raw = table.get(key)
            return None if raw is None else CaseState.from_dict(raw)

        batch = side.batch(read, _now())
        for event in events:
            msg = event.message
            anchors.setdefault(msg.partition, event)
            with _event_context(event):
                batch.message(
                    msg.topic, msg.partition, msg.offset, msg.value, _headers(msg.headers)
                )
        out = batch.output
        await self.deliver(kind, out)
        await self.write_cases(kind, out, anchors)
        side.commit(batch)
        # Only now may a tick vouch for these inputs: their forwards are on the side topics.
        for source, (next_offset, reached) in out.progress.items():
            self.progress.delivered(source, next_offset, reached)
        self._publish_gauges()

    async def write_cases(
        self, kind: CaseKind, out: BatchOutput, anchors: Mapping[int, EventT[Any]]
    ) -> None:
        """Write a batch's changed cases: changelog first, acknowledged, then the local store.

        `table[key] = value` would queue the changelog record in faust's producer buffer and
        return, and faust's commit does not wait for that buffer to empty (module docstring:
        "Durability"). The records are therefore produced here, encoded with the changelog
        topic's serializers (faust's recovery decodes them with those), and their
        acknowledgement is awaited before the batch may be acked. Only then is the local store
        written, so it is never ahead of the changelog (a case whose changelog record was lost
        is rewritten when its input is redone, instead of being taken for a duplicate by a
        store that already holds it); then the store's persisted changelog offsets move on, as
        faust's own send callback would move them (RocksDB recovery resumes after them).
        """
        table = self.tables[kind]
        changelog: Any = table.changelog_topic  # a faust Topic: TopicT omits its serializers
        topic = changelog.get_topic_name()
        producer = self.app.producer
        writes: list[tuple[str, dict[str, Any] | None, int]] = []
        pending = []
        try:
            for key, (case, partition) in out.cases.items():
                state = None if case is None else table_value(case)
                if state is None:
                    with _event_context(anchors[partition]):
                        if key not in table.data:
                            continue
                encoded = None if state is None else codecs.dumps(changelog.value_serializer, state)
                raw_key = codecs.dumps(changelog.key_serializer, key)
                pending.append(await producer.send(topic, raw_key, encoded, partition, None, None))
                writes.append((key, state, partition))
            acks = await asyncio.gather(*pending)
        except Exception as exc:
            log.critical("changelog_write_failed", agent=kind.value, error=type(exc).__name__)
            os._exit(EXIT_DELIVERY_FAILED)
        for key, state, partition in writes:
            with _event_context(anchors[partition]):
                if state is None:
                    del table.data[key]
                else:
                    table.data[key] = state
        persisted: dict[Any, int] = {}
        for ack in acks:
            persisted[ack.topic_partition] = max(ack.offset, persisted.get(ack.topic_partition, -1))
        store = cast("StoreT[Any, Any]", table.data)  # the table's store (typed as a mapping)
        for tp, offset in persisted.items():
            store.set_persisted_offset(tp, offset)

    async def deliver(self, kind: CaseKind, out: BatchOutput) -> None:
        """Send every output of a batch and wait for the broker to acknowledge each one."""
        if not out.sends:
            return
        t = self.topology
        producer = self.app.producer
        pending = []
        try:
            for letter, _ in out.dead_letters:
                value = letter.model_dump_json().encode("utf-8")
                key = letter.dead_letter_id.encode("utf-8")
                pending.append(await producer.send(t.dead_letters, key, value, None, None, None))
            for fwd in out.forwards:
                headers = [(ORIGIN_HEADER, fwd.origin.encode())]
                partition = partition_for(fwd.key, t.partitions)
                pending.append(
                    await producer.send(
                        t.side_of(fwd.kind), fwd.key.encode(), fwd.value, partition, None, headers
                    )
                )
            for alert, _ in out.alerts:
                value = alert.model_dump_json().encode("utf-8")
                pending.append(
                    await producer.send(t.alerts, alert.alert_id.encode(), value, None, None, None)
                )
            for item in out.items:
                topic = t.workqueues[item.queue]
                item_value = (
                    item.model_dump_json().encode("utf-8") if isinstance(item, WorkItem) else None
                )
                pending.append(
                    await producer.send(topic, item.item_id.encode(), item_value, None, None, None)
                )
            await asyncio.gather(*pending)
            self.health.broker_acked()
        except Exception as exc:
            # Never let take_events ack a batch whose output was not delivered.
            log.critical("output_delivery_failed", agent=kind.value, error=type(exc).__name__)
            os._exit(EXIT_DELIVERY_FAILED)
        for letter, origin in out.dead_letters:
            log.warning(
                "dead_letter",
                reason=letter.reason.value,
                dead_letter_id=letter.dead_letter_id,
                event_type=letter.event_type,
                topic=origin.topic,
                partition=origin.partition,
                offset=origin.offset,
            )
        for alert, alert_origin in out.alerts:
            log.info(
                "alert_raised",
                rule=alert.rule_id,
                alert_id=alert.alert_id,
                stage=alert.stage.value,
                queue=alert.queue.value,
                topic=alert_origin.topic if alert_origin else None,
                partition=alert_origin.partition if alert_origin else None,
                offset=alert_origin.offset if alert_origin else None,
            )

    def start_due_rebuilds(self) -> None:
        """Start the index rebuild of each side whose table is recovered for this assignment.

        Without this the rebuild began with a side's first batch, which after a restart is its
        first tick, a tick interval after the worker was ready; the tick after that then found
        little indexed. Started here, within a second of recovery, most of the table is indexed
        by the first tick. A side whose batch came first has started already.
        """
        if not self._ticking():  # assignment or tables in flux: its recovery is not complete
            return
        for kind in CaseKind:
            if self.built[kind] != self.generation:
                self.start_rebuild(kind)

    def start_rebuild(self, kind: CaseKind) -> None:
        """Start rebuilding the due index of this worker's active partitions from the table.

        The rebuild runs beside the agent (`rebuild`): batches and ticks go on meanwhile, and a
        tick announces what is already indexed, so a deadline that fell due during a restart is
        announced within a tick of being read rather than after the whole table (a million
        cases take seconds). `SideProcessor.start_rebuild` says why nothing is missed or
        counted twice. A rebuild still running (an older assignment) is abandoned.
        """
        running = self._rebuilds.pop(kind, None)
        if running is not None:
            running.cancel()
        side = self.sides[kind]
        side_topic = self.topology.side_of(kind)
        actives = {
            tp.partition for tp in self.app.assignor.assigned_actives() if tp.topic == side_topic
        }
        side.start_rebuild(actives)
        self.built[kind] = self.generation
        task = asyncio.get_running_loop().create_task(self.rebuild(kind, self.generation))
        self._rebuilds[kind] = task
        task.add_done_callback(
            lambda done: self._rebuilds.pop(kind) if self._rebuilds.get(kind) is done else None
        )

    async def rebuild(self, kind: CaseKind, generation: int) -> None:
        """Add every table entry of the active partitions to the side's index, yielding often."""
        side = self.sides[kind]
        store = self.tables[kind].data
        started = asyncio.get_running_loop().time()
        count = 0
        try:
            if isinstance(store, SerializedStore):
                # RocksDB: the raw values of the active partitions' databases in one pass, each
                # indexed from its due hint without decoding the case (processing.peek_hint).
                # The databases are listed first: faust drops revoked ones from that dict.
                dbs = list(store._dbs_for_actives())  # type: ignore[attr-defined]  # rocksdb
                for db in dbs:
                    for raw_key, value in store._visible_items(db):  # type: ignore[attr-defined]
                        key = store._decode_key(raw_key)
                        side.rebuild_add_encoded(key, value, store._decode_value)
                        count += 1
                        if count % REBUILD_CHUNK == 0:
                            await asyncio.sleep(0)
                            if self.generation != generation:
                                return  # reassigned: the next batch rebuilds for the new one
            else:
                # The memory store holds decoded values (with their hints), standby keys
                # included (skipped by `rebuild_add`); listed first, as standby recovery may
                # add keys meanwhile.
                entries = list(store.items())
                for start in range(0, len(entries), REBUILD_CHUNK):
                    for key, raw in entries[start : start + REBUILD_CHUNK]:
                        if raw is not None:
                            side.rebuild_add(key, raw)
                    await asyncio.sleep(0)
                    if self.generation != generation:
                        return
                count = len(entries)
        except Exception as exc:  # the index is incomplete: the next batch starts a new rebuild
            log.error("index_rebuild_failed", agent=kind.value, error=type(exc).__name__)
            side.needs_rebuild = True
            return
        side.finish_rebuild()
        self._publish_gauges()
        log.info(
            "index_rebuilt",
            agent=kind.value,
            partitions=sorted(side.index),
            entries=count,
            seconds=round(asyncio.get_running_loop().time() - started, 1),
        )

    def _publish_gauges(self) -> None:
        open_by_rule: Counter[str] = Counter()
        items: Counter[str] = Counter()
        for side in self.sides.values():
            rules, queues, _ = side.gauge_parts
            open_by_rule.update(rules)
            items.update(queues)
        for (rule,), child in _children(self.metrics.obligations_open):
            child.set(open_by_rule.get(rule, 0))
        for rule, n in open_by_rule.items():
            self.metrics.obligations_open.labels(rule=rule).set(n)
        for (queue,), child in _children(self.metrics.workqueue_open_items):
            child.set(items.get(queue, 0))
        wall = _now()
        for kind, side in self.sides.items():
            lag = side.clock_lag(wall)
            if lag is not None:
                self.metrics.decision_clock_lag.labels(aggregate=kind.value).set(lag)

    # --- health ----------------------------------------------------------------------------

    def _progress(self) -> Progress | None:
        """Committed offsets of assigned partitions and whether input waits (best effort)."""
        try:
            consumer = self.app.consumer
            committed_map = consumer._committed_offset  # type: ignore[attr-defined]  # no public API
            total = 0
            pending = False
            for tp in consumer.assignment():
                committed = committed_map.get(tp) or 0
                total += committed
                highwater = consumer.highwater(tp)
                if highwater is not None and highwater > committed:
                    pending = True
        except Exception:  # not started yet, or faust internals moved: no verdict on commits
            return None
        return Progress(total, pending)

    def liveness(self) -> Any:
        """The `/healthz` verdict."""
        running = {}
        for kind, agent in self.agents.items():
            actors = list(getattr(agent, "_actors", ()))
            running[kind.value] = bool(actors) and all(
                a.actor_task is None or not a.actor_task.done() for a in actors
            )
        return self.health.liveness(self._progress(), running)

    def readiness(self) -> Any:
        """The `/readyz` verdict."""
        app = self.app
        recovery = app.tables.recovery  # type: ignore[attr-defined]  # on the concrete manager
        recovered = recovery.completed.is_set() and not recovery.in_recovery
        return self.health.readiness(
            started=bool(getattr(app, "started", False)) and self.generation > 0,
            rebalancing=bool(app.rebalancing),
            recovered=recovered,
            # Ticks go out every interval and their delivery is awaited: if none is acknowledged
            # for several intervals the broker is unreachable (an outage), not just quiet.
            broker_unreachable=self._ticking()
            and self.health.broker_silent(
                max(BROKER_SILENCE_TICKS * self.settings.tick_interval_seconds, 5.0)
            ),
        )


def _children(metric: Any) -> list[tuple[tuple[str, ...], Any]]:
    """The labelled children of a metric (prometheus-client keeps them in `_metrics`)."""
    return list(metric._metrics.items())
