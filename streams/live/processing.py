"""One aggregate's side of the live worker, without faust: a batch of messages in, outputs out.

The faust agent (streams/live/app.py) hands each batch of raw messages to a `Batch`, delivers
what it produced, writes the changed cases to its table and only then calls
`SideProcessor.commit`. Keeping this part free of faust makes the routing, the dead-lettering
and the clock handling testable with plain objects.

Routing. An event updates every aggregate `facts.route` names. The incident agent owns the
incident cases, the crime agent the crime cases. An event is applied here only when it belongs
to this side and arrived on the partition its key hashes to; otherwise it is forwarded, raw, to
the owning side's internal topic keyed by the aggregate key (a crime record to its incident, or
a producer that keyed an input by something else). A forwarded copy is applied on arrival.

Clock (streams/live/clock.py). Ticks on the side topic carry the bounds of the input partitions
their sender owns; each partition keeps a `DecisionClock` from them. A tick advances only the
cases the partition's `DueIndex` says are due at that clock (never a full scan); an applied
event advances its own case to the partition's clock at once, so findings already due (an
event that arrives late, an immediate check) go out without waiting for the next tick. Until a
partition's clock is known (every input partition has reported) nothing is decided on it.

Retention. The engine purges closed obligations and idle cases `retention` after their event
time, judged on the clock it is given. The live clock is the wall clock, and a case whose events
are old (a backlog of history, a test in 2016) would be purged the moment it is written, losing
facts a later event needs (a crime record that arrives before its incident). Purging here is
judged on the partition's event-time horizon instead (the latest event time applied on it, as
replay does), by widening the retention passed to the engine by the distance between the
decision clock and that horizon. The max-age guardrail is judged on the same horizon (the
engine's `aged_at`), so an obligation expires at clock start + max age, as in replay.

Sources. Each side watches the input topics it consumes for silence on the wall clock of
arrival (`_observe`, `_check_sources`). A topic that has not spoken since this side started
counts as heard at the first tick it handles (after table recovery, once it consumes), so a
feed that is down when the worker starts is declared silent after the staleness limit too.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from schemas.alerts import AlertEvent, WorkItem
from schemas.codes import ClockKind, Stage
from schemas.deadletter import DeadLetter, DeadLetterReason
from schemas.events import Envelope
from schemas.registry import DecodeError, check_not_future, decode_event
from streams.live.clock import Bound, DecisionClock, Source, decode_tick, encode_tick
from streams.live.deadletters import Origin, build_dead_letter, processing_error_text
from streams.live.metrics import Metrics
from streams.live.topology import Topology, partition_for
from streams.rules.duties import RuleContext
from streams.rules.engine import (
    DEFAULT_RETENTION,
    DUE_HINT_VERSION,
    Clock,
    Effect,
    SourceMonitor,
    advance,
    apply,
    due_hint,
    next_due,
    next_due_from_hint,
)
from streams.rules.facts import route
from streams.rules.family import RuleFamily
from streams.rules.index import DueIndex
from streams.rules.model import (
    CaseKind,
    CaseState,
    ObligationClosed,
    ObligationOpened,
    Observation,
    WorkItemClosed,
)
from streams.topics import TOPIC_OF_TYPE

__all__ = [
    "DUE_HINT_KEY",
    "ORIGIN_HEADER",
    "TICK_HEADER",
    "Batch",
    "BatchOutput",
    "Forward",
    "SideProcessor",
    "decode_tick",
    "encode_tick",
    "peek_hint",
    "table_value",
]

TICK_HEADER = "ncrs-tick"
"""Header marking a clock tick on a side topic; its value is `clock.encode_tick`'s JSON."""
ORIGIN_HEADER = "ncrs-origin"
"""Header of a forwarded copy: the input's original topic position (for dead letters, logs)."""
RETRY_AFTER = timedelta(minutes=1)
"""A case whose advance failed is tried again this much later on the decision clock."""

