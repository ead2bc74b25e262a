"""Obligations, case state and the effects a step produces.

An obligation is opened by a trigger, closed by any one of its satisfying events (or cancelled),
and breached when its deadline passes first. All of it is immutable and converts to and from
plain JSON-able dicts, which is what a faust table holds and what a changelog replays.
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, TypeVar

from schemas.codes import Cause, OffenceGroup, Queue, Severity, Stage

NAMESPACE = uuid.UUID("8f5d3d0c-6f1e-5b0a-9c55-6e63727321aa")
"""uuid5 namespace of every id the monitor derives (fixed forever: ids must not change)."""

WARNING_STAGES = (Stage.DUE_SOON, Stage.BREACHED, Stage.ESCALATED)

E = TypeVar("E", bound=StrEnum)


_NAMESPACE_BYTES = NAMESPACE.bytes


def uuid5_of(*parts: str) -> str:
    """`str(uuid.uuid5(NAMESPACE, "|".join(parts)))`, computed without the `UUID` object.

    The same SHA-1, version and variant bits as RFC 4122 (a test checks it against `uuid.uuid5`
    on random inputs); about 2.5 times faster, which matters for ids derived once each, such as
    alert ids, that no cache can help.
    """
    name = _NAMESPACE_BYTES + "|".join(parts).encode()
    digest = bytearray(hashlib.sha1(name, usedforsecurity=False).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@functools.lru_cache(maxsize=1 << 16)
def derive_id(*parts: str) -> str:
    """A stable id from its parts: the same decision always gets the same id.

    Memoised (a pure function): rule code asks for the same obligation ids on every event of a
    case. Ids asked for once only (alert ids) use `uuid5_of` directly, so they do not push the
    obligation ids out of the cache.
    """
    return uuid5_of(*parts)


@functools.lru_cache(maxsize=256)
def shared_stages(stages: tuple[Stage, ...]) -> tuple[Stage, ...]:
    """One tuple object per sequence of stages: obligations store these, and there are few."""
    return stages


class Outcome(StrEnum):
    """How an obligation closed (metrics label `outcome`)."""

    ON_TIME = "on_time"
    LATE = "late"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class CaseKind(StrEnum):
    """The two aggregates: an incident (keyed by incident_ref) and a crime (by crime_ref)."""

    INCIDENT = "incident"
    CRIME = "crime"


@dataclass(frozen=True, slots=True)
class Refs:
    """References naming an obligation's subject; codes and ids only."""

    incident_ref: str | None = None
    disclosure_id: str | None = None
    crime_ref: str | None = None
    n100_ref: str | None = None


