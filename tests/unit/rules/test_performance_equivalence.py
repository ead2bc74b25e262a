"""The engine's shortcuts change nothing it decides or emits.

The engine skips a family whose facts an event did not change (`RuleFamily.reads`), builds
alerts and work items without re-validating values already in their final form, derives ids
without the `uuid.UUID` object, copies frozen state without `dataclasses.replace`, shares equal
flag dicts between cases and packs idle cases into bytes (`streams.rules.store`). Each shortcut
is checked here against the plain way of doing the same thing, on random histories that use
every event type: same bytes out, same state. The drivers' garbage-collector settings
(`streams.runtime`) are checked at the end.
"""

from __future__ import annotations

import dataclasses
import gc
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas.alerts import AlertEvent, WorkItem
from schemas.codes import (
    ActorRole,
    CancellationClass,
    ClockKind,
    ClosureOutcome,
    IncidentCategory,
    N100Reason,
    OffenceGroup,
    Queue,
    ReviewType,
    RiskLevel,
    Severity,
    Stage,
)
from schemas.events import CrimeFlags, Envelope, EqualityFields, IncidentFlags
from streams.rules import engine as engine_module
from streams.rules import facts as facts_module
from streams.rules.duties import RuleContext
from streams.rules.engine import DEFAULT_RETENTION, Effect, Engine, build_alert, work_items
from streams.rules.facts import absorb, route
from streams.rules.families import ALL_FAMILIES
from streams.rules.family import RuleFamily
from streams.rules.model import (
    NAMESPACE,
    CaseKind,
    CaseState,
    Obligation,
    Outcome,
    Refs,
    make_case,
    make_obligation,
    uuid5_of,
)
from streams.rules.replayer import Replayer
from streams.rules.store import ZDICT_SAMPLES, CaseStore, pack_case, unpack_case
from streams.runtime import restore_gc, tune_gc
from tests.factories import make_event
from tests.unit.rules.test_properties import END_MARGIN, LATENESS, MINUTE, histories

EQUIVALENCE_SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
UNFILTERED = tuple(dataclasses.replace(family, reads=None) for family in ALL_FAMILIES)
"""The same families run after every event, as before `reads` existed."""

# --- histories that use every event type ----------------------------------------------------

offsets = st.integers(min_value=-24 * 60, max_value=8 * 24 * 60)  # minutes from a base event


def _crime_side(draw: st.DrawFn, kind: str, t: datetime, refs: dict[str, str]) -> Envelope:
    group = draw(st.sampled_from([OffenceGroup.RAPE, OffenceGroup.MODERN_SLAVERY, *OffenceGroup]))
    data: dict[str, dict[str, Any]] = {
        "crime.reclassified": {
            "reclassified_at": t,
            "offence_group": group,
            "home_office_code": draw(st.sampled_from(["19C", "106", "8N"])),
            "ratified_by_fcr": draw(st.booleans()),
        },
        "crime.updated": {
            "updated_at": t,
            "equality_fields_present": {"age": draw(st.booleans()), "sex": draw(st.booleans())},
        },
        "crime.filed": {
            "filed_at": t,
            "filed_by_role": draw(
                st.sampled_from([ActorRole.OMU_STAFF, ActorRole.CONTROL_ROOM_SUPERVISOR])
            ),
        },
        "crime.reinstated": {"reinstated_at": t},
        "crime.cancellation_ratified": {
            "ratified_at": t,
            "ratified_by_role": draw(st.sampled_from([ActorRole.FCR, ActorRole.DDM])),
        },
        "crime.cancelled": {
            "cancelled_at": t,
            "cancellation_class": draw(st.sampled_from(CancellationClass)),
            "offence_group": group,
            "decision_maker_role": draw(st.sampled_from([ActorRole.DDM, ActorRole.OMU_STAFF])),
        },
    }
    return make_event(kind, **refs, **data[kind])