DUE_HINT_KEY = "due_hint"
"""Top-level key of a table value holding `engine.due_hint` of the case, written first so that an
index rebuild can read it without decoding the case (`peek_hint`). `CaseState.from_dict` ignores
it, and a value without it (written before it existed) is rebuilt by decoding the case."""
_HINT_PREFIX = b'{"' + DUE_HINT_KEY.encode() + b'":'
_HINT_DECODER = json.JSONDecoder()

CaseReader = Callable[[str, int], CaseState | None]
"""Reads a case from the table: (key, partition) -> state or None."""

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Forward:
    """An event to re-send, raw, to the side topic of the aggregate that owns `key`."""

    kind: CaseKind
    key: str
    value: bytes
    origin: Origin


@dataclass(slots=True)
class BatchOutput:
    """Everything a batch must deliver (and have acknowledged) before its cases are written.

    `progress` is how far the batch got in each input partition it read (next offset, latest
    event time): the worker records it only after delivery, because the ticks it sends vouch
    that every forward of those inputs is already on its side topic.
    """

    alerts: list[tuple[AlertEvent, Origin | None]] = field(default_factory=list)
    items: list[WorkItem | WorkItemClosed] = field(default_factory=list)
    forwards: list[Forward] = field(default_factory=list)
    dead_letters: list[tuple[DeadLetter, Origin]] = field(default_factory=list)
    cases: dict[str, tuple[CaseState | None, int]] = field(default_factory=dict)
    progress: dict[Source, tuple[int, datetime | None]] = field(default_factory=dict)

    @property
    def sends(self) -> int:
        """Messages to deliver."""
        return len(self.alerts) + len(self.items) + len(self.forwards) + len(self.dead_letters)

    def read(self, source: Source, offset: int, event_time: datetime | None) -> None:
        """Note that `source` was read up to `offset` (with an event of `event_time`)."""
        known = self.progress.get(source)
        if known is None:
            self.progress[source] = (offset + 1, event_time)
            return
        reached = known[1]
        if event_time is not None and (reached is None or event_time > reached):
            reached = event_time
        self.progress[source] = (max(known[0], offset + 1), reached)


def table_value(case: CaseState) -> dict[str, Any]:
    """What a table holds for `case`: its `to_dict()` with its due hint as the first key."""
    return {DUE_HINT_KEY: due_hint(case), **case.to_dict()}


def _valid_hint(hint: object) -> Mapping[str, Any] | None:
    if isinstance(hint, dict) and hint.get("v") == DUE_HINT_VERSION:
        return hint
    return None


def peek_hint(value: bytes) -> Mapping[str, Any] | None:
    """The due hint of a JSON-encoded table value, decoding nothing else (None: none there).

    A value JSON-encoded from `table_value` begins with the hint's key (faust's JSON codec keeps
    the key order and writes no spaces); any other value, or a hint of another version, gives
    None and the caller decodes the whole case.
    """
    if not value.startswith(_HINT_PREFIX):
        return None
    try:
        hint, _ = _HINT_DECODER.raw_decode(value.decode("utf-8"), len(_HINT_PREFIX))
    except ValueError:
        return None
    return _valid_hint(hint)


@dataclass(slots=True)
class _Tally:
    """Derived counts of one partition, kept exact under re-delivery (recomputed from state)."""

    open_by_rule: Counter[str] = field(default_factory=Counter)
    items_by_queue: Counter[str] = field(default_factory=Counter)
    keys: int = 0

    def add(self, case: CaseState | None, sign: int) -> None:
        if case is None:
            return
        self.keys += sign
        for ob in case.obligations.values():
            if ob.is_open:
                self.open_by_rule[ob.rule_id] += sign
                if ob.has_work_item:
                    for queue in (ob.queue, *ob.also_notify):
                        self.items_by_queue[queue.value] += sign

    def add_hint(self, hint: Mapping[str, Any]) -> None:
        """Count a case from its due hint (`engine.due_hint`), as `add(case, +1)` would."""
        self.keys += 1
        self.open_by_rule.update(hint["open"])
        self.items_by_queue.update(hint["items"])