@dataclass(frozen=True, slots=True)
class Obligation:
    """One duty with a deadline; `stages` and `stage_at` say when each warning stage falls due.

    The stages are kept apart from their times (see `stage_times` for the pairs) because a
    rule's list of stages is one shared tuple, and a tuple of pairs per obligation was a fifth
    of the memory an open obligation takes.
    """

    obligation_id: str
    rule_id: str
    ruleset_id: str
    subject: str
    refs: Refs
    severity: Severity
    queue: Queue
    also_notify: tuple[Queue, ...]
    offence_group: OffenceGroup | None
    area: str | None
    reason_code: str
    source: str
    clock_start: datetime
    deadline: datetime
    deadline_basis: str
    calendar: str | None
    stages: tuple[Stage, ...]
    stage_at: tuple[datetime, ...]
    trigger_event_ids: tuple[str, ...]
    cause: Cause | None = None
    considered_event_ids: tuple[str, ...] = ()
    emitted: tuple[Stage, ...] = ()
    undecided: bool = False
    outcome: Outcome | None = None
    closed_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        """Still owed: neither satisfied nor cancelled."""
        return self.outcome is None

    @property
    def pending_late(self) -> bool:
        """Satisfied late, but not yet announced: the clock has not reached `closed_at`.

        Until the clock passes the satisfying event's time, an earlier (possibly on-time)
        satisfying event may still arrive within the lateness window and re-time the closure.
        """
        return self.outcome is Outcome.LATE and Stage.RESOLVED_LATE not in self.emitted

    @property
    def has_work_item(self) -> bool:
        """A warning stage was announced, so a work item is open on the owning queue."""
        return any(stage in WARNING_STAGES for stage in self.emitted)

    @property
    def stage_times(self) -> tuple[tuple[Stage, datetime], ...]:
        """(stage, when it falls due) for each warning stage, earliest first."""
        return tuple(zip(self.stages, self.stage_at, strict=True))

    def next_stage(self) -> tuple[Stage, datetime] | None:
        """The earliest warning stage not yet announced."""
        emitted = self.emitted
        for stage, at in zip(self.stages, self.stage_at, strict=True):
            if stage not in emitted:
                return stage, at
        return None

    def closed(
        self, outcome: Outcome, closed_at: datetime, considered_event_ids: tuple[str, ...]
    ) -> Obligation:
        """A copy closed with `outcome` at `closed_at` (the satisfying events considered)."""
        return _copy_obligation(
            self,
            self.cause,
            considered_event_ids,
            self.emitted,
            self.undecided,
            outcome,
            closed_at,
        )

    def announced(self, emitted: tuple[Stage, ...], undecided: bool) -> Obligation:
        """A copy with the stages announced so far and whether a breach is held undecided."""
        return _copy_obligation(
            self,
            self.cause,
            self.considered_event_ids,
            shared_stages(emitted),
            undecided,
            self.outcome,
            self.closed_at,
        )

    def with_cause(self, cause: Cause | None) -> Obligation:
        """A copy with the cause of a breach, which may only become known later."""
        return _copy_obligation(
            self,
            cause,
            self.considered_event_ids,
            self.emitted,
            self.undecided,
            self.outcome,
            self.closed_at,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form (for faust tables and snapshots)."""
        return {
            "id": self.obligation_id,
            "rule": self.rule_id,
            "rs": self.ruleset_id,
            "subj": self.subject,
            "refs": [
                self.refs.incident_ref,
                self.refs.disclosure_id,
                self.refs.crime_ref,
                self.refs.n100_ref,
            ],
            "sev": self.severity.value,
            "q": self.queue.value,
            "also": [q.value for q in self.also_notify],
            "og": self.offence_group.value if self.offence_group else None,
            "area": self.area,
            "reason": self.reason_code,
            "src": self.source,
            "start": self.clock_start.isoformat(),
            "due": self.deadline.isoformat(),
            "basis": self.deadline_basis,
            "cal": self.calendar,
            "stages": [
                [s.value, at.isoformat()] for s, at in zip(self.stages, self.stage_at, strict=True)
            ],
            "trig": list(self.trigger_event_ids),
            "cause": self.cause.value if self.cause else None,
            "cons": list(self.considered_event_ids),
            "emitted": [s.value for s in self.emitted],
            "undecided": self.undecided,
            "outcome": self.outcome.value if self.outcome else None,
            "closed": self.closed_at.isoformat() if self.closed_at else None,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Obligation:
        """Inverse of `to_dict`."""
        inc, disc, crime, n100 = d["refs"]
        stages = d["stages"]
        og, cause, outcome, closed = d["og"], d["cause"], d["outcome"], d["closed"]
        return make_obligation(
            d["id"],
            d["rule"],
            d["rs"],
            d["subj"],
            Refs(inc, disc, crime, n100),
            _member(Severity, d["sev"]),
            _member(Queue, d["q"]),
            tuple(_member(Queue, q) for q in d["also"]),
            _member(OffenceGroup, og) if og else None,
            d["area"],
            d["reason"],
            d["src"],
            datetime.fromisoformat(d["start"]),
            datetime.fromisoformat(d["due"]),
            d["basis"],
            d["cal"],
            shared_stages(tuple(_member(Stage, s) for s, _ in stages)),
            tuple(datetime.fromisoformat(at) for _, at in stages),
            tuple(d["trig"]),
            _member(Cause, cause) if cause else None,
            tuple(d["cons"]),
            shared_stages(tuple(_member(Stage, s) for s in d["emitted"])),
            d["undecided"],
            _member(Outcome, outcome) if outcome else None,
            datetime.fromisoformat(closed) if closed else None,
        )


@functools.lru_cache(maxsize=1024)
def _member(kind: type[E], value: str) -> E:
    """`kind(value)`, memoised: a table read converts a dozen codes per obligation. A value
    that is not a member raises as `kind(value)` does (exceptions are never cached)."""
    return kind(value)


@dataclass(frozen=True, slots=True)
class CaseState:
    """One aggregate: what is known (`facts`, JSON-able) and what is owed (`obligations`).

    `facts` is treated as immutable: rule code builds a new dict rather than changing one, so a
    state held in a faust table is only ever replaced, never mutated in place.
    """

    kind: CaseKind
    key: str
    facts: Mapping[str, Any] = field(default_factory=dict)
    obligations: Mapping[str, Obligation] = field(default_factory=dict)
    seen: tuple[str, ...] = ()
    purged: tuple[str, ...] = ()
    """Ids of the closed obligations retention dropped from this case, sorted: a compact
    tombstone, so that facts which still imply one never open it again (it would be counted,
    and announced, twice). Kept for as long as the case is."""

    def with_facts(self, **updates: Any) -> CaseState:
        """A copy with some top-level facts replaced."""
        facts = {**self.facts, **updates}
        return make_case(self.kind, self.key, facts, self.obligations, self.seen, self.purged)

    def with_obligation(self, obligation: Obligation) -> CaseState:
        """A copy with one obligation added or replaced."""
        obligations = {**self.obligations, obligation.obligation_id: obligation}
        return make_case(self.kind, self.key, self.facts, obligations, self.seen, self.purged)

    def with_obligations(self, obligations: Mapping[str, Obligation]) -> CaseState:
        """A copy with the whole obligation map replaced."""
        return make_case(self.kind, self.key, self.facts, obligations, self.seen, self.purged)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form; the due-deadline index is rebuilt from this."""
        d: dict[str, Any] = {
            "kind": self.kind.value,
            "key": self.key,
            "facts": dict(self.facts),
            "obligations": [o.to_dict() for o in self.obligations.values()],
            "seen": list(self.seen),
        }
        if self.purged:
            d["purged"] = list(self.purged)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CaseState:
        """Inverse of `to_dict`."""
        obligations = (Obligation.from_dict(o) for o in d["obligations"])
        return make_case(
            _member(CaseKind, d["kind"]),
            d["key"],
            d["facts"],
            {o.obligation_id: o for o in obligations},
            tuple(d["seen"]),
            _purged_ids(d.get("purged")),
        )


def _purged_ids(raw: object) -> tuple[str, ...]:
    """The tombstone of a snapshot; an older snapshot's `true` flag named no ids, so none."""
    if isinstance(raw, list):
        return tuple(str(oid) for oid in raw)
    return ()


# --- cheap copies ---------------------------------------------------------------------------
#
# A frozen dataclass sets each field through `object.__setattr__` in `__init__`, and
# `dataclasses.replace` adds a `getattr` and a keyword argument per field: for the 24 fields of an
# obligation that is microseconds per copy, and the engine makes several copies per event. These
# helpers fill the slots directly through their descriptors: the same frozen objects, equal field
# by field to what the dataclass constructor builds (tests compare the two).

_new = object.__new__


def slot_setter(cls: type, name: str) -> Any:
    """The slot descriptor's setter of one field (bypasses the frozen `__setattr__`)."""
    return getattr(cls, name).__set__


_CASE_SLOTS: tuple[Any, ...] = tuple(
    slot_setter(CaseState, f.name) for f in dataclass_fields(CaseState)
)
_set_obligation_id = slot_setter(Obligation, "obligation_id")
_set_rule_id = slot_setter(Obligation, "rule_id")
_set_ruleset_id = slot_setter(Obligation, "ruleset_id")
_set_subject = slot_setter(Obligation, "subject")
_set_refs = slot_setter(Obligation, "refs")
_set_severity = slot_setter(Obligation, "severity")
_set_queue = slot_setter(Obligation, "queue")
_set_also_notify = slot_setter(Obligation, "also_notify")
_set_offence_group = slot_setter(Obligation, "offence_group")
_set_area = slot_setter(Obligation, "area")
_set_reason_code = slot_setter(Obligation, "reason_code")
_set_source = slot_setter(Obligation, "source")
_set_clock_start = slot_setter(Obligation, "clock_start")
_set_deadline = slot_setter(Obligation, "deadline")
_set_deadline_basis = slot_setter(Obligation, "deadline_basis")
_set_calendar = slot_setter(Obligation, "calendar")
_set_stages = slot_setter(Obligation, "stages")
_set_stage_at = slot_setter(Obligation, "stage_at")
_set_trigger_event_ids = slot_setter(Obligation, "trigger_event_ids")
_set_cause = slot_setter(Obligation, "cause")
_set_considered_event_ids = slot_setter(Obligation, "considered_event_ids")
_set_emitted = slot_setter(Obligation, "emitted")
_set_undecided = slot_setter(Obligation, "undecided")
_set_outcome = slot_setter(Obligation, "outcome")
_set_closed_at = slot_setter(Obligation, "closed_at")


def make_case(
    kind: CaseKind,
    key: str,
    facts: Mapping[str, Any],
    obligations: Mapping[str, Obligation],
    seen: tuple[str, ...],
    purged: tuple[str, ...],
) -> CaseState:
    """`CaseState(kind, key, facts, obligations, seen, purged)` without the dataclass `__init__`."""
    case = _new(CaseState)
    s_kind, s_key, s_facts, s_obligations, s_seen, s_purged = _CASE_SLOTS
    s_kind(case, kind)
    s_key(case, key)
    s_facts(case, facts)
    s_obligations(case, obligations)
    s_seen(case, seen)
    s_purged(case, purged)
    return case


def make_obligation(
    obligation_id: str,
    rule_id: str,
    ruleset_id: str,
    subject: str,
    refs: Refs,
    severity: Severity,
    queue: Queue,
    also_notify: tuple[Queue, ...],
    offence_group: OffenceGroup | None,
    area: str | None,
    reason_code: str,
    source: str,
    clock_start: datetime,
    deadline: datetime,
    deadline_basis: str,
    calendar: str | None,
    stages: tuple[Stage, ...],
    stage_at: tuple[datetime, ...],
    trigger_event_ids: tuple[str, ...],
    cause: Cause | None,
    considered_event_ids: tuple[str, ...],
    emitted: tuple[Stage, ...],
    undecided: bool,
    outcome: Outcome | None,
    closed_at: datetime | None,
) -> Obligation:
    """`Obligation(...)` (every field, in order) without the dataclass `__init__`."""
    ob = _new(Obligation)
    _set_obligation_id(ob, obligation_id)
    _set_rule_id(ob, rule_id)
    _set_ruleset_id(ob, ruleset_id)
    _set_subject(ob, subject)
    _set_refs(ob, refs)
    _set_severity(ob, severity)
    _set_queue(ob, queue)
    _set_also_notify(ob, also_notify)
    _set_offence_group(ob, offence_group)
    _set_area(ob, area)
    _set_reason_code(ob, reason_code)
    _set_source(ob, source)
    _set_clock_start(ob, clock_start)
    _set_deadline(ob, deadline)
    _set_deadline_basis(ob, deadline_basis)
    _set_calendar(ob, calendar)
    _set_stages(ob, stages)
    _set_stage_at(ob, stage_at)
    _set_trigger_event_ids(ob, trigger_event_ids)
    _set_cause(ob, cause)
    _set_considered_event_ids(ob, considered_event_ids)
    _set_emitted(ob, emitted)
    _set_undecided(ob, undecided)
    _set_outcome(ob, outcome)
    _set_closed_at(ob, closed_at)
    return ob


def _copy_obligation(
    old: Obligation,
    cause: Cause | None,
    considered_event_ids: tuple[str, ...],
    emitted: tuple[Stage, ...],
    undecided: bool,
    outcome: Outcome | None,
    closed_at: datetime | None,
) -> Obligation:
    """`old` with its lifecycle fields (the last six) replaced; the definition is shared."""
    ob = _new(Obligation)
    _set_obligation_id(ob, old.obligation_id)
    _set_rule_id(ob, old.rule_id)
    _set_ruleset_id(ob, old.ruleset_id)
    _set_subject(ob, old.subject)
    _set_refs(ob, old.refs)
    _set_severity(ob, old.severity)
    _set_queue(ob, old.queue)
    _set_also_notify(ob, old.also_notify)
    _set_offence_group(ob, old.offence_group)
    _set_area(ob, old.area)
    _set_reason_code(ob, old.reason_code)
    _set_source(ob, old.source)
    _set_clock_start(ob, old.clock_start)
    _set_deadline(ob, old.deadline)
    _set_deadline_basis(ob, old.deadline_basis)
    _set_calendar(ob, old.calendar)
    _set_stages(ob, old.stages)
    _set_stage_at(ob, old.stage_at)
    _set_trigger_event_ids(ob, old.trigger_event_ids)
    _set_cause(ob, cause)
    _set_considered_event_ids(ob, considered_event_ids)
    _set_emitted(ob, emitted)
    _set_undecided(ob, undecided)
    _set_outcome(ob, outcome)
    _set_closed_at(ob, closed_at)
    return ob


# --- effects: what a step asks the driver to do -------------------------------------------


@dataclass(frozen=True, slots=True)
class ObligationOpened:
    """An obligation began (metrics: opened, open gauge)."""

    rule_id: str
    offence_group: OffenceGroup | None
    area: str | None


@dataclass(frozen=True, slots=True)
class ObligationRelabelled:
    """A fact read later revised an open obligation's offence group or area (`revise`): what
    counted its opening under the old labels moves it to the new ones."""

    rule_id: str
    offence_group: OffenceGroup | None
    area: str | None
    was_offence_group: OffenceGroup | None
    was_area: str | None


@dataclass(frozen=True, slots=True)
class ObligationClosed:
    """An obligation ended (metrics: closed by outcome; measures: by cause and closing event).

    `event_ids` are the obligation's considered events, so the compliance measures can tell an
    N100 obligation closed by an N100 from one closed by a crime record.
    """

    rule_id: str
    outcome: Outcome
    offence_group: OffenceGroup | None
    area: str | None
    cause: Cause | None = None
    event_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Observation:
    """A measured duration for a histogram, e.g. receipt-to-record time by offence group."""

    name: Literal["time_to_record", "time_to_referral"]
    offence_group: OffenceGroup
    area: str | None
    seconds: float
    within_24h: bool


@dataclass(frozen=True, slots=True)
class WorkItemClosed:
    """Remove an item from its queue (a tombstone on the compacted work-queue topic)."""

    queue: Queue
    item_id: str