def _incident_side(draw: st.DrawFn, kind: str, t: datetime, refs: dict[str, str]) -> Envelope:
    incident = {"incident_ref": refs["incident_ref"]}
    data: dict[str, dict[str, Any]] = {
        "nrm.referral_made": {"referred_at": t, "child_victim": draw(st.booleans())},
        "incident.reviewed": {
            "reviewed_at": t,
            "review_type": draw(st.sampled_from(ReviewType)),
        },
        "safeguarding.assessed": {
            "assessed_at": t,
            "risk_level": draw(st.sampled_from(RiskLevel)),
            "marac_referral": draw(st.booleans()),
        },
        "incident.disclosure_added": {
            "disclosed_at": t,
            "flags": {
                "modern_slavery": draw(st.booleans()),
                "domestic_abuse": draw(st.booleans()),
                "child_victim": draw(st.booleans()),
            },
        },
        "n100.recorded": {
            "n100_ref": f"N100-{draw(st.integers(0, 3))}",
            "recorded_at": t,
            "reason": draw(st.sampled_from(N100Reason)),
        },
        "incident.closed": {
            "closed_at": t,
            "outcome": draw(st.sampled_from(ClosureOutcome)),
            "closing_category": draw(st.sampled_from(IncidentCategory)),
            "linked_crime_refs": draw(st.lists(st.just(refs["crime_ref"]), max_size=1)),
            "supervisor_review": draw(st.booleans()),
        },
    }
    return make_event(kind, **incident, **data[kind])


CRIME_SIDE = (
    "crime.reclassified",
    "crime.updated",
    "crime.filed",
    "crime.reinstated",
    "crime.cancellation_ratified",
    "crime.cancelled",
)
INCIDENT_SIDE = (
    "nrm.referral_made",
    "incident.reviewed",
    "safeguarding.assessed",
    "incident.disclosure_added",
    "n100.recorded",
    "incident.closed",
)


@st.composite
def extra_event(draw: st.DrawFn, base: Envelope, crime_refs: Sequence[str]) -> Envelope:
    """One more event about the base event's incident or one of its crimes, of any type."""
    t = base.time + draw(offsets) * MINUTE
    refs = {
        "incident_ref": base.incident_ref or "INC-X",
        "crime_ref": draw(st.sampled_from(crime_refs)) if crime_refs else "CRI-X",
    }
    kind = draw(st.sampled_from(CRIME_SIDE + INCIDENT_SIDE))
    if kind in CRIME_SIDE:
        return _crime_side(draw, kind, t, refs)
    return _incident_side(draw, kind, t, refs)


@st.composite
def rich_histories(draw: st.DrawFn) -> list[Envelope]:
    """The property tests' histories plus events of every other type, sorted by event time."""
    events = draw(histories())
    crime_refs = sorted({e.crime_ref for e in events if e.crime_ref is not None})
    extras = [
        draw(extra_event(draw(st.sampled_from(events)), crime_refs))
        for _ in range(draw(st.integers(min_value=0, max_value=6)))
    ]
    return sorted([*events, *extras], key=lambda e: e.time)


# --- running --------------------------------------------------------------------------------


def _run(
    events: Sequence[Envelope],
    families: Sequence[RuleFamily] = ALL_FAMILIES,
    *,
    retention: timedelta = DEFAULT_RETENTION,
    max_age: timedelta | None = None,
) -> list[Effect]:
    replayer = Replayer(
        Engine(families, RuleContext(), retention=retention, max_age=max_age), LATENESS
    )
    out: list[Effect] = []
    for event in events:
        out.extend(replayer.push(event))
    out.extend(replayer.finish(max(e.time for e in events) + END_MARGIN))
    return out


def _serialised(effects: Sequence[Effect]) -> bytes:
    """Alerts and work items as their JSON, other effects by repr: the bytes a driver emits."""
    lines = [
        e.model_dump_json() if isinstance(e, (AlertEvent, WorkItem)) else repr(e) for e in effects
    ]
    return "\n".join(lines).encode()


# --- skipping families whose facts did not change -------------------------------------------