class SideProcessor:
    """The state one agent keeps beside its table: due indexes, clocks, sources, tallies."""

    def __init__(
        self,
        kind: CaseKind,
        families: Sequence[RuleFamily],
        ctx: RuleContext,
        topology: Topology,
        metrics: Metrics,
        *,
        grace: timedelta,
        future_tolerance: timedelta,
        staleness: timedelta,
        retention: timedelta = DEFAULT_RETENTION,
        max_age: timedelta | None = None,
        open_limit: int | None = None,
    ) -> None:
        self.kind = kind
        self.families = tuple(f for f in families if kind in f.kinds)
        self.ctx = ctx
        self.topology = topology
        self.metrics = metrics
        self.grace = grace
        self.future_tolerance = future_tolerance
        self.retention = retention
        # Guardrails (docs/reliability.md): an obligation opened `max_age` before the partition's
        # event-time horizon is expired (`aged_at`); past `open_limit` open obligations of
        # one rule the worker counts and logs, but still opens and monitors every obligation.
        self.max_age = max_age
        self.open_limit = open_limit
        self.sources = SourceMonitor(
            staleness, frozenset(topology.canonical[t] for t in topology.inputs_of(kind))
        )
        self.side_topic = topology.side_of(kind)
        self.table_name = f"{kind.value}_cases"
        self.required = topology.clock_sources
        self.index: dict[int, DueIndex[str]] = {}
        self.tally: dict[int, _Tally] = {}
        self.clocks: dict[int, DecisionClock] = {}
        self.horizon: dict[int, datetime] = {}
        self.needs_rebuild = True
        self.rebuilding = False
        # While rebuilding: keys the rebuild has counted, and keys a batch has taken over (the
        # rebuild skips those: the batch counted them and scheduled them from current state).
        self._reached: set[str] = set()
        self._taken: set[str] = set()
        self._gauge_parts: tuple[Counter[str], Counter[str], int] = (Counter(), Counter(), 0)

    # --- the index, rebuilt from the table -------------------------------------------------

    def start_rebuild(self, partitions: Iterable[int]) -> None:
        """Forget the derived state; only `partitions` (this worker's actives) are rebuilt.

        A partition kept across a rebalance keeps its clock (a clock once safe stays safe: it
        only vouches for input already applied); a newly assigned one starts unknown.

        Batches may run (and ticks announce what is already indexed) before `finish_rebuild`:
        a case not yet indexed is only announced later, never missed, because it is indexed
        with its due time when the rebuild reaches it and the next tick pops it. A case a batch
        touches first is the batch's: `commit` counts it from the state it read and schedules
        it from the state it left, and the rebuild skips it (the rebuild may read an older
        value, and must neither count it twice nor schedule it from that value).
        """
        self.needs_rebuild = False
        self.rebuilding = True
        self._reached = set()
        self._taken = set()
        self.index = {p: DueIndex() for p in partitions}
        self.tally = {p: _Tally() for p in self.index}
        self.clocks = {p: self.clocks.get(p) or DecisionClock(self.required) for p in self.index}
        self.horizon = {p: t for p, t in self.horizon.items() if p in self.index}

    def rebuild_add(self, key: str, raw: Mapping[str, Any]) -> None:
        """One table entry; keys of partitions not active here (standby copies) are skipped.

        A value with a due hint (`table_value`) is indexed from the hint alone, which gives the
        same due time, horizon and counts as the decoded case (tests/unit/rules/test_due_hint.py)
        at a fraction of the cost; an older value is decoded.
        """
        partition = partition_for(key, self.topology.partitions)
        if partition not in self.index or key in self._taken:
            return
        self._reached.add(key)
        hint = _valid_hint(raw.get(DUE_HINT_KEY))
        if hint is None:
            self._rebuild_case(key, partition, CaseState.from_dict(raw))
        else:
            self._rebuild_hint(key, partition, hint)

    def rebuild_add_encoded(
        self, key: str, value: bytes, decode: Callable[[bytes], Mapping[str, Any]]
    ) -> None:
        """`rebuild_add` for a still-encoded value: only its hint is decoded (`peek_hint`), the
        whole value (with `decode`) only when it has none."""
        partition = partition_for(key, self.topology.partitions)
        if partition not in self.index or key in self._taken:
            return
        hint = peek_hint(value)
        if hint is None:
            self.rebuild_add(key, decode(value))
        else:
            self._reached.add(key)
            self._rebuild_hint(key, partition, hint)

    def _rebuild_hint(self, key: str, partition: int, hint: Mapping[str, Any]) -> None:
        last = hint["last"]
        if last is not None:
            self.extend_horizon(partition, datetime.fromisoformat(last))
        clock = self.clock(partition)
        retention, max_age = self.retention, self.max_age
        if clock is not None:
            # As `_next_due` widens them: by the clock's distance past the event-time horizon.
            widen = self.retention_at(partition, clock.now) - self.retention
            retention += widen
            max_age = None if max_age is None else max_age + widen
        due = next_due_from_hint(
            hint, stale_sources=self.sources.stale, retention=retention, max_age=max_age
        )
        self.index[partition].schedule(key, due)
        self.tally[partition].add_hint(hint)

    def _rebuild_case(self, key: str, partition: int, case: CaseState) -> None:
        index = self.index[partition]
        last = case.facts.get("last_event_at")
        if last is not None:
            self.extend_horizon(partition, datetime.fromisoformat(last))
        index.schedule(key, self._next_due(case, partition))
        self.tally[partition].add(case, +1)

    def finish_rebuild(self) -> None:
        """Every table entry was added: publish the recomputed gauges."""
        self.rebuilding = False
        self._reached = set()
        self._taken = set()
        self._publish_gauges()

    # --- clock and retention ---------------------------------------------------------------

    def clock(self, partition: int) -> Clock | None:
        """The decision clock of one partition (None: not every input has reported yet)."""
        decision = self.clocks.get(partition)
        bound = decision.now if decision is not None else None
        return None if bound is None else Clock(bound.at, bound.kind)

    def extend_horizon(self, partition: int, at: datetime) -> None:
        """An event of time `at` was applied on `partition`."""
        known = self.horizon.get(partition)
        if known is None or at > known:
            self.horizon[partition] = at

    def retention_at(self, partition: int, now: datetime) -> timedelta:
        """Retention to pass the engine at clock `now` so it purges on the event-time horizon.

        The engine purges when `event time + retention <= now`; widening the retention by
        `now - horizon` makes that `event time + retention <= horizon` (module docstring).
        """
        horizon = self.horizon.get(partition)
        if horizon is None or horizon >= now:
            return self.retention
        return self.retention + (now - horizon)

    def aged_at(self, partition: int, now: datetime) -> datetime:
        """When obligations' age is judged at clock `now`: the partition's event-time horizon.

        An obligation expires once the partition's events have moved `max_age` past its clock
        start (never past `now`): history fed in long after it happened (a backlog, a test in
        2016) is announced on its own times, not expired unseen on the wall clock, and it
        expires at clock start + `max_age`, the instant replay gives it.
        """
        horizon = self.horizon.get(partition)
        return now if horizon is None or horizon >= now else horizon

    def _next_due(self, case: CaseState, partition: int) -> datetime | None:
        clock = self.clock(partition)
        retention, max_age = self.retention, self.max_age
        if clock is not None:
            retention = self.retention_at(partition, clock.now)
            if max_age is not None:
                # Expiry comes due once the horizon reaches it: at the present distance from
                # clock to horizon, that much later on the decision clock.
                max_age += clock.now - self.aged_at(partition, clock.now)
        return next_due(
            case, stale_sources=self.sources.stale, retention=retention, max_age=max_age
        )

    def advance_case(
        self, case: CaseState, partition: int, clock: Clock
    ) -> tuple[CaseState | None, tuple[Effect, ...]]:
        """`engine.advance` for one case of `partition`, purging on its event-time horizon."""
        step = advance(
            case,
            clock,
            self.ctx,
            stale_sources=self.sources.stale,
            retention=self.retention_at(partition, clock.now),
            max_age=self.max_age,
            aged_at=self.aged_at(partition, clock.now),
        )
        return step.case, step.effects

    # --- gauges ----------------------------------------------------------------------------

    def _publish_gauges(self) -> None:
        open_by_rule: Counter[str] = Counter()
        items: Counter[str] = Counter()
        keys = 0
        for tally in self.tally.values():
            open_by_rule.update(tally.open_by_rule)
            items.update(tally.items_by_queue)
            keys += tally.keys
        # The two agents share these gauges: each adds its own part (see `commit`).
        self._gauge_parts = (open_by_rule, items, keys)
        self.metrics.table_keys.labels(table=self.table_name).set(keys)

    @property
    def gauge_parts(self) -> tuple[Counter[str], Counter[str], int]:
        """(open obligations by rule, open items by queue, keys) of this side's partitions."""
        return self._gauge_parts

    def clock_lag(self, wall: datetime) -> float | None:
        """Seconds the oldest known partition clock trails `wall` (None: none known yet)."""
        known = [c.now.at for c in self.clocks.values() if c.now is not None]
        return None if not known else (wall - min(known)).total_seconds()

    # --- batches ---------------------------------------------------------------------------

    def batch(self, read: CaseReader, now: datetime) -> Batch:
        """A new batch reading cases through `read`, at wall-clock time `now`."""
        return Batch(self, read, now)

    def commit(self, batch: Batch) -> None:
        """After delivery and table writes: reschedule the changed cases, update the tallies."""
        if self.rebuilding:
            self._take_over(batch)
        for key, (case, partition) in batch.output.cases.items():
            tally = self.tally.get(partition)
            if tally is not None:  # None: revoked meanwhile; the next rebuild recounts
                tally.add(batch.before.get(key), -1)
                tally.add(case, +1)
        for key, partition in batch.touched.items():
            index = self.index.get(partition)
            if index is not None:
                case = batch.current(key)
                index.schedule(key, None if case is None else self._next_due(case, partition))
        for key, partition in batch.retry:
            index = self.index.get(partition)
            if index is not None:
                clock = self.clock(partition)
                index.schedule(key, (clock.now if clock else batch.now) + RETRY_AFTER)
        self._check_open_limit(batch.opened)
        if not self.rebuilding:  # partial counts while rebuilding: the gauges wait for the end
            self._publish_gauges()

    def _take_over(self, batch: Batch) -> None:
        """During a rebuild: count each case this batch touched that the rebuild has not, as
        the batch read it (the update below then moves it to its new state), and keep the
        rebuild off it (`start_rebuild`)."""
        keys = [*batch.touched.items(), *batch.retry]
        keys.extend((key, partition) for key, (_, partition) in batch.output.cases.items())
        for key, partition in keys:
            if key in self._reached or key in self._taken:
                continue
            self._taken.add(key)
            tally = self.tally.get(partition)
            if tally is not None:
                tally.add(batch.before.get(key), +1)

    def _check_open_limit(self, opened: Counter[str]) -> None:
        """Count (and log) the obligations this batch opened beyond a rule's open limit."""
        if self.open_limit is None:
            return
        for rule, count in opened.items():
            held = sum(tally.open_by_rule[rule] for tally in self.tally.values())
            beyond = min(count, held - self.open_limit)
            if beyond > 0:
                self.metrics.guardrail_exceeded.labels(rule=rule).inc(beyond)
                logger.warning(
                    "guardrail_exceeded",
                    extra={"rule": rule, "open": held, "limit": self.open_limit},
                )


