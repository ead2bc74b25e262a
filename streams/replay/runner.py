"""The replay loop: decode, hand to the rules core's `Replayer`, collect what comes out.

The clock is the event-time watermark, owned by `streams.rules.replayer.Replayer`: events wait
in a reorder buffer until the latest event time seen minus the lateness window passes them, then
run in event-time order, so any arrival order within the window gives the same decisions (rules
file §2). At the end of the input the clock runs to the last event time (or `as_of`), so every
deadline that has passed by then is decided. Nothing here reads the wall clock: the same input
always gives the same alerts, byte for byte.

Source silence is not judged here (no staleness, no data-completeness alert, no breach held
undecided): silence is a feed not arriving on the wall clock, and a history has no arrivals,
only event times, in which a quiet night and an outage look the same. A history is judged as
given; the input topics it holds no event of are listed (`ReplayResult.absent_sources`, the
report's `sources`) so that breaches owed to a missing extract can be told from real ones.

Per-event work here is decode + push + collecting effects; the replay benchmark compares this
loop with decode alone.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from schemas.alerts import AlertEvent, WorkItem
from schemas.codes import Severity, Stage
from schemas.deadletter import DeadLetter, DeadLetterOrigin
from schemas.events import Envelope
from schemas.registry import DecodeError, decode_event
from streams.replay.reader import iter_lines
from streams.rules.duties import RuleContext
from streams.rules.engine import Engine
from streams.rules.families import ALL_FAMILIES
from streams.rules.family import RuleFamily
from streams.rules.measures import ComplianceMeasures
from streams.rules.model import WorkItemClosed, derive_id
from streams.rules.replayer import Replayer
from streams.topics import INPUT_TOPICS, TOPIC_OF_TYPE

DEFAULT_LATENESS = timedelta(hours=1)
"""How far out of event-time order an event may arrive and still be judged by its own time."""

_SEVERITY_RANK = {Severity.S1: 0, Severity.S2: 1, Severity.S3: 2, Severity.S4: 3}
_STAGE_RANK = {Stage.ESCALATED: 0, Stage.BREACHED: 1, Stage.UNDECIDED: 2, Stage.DUE_SOON: 3}

Progress = Callable[[int], None]
"""Called now and then with the number of input bytes consumed so far."""


@dataclass(slots=True)
class ReplayResult:
    """Everything a replay produced, in emission order."""

    alerts: list[AlertEvent] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    open_items: dict[str, WorkItem] = field(default_factory=dict)
    measures: ComplianceMeasures = field(default_factory=ComplianceMeasures)
    events: int = 0
    lines: int = 0
    first_event_at: datetime | None = None
    last_event_at: datetime | None = None
    as_of: datetime | None = None
    open_breaches: int = 0
    engine: Engine | None = None
    events_by_type: dict[str, int] = field(default_factory=dict)

    @property
    def events_by_source(self) -> dict[str, int]:
        """Decoded events per input topic, every input topic listed (0: none in the history)."""
        counts = dict.fromkeys((spec.name for spec in INPUT_TOPICS), 0)
        for event_type, n in self.events_by_type.items():
            spec = TOPIC_OF_TYPE.get(event_type)
            if spec is not None:
                counts[spec.name] += n
        return counts

    @property
    def absent_sources(self) -> list[str]:
        """Input topics the history holds no event of: the duties they would satisfy are
        judged unmet (replay does not hold them undecided; see the module docstring)."""
        return [source for source, n in self.events_by_source.items() if n == 0]

    def most_severe_items(self, limit: int = 10) -> list[WorkItem]:
        """Open work items, most severe first: severity, then stage, then the oldest deadline."""
        return sorted(
            self.open_items.values(),
            key=lambda w: (
                _SEVERITY_RANK[w.severity],
                _STAGE_RANK.get(w.stage, 9),
                w.deadline,
                w.item_id,
            ),
        )[:limit]


class AuditReplay:
    """Runs events through `streams.rules.replayer.Replayer` and keeps what comes out.

    The rules core's `Replayer` owns the clock (a reorder buffer released on the event-time
    watermark, the same decisions for any arrival order within the lateness window); this class
    only builds the engine, feeds the measures and collects alerts, work items and dead letters.
    """

    def __init__(
        self,
        *,
        lateness: timedelta = DEFAULT_LATENESS,
        families: Sequence[RuleFamily] = ALL_FAMILIES,
        ctx: RuleContext | None = None,
    ) -> None:
        self.lateness = lateness
        self.families = tuple(families)
        self.ctx = ctx
        self.replayer: Replayer | None = None
        self.result = ReplayResult()

    def _replayer_for(self, event: Envelope) -> Replayer:
        """The replayer, made on the first event so alerts carry that event's force code."""
        if self.replayer is None:
            ctx = self.ctx or RuleContext(force_code=event.force_code)
            engine = Engine(self.families, ctx)
            self.result.engine = engine
            self.replayer = Replayer(engine, self.lateness)
        return self.replayer

    def _collect(self, effects: Sequence[object]) -> None:
        result = self.result
        result.measures.observe(effects)
        for effect in effects:
            if isinstance(effect, AlertEvent):
                result.alerts.append(effect)
            elif isinstance(effect, WorkItem):
                result.open_items[f"{effect.queue.value}|{effect.item_id}"] = effect
            elif isinstance(effect, WorkItemClosed):
                result.open_items.pop(f"{effect.queue.value}|{effect.item_id}", None)

    def feed(self, event: Envelope) -> None:
        """Accept one event (in arrival order) and collect whatever the watermark releases."""
        replayer = self._replayer_for(event)
        result = self.result
        result.events += 1
        by_type = result.events_by_type
        by_type[event.type] = by_type.get(event.type, 0) + 1
        result.measures.observe_event(event)
        at = event.time
        if result.first_event_at is None or at < result.first_event_at:
            result.first_event_at = at
        if result.last_event_at is None or at > result.last_event_at:
            result.last_event_at = at
        effects = replayer.push(event)
        if effects:
            self._collect(effects)

    def dead_letter(self, exc: DecodeError, raw: bytes, file: str, line: int) -> None:
        """Keep a bad line with its reason and origin; the run goes on."""
        self.result.dead_letters.append(
            DeadLetter(
                dead_letter_id=derive_id("dead-letter", file, str(line)),
                reason=exc.reason,
                error=exc.detail[:2000],
                event_type=exc.event_type,
                original_b64=base64.b64encode(raw).decode("ascii"),
                origin=DeadLetterOrigin(file=file[-1024:], line=line),
            )
        )

    def finish(self, as_of: datetime | None = None) -> ReplayResult:
        """Release the buffer, run the clock to `as_of` (default: the last event time), and
        count the obligations still open with a breach announced."""
        result = self.result
        if self.replayer is not None and result.engine is not None:
            self._collect(self.replayer.finish(as_of))
            result.open_breaches = sum(
                1
                for ob in result.engine.open_obligations()
                if Stage.BREACHED in ob.emitted or Stage.ESCALATED in ob.emitted
            )
        result.as_of = as_of or result.last_event_at
        return result