@EQUIVALENCE_SETTINGS
@given(
    rich_histories(),
    st.sampled_from([DEFAULT_RETENTION, timedelta(days=1), timedelta(hours=6)]),
    st.sampled_from([None, timedelta(days=2)]),
)
def test_skipping_families__gives_the_output_of_running_every_family_on_every_event(
    events, retention, max_age
):
    """Reconciling only the families whose facts changed emits exactly the same bytes.

    Short retentions purge closed obligations while their cases live on: a family run after the
    purge must then change nothing a skipped one would not (`CaseState.purged`).
    """
    filtered = _run(events, ALL_FAMILIES, retention=retention, max_age=max_age)
    everything = _run(events, UNFILTERED, retention=retention, max_age=max_age)
    assert _serialised(filtered) == _serialised(everything)


class _Tracked(Mapping[str, Any]):
    """Facts that remember which top-level names were read (iterating reads them all)."""

    def __init__(self, facts: Mapping[str, Any], read: set[str]) -> None:
        self._facts = facts
        self._read = read

    def __getitem__(self, name: str) -> Any:
        self._read.add(name)
        return self._facts[name]

    def __iter__(self) -> Iterator[str]:
        self._read.update(self._facts)
        return iter(self._facts)

    def __len__(self) -> int:
        return len(self._facts)

    def __contains__(self, name: object) -> bool:
        if isinstance(name, str):
            self._read.add(name)
        return name in self._facts


@EQUIVALENCE_SETTINGS
@given(rich_histories())
def test_reads__name_every_fact_each_family_reconcile_reads(events):
    """After every event, each family's reconcile reads only the facts its `reads` declares."""
    cases: dict[tuple[CaseKind, str], CaseState] = {}
    ctx = RuleContext()
    for event in events:
        for kind, key in route(event):
            case = absorb(cases.get((kind, key)) or CaseState(kind, key), event)
            for family in ALL_FAMILIES:
                if kind not in family.kinds:
                    continue
                assert family.reads is not None
                read: set[str] = set()
                tracked = make_case(
                    kind, key, _Tracked(case.facts, read), case.obligations, case.seen, ()
                )
                reconciled = family.reconcile(tracked, ctx)
                assert read <= family.reads, f"{family.name} reads undeclared {read - family.reads}"
                case = make_case(
                    kind, key, case.facts, reconciled.obligations, case.seen, case.purged
                )
            cases[(kind, key)] = case


def test_purged__names_what_retention_dropped_and_outlives_the_next_event():
    """A purge leaves the dropped ids on the case; the next event keeps them (and re-opens none)."""
    events = [
        make_event(
            "incident.reported",
            incident_ref="INC-1",
            received_at=datetime(2016, 3, 1, tzinfo=UTC),
        ),
        make_event(
            "incident.closed",
            incident_ref="INC-1",
            closed_at=datetime(2016, 3, 1, 2, tzinfo=UTC),
            outcome=ClosureOutcome.CRIME_RELATED_INCIDENT,
            supervisor_review=True,
        ),
    ]
    engine = Engine(ALL_FAMILIES, RuleContext(), retention=timedelta(days=2))
    for event in events:
        engine.process(event)
    engine.process(
        make_event(
            "safeguarding.assessed",
            incident_ref="INC-1",
            assessed_at=datetime(2016, 3, 4, tzinfo=UTC),
        )
    )
    [dropped] = engine.cases[(CaseKind.INCIDENT, "INC-1")].obligations  # REC-24H, met on time
    engine.advance(engine_module.Clock(datetime(2016, 3, 4, 1, tzinfo=UTC), ClockKind.EVENT_TIME))
    case = engine.cases[(CaseKind.INCIDENT, "INC-1")]
    assert case.purged == (dropped,)
    assert dropped not in case.obligations
    assert case.to_dict()["purged"] == [dropped]
    assert CaseState.from_dict(case.to_dict()) == case
    referred = datetime(2016, 3, 4, 2, tzinfo=UTC)
    engine.process(make_event("nrm.referral_made", incident_ref="INC-1", referred_at=referred))
    after = engine.cases[(CaseKind.INCIDENT, "INC-1")]
    assert after.purged == (dropped,)
    assert dropped not in after.obligations


# --- alerts and work items without re-validation --------------------------------------------