class Batch:
    """One batch of messages of one agent; collects outputs and the changed cases."""

    def __init__(self, proc: SideProcessor, read: CaseReader, now: datetime) -> None:
        self.proc = proc
        self.read = read
        self.now = now
        self.output = BatchOutput()
        self.before: dict[str, CaseState | None] = {}
        self.retry: list[tuple[str, int]] = []
        self.touched: dict[str, int] = {}
        self.opened: Counter[str] = Counter()
        self._cases: dict[str, CaseState | None] = {}

    def current(self, key: str) -> CaseState | None:
        """The case as this batch left it."""
        return self._cases.get(key)

    # --- reading and staging cases --------------------------------------------------------

    def _get(self, key: str, partition: int) -> CaseState | None:
        if key in self._cases:
            return self._cases[key]
        case = self.read(key, partition)
        self.before[key] = case
        self._cases[key] = case
        return case

    def _stage(self, key: str, partition: int, case: CaseState | None) -> None:
        self._cases[key] = case
        self.touched[key] = partition
        if case is self.before.get(key):
            return  # unchanged (e.g. a duplicate event): nothing to write
        self.output.cases[key] = (case, partition)

    # --- messages --------------------------------------------------------------------------

    def message(
        self,
        topic: str,
        partition: int,
        offset: int,
        value: bytes | None,
        headers: Mapping[str, bytes],
    ) -> None:
        """Handle one message of this agent's channel; never raises for bad input."""
        origin = Origin(topic, partition, offset)
        forwarded = topic == self.proc.side_topic
        if forwarded and TICK_HEADER in headers:
            self._tick(partition, value)
            return
        if forwarded and ORIGIN_HEADER in headers:
            try:
                origin = Origin.decode(headers[ORIGIN_HEADER])
            except ValueError:
                logger.warning("origin_header_invalid", extra={"offset": offset})
        source = None if forwarded else (self.proc.topology.canonical.get(topic, topic), partition)
        try:
            event = self._decode(topic, value, forwarded=forwarded)
        except DecodeError as exc:
            self._dead_letter(value, origin, exc.reason, exc.detail, exc.event_type)
            if source is not None:
                self.output.read(source, offset, None)
            return
        if source is not None:
            self.output.read(source, offset, event.time)
        try:
            self._apply(event, value or b"", origin, partition, forwarded=forwarded)
        except Exception as exc:  # the core failed: dead-letter the event, never ack it silently
            logger.exception(
                "processing_failed",
                extra={"event_type": event.type, "topic": origin.topic, "offset": origin.offset},
            )
            self._dead_letter(
                value,
                origin,
                DeadLetterReason.PROCESSING_ERROR,
                processing_error_text(exc),
                event.type,
            )

    def _decode(self, topic: str, value: bytes | None, *, forwarded: bool) -> Envelope:
        if value is None:
            raise DecodeError(DeadLetterReason.INVALID_JSON, "empty message (tombstone)")
        event = decode_event(value)
        if forwarded:
            return event  # checked when it was first read
        check_not_future(event, self.now, self.proc.future_tolerance)
        canonical = self.proc.topology.canonical.get(topic, topic)
        expected = TOPIC_OF_TYPE[event.type].name
        if expected != canonical:
            detail = f"{event.type} belongs on {expected}, not {canonical}"
            raise DecodeError(DeadLetterReason.WRONG_TOPIC, detail, event.type)
        return event

    def _apply(
        self, event: Envelope, value: bytes, origin: Origin, partition: int, *, forwarded: bool
    ) -> None:
        proc = self.proc
        effects: list[Effect] = []
        forwards: list[Forward] = []
        staged: list[tuple[str, CaseState | None]] = []
        if not forwarded:
            effects.extend(self._observe(event, origin.topic))
        for kind, key in route(event):
            local = kind is proc.kind and (
                forwarded or partition_for(key, proc.topology.partitions) == partition
            )
            if local:
                step = apply(self._get(key, partition), kind, key, event, proc.ctx, proc.families)
                case = step.case
                effects.extend(step.effects)
                proc.extend_horizon(partition, event.time)
                clock = proc.clock(partition)
                if case is not None and clock is not None:
                    case, later = proc.advance_case(case, partition, clock)
                    effects.extend(later)
                staged.append((key, case))
            elif not forwarded:
                forwards.append(Forward(kind, key, value, origin))
        for key, case in staged:
            self._stage(key, partition, case)
        self.output.forwards.extend(forwards)
        self._emit(effects, origin)

    def _observe(self, event: Envelope, topic: str) -> list[Effect]:
        """Count the input and note that its source spoke (wall clock of arrival)."""
        proc = self.proc
        canonical = proc.topology.canonical.get(topic, topic)
        metrics = proc.metrics
        metrics.events_consumed.labels(topic=canonical, type=event.type).inc()
        metrics.event_time_lag.labels(topic=canonical).set((self.now - event.time).total_seconds())
        metrics.source_last_arrival.labels(topic=canonical).set(self.now.timestamp())
        was_stale = canonical in proc.sources.stale
        effects = proc.sources.observe(canonical, self.now, proc.ctx, ClockKind.WALL_CLOCK)
        if was_stale:
            metrics.source_stale.labels(source=canonical).set(0)
            proc.needs_rebuild = True  # held-undecided breaches are due again
        return effects

    # --- the clock -------------------------------------------------------------------------

    def _tick(self, partition: int, value: bytes | None) -> None:
        proc = self.proc
        index = proc.index.get(partition)
        decision = proc.clocks.get(partition)
        if index is None or decision is None:
            return  # not (yet) rebuilt for this partition: the next rebuild catches up
        try:
            tick = decode_tick(value)
        except Exception:  # anyone can write to a side topic; a bad tick must not stop the agent
            logger.warning("tick_invalid", extra={"partition": partition})
            return
        proc.metrics.ticks_processed.inc()
        effects: list[Effect] = []
        if partition == min(proc.index):
            effects.extend(self._check_sources(tick.at))
        bound: Bound | None = decision.update(tick.bounds)
        if bound is not None:
            clock = Clock(bound.at, bound.kind)
            for key in index.pop_due(clock.now):
                case = self._get(key, partition)
                if case is None:
                    continue
                try:
                    later, more = proc.advance_case(case, partition, clock)
                except Exception:  # a broken case must not stop the clock for the others
                    logger.exception("advance_failed", extra={"partition": partition})
                    self.retry.append((key, partition))
                    continue
                self._stage(key, partition, later)
                effects.extend(more)
        self._emit(effects, None)

    def _check_sources(self, at: datetime) -> list[Effect]:
        proc = self.proc
        before = proc.sources.stale
        effects = proc.sources.check(Clock(at, ClockKind.WALL_CLOCK), proc.ctx)
        for source in proc.sources.stale - before:
            proc.metrics.source_stale.labels(source=source).set(1)
        return effects

    # --- outputs ---------------------------------------------------------------------------

    def _emit(self, effects: Iterable[Effect], origin: Origin | None) -> None:
        metrics = self.proc.metrics
        for effect in effects:
            if isinstance(effect, AlertEvent):
                self.output.alerts.append((effect, origin))
                metrics.alert(
                    effect.rule_id, effect.stage.value, effect.severity.value, effect.queue.value
                )
                if effect.stage is Stage.BREACHED:
                    metrics.breaches.labels(
                        rule=effect.rule_id,
                        offence_group=effect.offence_group.value if effect.offence_group else "",
                        area=effect.area or "",
                        cause=effect.cause.value if effect.cause else "",
                    ).inc()
            elif isinstance(effect, WorkItem | WorkItemClosed):
                self.output.items.append(effect)
            elif isinstance(effect, ObligationOpened):
                metrics.obligations_opened.labels(rule=effect.rule_id).inc()
                self.opened[effect.rule_id] += 1
            elif isinstance(effect, ObligationClosed):
                metrics.obligations_closed.labels(
                    rule=effect.rule_id, outcome=effect.outcome.value
                ).inc()
            elif isinstance(effect, Observation):
                self._observation(effect)

    def _observation(self, obs: Observation) -> None:
        metrics = self.proc.metrics
        group = obs.offence_group.value
        if obs.name == "time_to_record":
            metrics.time_to_record.labels(offence_group=group).observe(obs.seconds)
            metrics.crimes_recorded.labels(offence_group=group, area=obs.area or "").inc()
            if obs.within_24h:
                metrics.crimes_recorded_within_24h.labels(
                    offence_group=group, area=obs.area or ""
                ).inc()
        else:
            metrics.time_to_referral.labels(offence_group=group).observe(obs.seconds)

    def _dead_letter(
        self,
        value: bytes | None,
        origin: Origin,
        reason: DeadLetterReason,
        error: str,
        event_type: str | None,
    ) -> None:
        letter = build_dead_letter(
            value, origin, reason, error, event_type=event_type, detected_at=self.now
        )
        self.output.dead_letters.append((letter, origin))
        self.proc.metrics.dead_letters.labels(reason=reason.value).inc()