def replay_events(
    events: Iterable[Envelope],
    *,
    lateness: timedelta = DEFAULT_LATENESS,
    as_of: datetime | None = None,
    families: Sequence[RuleFamily] = ALL_FAMILIES,
    ctx: RuleContext | None = None,
) -> list[AlertEvent]:
    """The alerts a replay emits for these events, in emission order (the golden comparison)."""
    replayer = AuditReplay(lateness=lateness, families=families, ctx=ctx)
    for event in events:
        replayer.feed(event)
    return replayer.finish(as_of).alerts


def replay_files(
    paths: Sequence[Path],
    *,
    lateness: timedelta = DEFAULT_LATENESS,
    as_of: datetime | None = None,
    progress: Progress | None = None,
    families: Sequence[RuleFamily] = ALL_FAMILIES,
    ctx: RuleContext | None = None,
) -> ReplayResult:
    """Replay NDJSON files in order; a line that fails to decode is dead-lettered, not fatal.

    Raises OSError (including gzip's BadGzipFile) when a file cannot be read: that is an I/O
    error for the caller to report, not bad input.
    """
    replayer = AuditReplay(lateness=lateness, families=families, ctx=ctx)
    feed = replayer.feed
    lines = 0
    for name, number, raw, consumed in _lines(paths):
        lines += 1
        try:
            event = decode_event(raw)
        except DecodeError as exc:
            replayer.dead_letter(exc, raw, name, number)
            continue
        feed(event)
        if progress is not None and not lines & 0x3FF:
            progress(consumed)
    result = replayer.finish(as_of)
    result.lines = lines
    return result


def _lines(paths: Sequence[Path]) -> Iterator[tuple[str, int, bytes, int]]:
    """(file name, line number, line, bytes consumed so far in all files) of non-blank lines."""
    done = 0
    for path in paths:
        size = 0
        for number, raw, position in iter_lines(path):
            size = position
            yield str(path), number, raw, done + position
        done += size