def _validating(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the engine build every alert and work item through the validating constructors."""
    monkeypatch.setattr(engine_module, "_is_trusted", lambda *_: False)
    monkeypatch.setattr(engine_module, "work_items", engine_module._validated_work_items)


@EQUIVALENCE_SETTINGS
@given(rich_histories())
def test_trusted_alerts__are_byte_identical_to_validated_ones(events):
    """Alerts and work items built without validation equal the validated ones, field for field."""
    trusted = _run(events)
    with pytest.MonkeyPatch.context() as monkeypatch:
        _validating(monkeypatch)
        validated = _run(events)
    assert _serialised(trusted) == _serialised(validated)
    assert trusted == validated
    for fast, slow in zip(trusted, validated, strict=True):
        if isinstance(fast, (AlertEvent, WorkItem)):
            assert fast.model_fields_set == slow.model_fields_set
            assert fast.subject.model_fields_set == slow.subject.model_fields_set
            assert type(fast) is type(slow)
            assert fast.model_dump() == slow.model_dump()
        if isinstance(fast, AlertEvent):
            assert fast.evidence.model_fields_set == slow.evidence.model_fields_set


def _obligation(**changes: Any) -> Obligation:
    start = datetime(2016, 3, 1, 9, tzinfo=UTC)
    values: dict[str, Any] = {
        "obligation_id": uuid5_of("REC-24H", "INC-1/D1"),
        "rule_id": "REC-24H",
        "ruleset_id": "hocr-2015",
        "subject": "INC-1/D1",
        "refs": Refs(incident_ref="INC-1", disclosure_id="D1"),
        "severity": Severity.S2,
        "queue": Queue.OMU,
        "also_notify": (Queue.CONTROL_ROOM,),
        "offence_group": OffenceGroup.VIOLENCE,
        "area": "CH-WAR",
        "reason_code": "not_recorded_within_limit",
        "source": "ncrs.crime-records.v1",
        "clock_start": start,
        "deadline": start + timedelta(hours=24),
        "deadline_basis": "elapsed_hours:24",
        "calendar": None,
        "stages": (Stage.DUE_SOON, Stage.BREACHED),
        "stage_at": (start + timedelta(hours=16), start + timedelta(hours=24)),
        "trigger_event_ids": ("EVT-1",),
    }
    values.update(changes)
    return Obligation(**values)


def test_build_alert__with_a_clock_outside_utc__validates_and_normalises_it():
    """A clock in another zone takes the validating path: the alert carries it in UTC."""
    ob = _obligation()
    utc = datetime(2016, 3, 2, 10, tzinfo=UTC)
    local = utc.astimezone(timezone(timedelta(hours=1)))
    ctx = RuleContext()
    by_utc = build_alert(ob, Stage.BREACHED, ctx, utc, ClockKind.EVENT_TIME)
    by_local = build_alert(ob, Stage.BREACHED, ctx, local, ClockKind.EVENT_TIME)
    assert by_local.evidence.clock.tzinfo is UTC
    assert by_local.model_dump_json() == by_utc.model_dump_json()
    local_items = work_items(by_utc, local)
    assert [w.model_dump_json() for w in local_items] == [
        w.model_dump_json() for w in work_items(by_utc, utc)
    ]


@pytest.mark.parametrize(
    ("ctx", "ob"),
    [
        (RuleContext(force_code="not a force"), _obligation()),
        (RuleContext(), _obligation(reason_code="Not A Code")),
        (RuleContext(), _obligation(area="lower-case")),
        (RuleContext(), _obligation(rule_id="rec-24h")),
    ],
)
def test_build_alert__with_an_invalid_code__still_raises(ctx, ob):
    """A code its contract forbids is refused, exactly as the validating constructor does."""
    with pytest.raises(ValidationError):
        build_alert(ob, Stage.BREACHED, ctx, ob.deadline, ClockKind.EVENT_TIME)


# --- ids and copies -------------------------------------------------------------------------


@settings(max_examples=300)
@given(st.lists(st.text(max_size=40), min_size=1, max_size=5))
def test_uuid5_of__equals_uuid5_of_the_joined_parts(parts):
    """The hand-rolled uuid5 is RFC 4122's, byte for byte, for any text (not only ASCII)."""
    assert uuid5_of(*parts) == str(uuid.uuid5(NAMESPACE, "|".join(parts)))


def test_make_obligation__equals_the_dataclass_constructor():
    """Filling the slots directly builds an obligation equal to `Obligation(...)`."""
    ob = _obligation(cause=None)
    values = [getattr(ob, f.name) for f in dataclasses.fields(Obligation)]
    copy = make_obligation(*values)
    assert copy == ob
    assert repr(copy) == repr(ob)
    with pytest.raises(dataclasses.FrozenInstanceError):
        copy.undecided = True  # type: ignore[misc]  # frozen on purpose


def test_obligation_copies__equal_dataclasses_replace():
    """`closed`, `announced` and `with_cause` equal `dataclasses.replace` with the same fields."""
    ob = _obligation()
    at = ob.deadline + timedelta(hours=1)
    assert ob.closed(Outcome.LATE, at, ("EVT-2",)) == dataclasses.replace(
        ob, outcome=Outcome.LATE, closed_at=at, considered_event_ids=("EVT-2",)
    )
    emitted = (Stage.DUE_SOON, Stage.BREACHED)
    assert ob.announced(emitted, True) == dataclasses.replace(ob, emitted=emitted, undecided=True)
    assert ob.with_cause(None) == dataclasses.replace(ob, cause=None)


def test_make_case__equals_the_dataclass_constructor():
    """Filling the slots directly builds a case equal to `CaseState(...)`."""
    ob = _obligation()
    fields = (CaseKind.INCIDENT, "INC-1", {"area": "A1"}, {ob.obligation_id: ob}, ("s|e",), True)
    assert make_case(*fields) == CaseState(*fields)


# --- facts shared between cases -------------------------------------------------------------


@given(
    st.sampled_from([IncidentFlags, CrimeFlags, EqualityFields]).flatmap(
        lambda model: st.builds(model, **dict.fromkeys(model.model_fields, st.booleans()))
    )
)
def test_shared_flag_dicts__equal_the_models_dump(model):
    """A flag or equality set is stored as the one shared dict equal to `model_dump()`."""
    shared = facts_module._bools(model)
    assert shared == model.model_dump()
    assert list(shared) == list(model.model_dump())
    assert facts_module._bools(model.model_copy()) is shared


def test_stage_times__pairs_each_stage_with_its_time():
    """`stage_times` (kept for callers) pairs `stages` with `stage_at`, earliest first."""
    ob = _obligation()
    assert ob.stage_times == tuple(zip(ob.stages, ob.stage_at, strict=True))
    assert ob.next_stage() == (Stage.DUE_SOON, ob.stage_at[0])


# --- the drivers' garbage-collector settings ------------------------------------------------


def test_tune_gc__raises_the_thresholds_and_restore_gc_puts_them_back():
    """`tune_gc` makes collections rarer and freezes start-up objects; `restore_gc` undoes it."""
    before = gc.get_threshold()
    previous = tune_gc(young=12_345, middle=7, old=3)
    try:
        assert gc.get_threshold() == (12_345, 7, 3)
        assert gc.get_freeze_count() > 0
        assert gc.isenabled()
    finally:
        restore_gc(previous)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


# --- cases packed while idle ----------------------------------------------------------------


def _cases_after(events: Sequence[Envelope], **engine_options: Any) -> Engine:
    engine = Engine(ALL_FAMILIES, RuleContext(), **engine_options)
    replayer = Replayer(engine, LATENESS)
    for event in events:
        replayer.push(event)
    replayer.finish(max(e.time for e in events) + timedelta(days=3))
    return engine


@EQUIVALENCE_SETTINGS
@given(rich_histories())
def test_pack_case__unpacks_to_an_equal_case(events):
    """Every case the engine holds packs and unpacks to an equal case, JSON form included."""
    engine = _cases_after(events, hot_cases=None)
    for case in engine.cases.values():
        packed = pack_case(case)
        assert packed is not None
        unpacked = unpack_case(packed)
        assert unpacked == case
        assert unpacked.to_dict() == case.to_dict()
        assert list(unpacked.obligations) == list(case.obligations)


@EQUIVALENCE_SETTINGS
@given(rich_histories(), st.sampled_from([0, 1, 2]))
def test_packing_idle_cases__gives_the_output_of_keeping_every_case_unpacked(events, hot):
    """An engine that packs all but `hot` cases emits the same bytes and holds the same cases."""
    packing = Engine(ALL_FAMILIES, RuleContext(), hot_cases=hot)
    unpacked = Engine(ALL_FAMILIES, RuleContext(), hot_cases=None)
    outputs = []
    for engine in (packing, unpacked):
        replayer = Replayer(engine, LATENESS)
        out: list[Effect] = []
        for event in events:
            out.extend(replayer.push(event))
        out.extend(replayer.finish(max(e.time for e in events) + END_MARGIN))
        outputs.append(_serialised(out))
    assert outputs[0] == outputs[1]
    assert isinstance(packing.cases, CaseStore)
    assert packing.cases.packed >= len(packing.cases) - hot
    assert dict(packing.cases) == dict(unpacked.cases)


def test_case_store__compresses_once_it_has_its_dictionary_samples():
    """After its first packed cases, the store deflates new ones with them as the dictionary."""
    engine = Engine(ALL_FAMILIES, RuleContext(), hot_cases=0)
    for n in range(ZDICT_SAMPLES + 20):
        engine.process(
            make_event(
                "incident.reported",
                incident_ref=f"INC-{n:04d}",
                received_at=datetime(2016, 3, 1, tzinfo=UTC) + n * MINUTE,
            )
        )
    store = engine.cases
    assert isinstance(store, CaseStore)
    key = (CaseKind.INCIDENT, f"INC-{ZDICT_SAMPLES + 19:04d}")
    raw = pack_case(store[key])
    assert raw is not None
    held = store._cold[key]
    assert held[:1] == b"\x01"
    assert len(held) < len(raw) / 2
    assert store[key] == unpack_case(raw)


def test_case_store__keeps_a_case_it_cannot_pack_exactly_as_it_is():
    """A timestamp outside UTC or a fact marshal cannot hold keeps the case unpacked."""
    ob = _obligation(clock_start=datetime(2016, 3, 1, 10, tzinfo=timezone(timedelta(hours=1))))
    odd_time = CaseState(CaseKind.INCIDENT, "INC-1", {}, {ob.obligation_id: ob})
    odd_fact = CaseState(CaseKind.INCIDENT, "INC-2", {"outcome": Outcome.LATE})
    plain = CaseState(CaseKind.INCIDENT, "INC-3", {"flags": {"a": True}, "n": (1, 2.5, None)})
    assert pack_case(odd_time) is None
    assert pack_case(odd_fact) is None
    store = CaseStore(hot_limit=0)
    for case in (odd_time, odd_fact, plain):
        store[(case.kind, case.key)] = case
    assert store.packed == 1
    assert store[(CaseKind.INCIDENT, "INC-1")] is odd_time
    assert store[(CaseKind.INCIDENT, "INC-2")] is odd_fact
    assert store[(CaseKind.INCIDENT, "INC-3")] == plain
    assert store[(CaseKind.INCIDENT, "INC-3")].facts["n"] == (1, 2.5, None)


def test_case_store__behaves_as_a_mapping_of_its_hot_and_packed_cases():
    """Length, membership, lookup, deletion and iteration cover packed and unpacked cases."""
    store = CaseStore(hot_limit=1)
    cases = [CaseState(CaseKind.CRIME, f"CRI-{n}", {"n": n}) for n in range(3)]
    for case in cases:
        store[(case.kind, case.key)] = case
    keys = [(case.kind, case.key) for case in cases]
    assert len(store) == 3
    assert store.packed == 2
    assert list(store) == keys
    assert all(key in store for key in keys)
    assert store.get((CaseKind.CRIME, "missing")) is None
    assert [store[key] for key in keys] == cases
    store[keys[0]] = cases[0]  # storing a packed case unpacks it and makes it the latest
    assert list(store) == [keys[1], keys[2], keys[0]]
    del store[keys[1]]
    del store[keys[0]]
    assert list(store) == [keys[2]]
    with pytest.raises(KeyError):
        del store[keys[0]]
