"""Routing, forwarding, dead letters, the decision clock and retention of one live side.

Plain objects only (tests/unit/live/harness.py): no faust, no Kafka. Event times are in 2016
(tests/factories.py) while the wall clock is in 2024, so every deadline is long past unless a
test says otherwise.
"""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest

from schemas.codes import ClockKind
from schemas.deadletter import DeadLetterReason
from schemas.registry import encode_event
from streams.live.clock import Bound, source_id
from streams.live.processing import ORIGIN_HEADER, TICK_HEADER
from streams.live.topology import partition_for
from streams.rules.engine import DATA_COMPLETENESS
from streams.rules.family import RuleFamily
from streams.rules.model import CaseKind, CaseState, Outcome
from tests.factories import (
    at,
    make_crime_recorded,
    make_crime_recording,
    make_disclosure,
    make_incident_reported,
)
from tests.unit.live.harness import (
    NOW,
    PARTITIONS,
    Side,
    alerts,
    all_caught_up,
    on_topic,
    tick,
)

REC = "REC-24H"


def _incident(ref: str, hours: float = 0.0, **overrides: object) -> object:
    return make_incident_reported(
        incident_ref=ref, received_at=at(hours), disclosures=[make_disclosure()], **overrides
    )


def _crime_for(incident: object, crime_ref: str, recorded_hours: float = 2.0) -> object:
    disclosure = incident.data.disclosures[0]  # type: ignore[attr-defined]
    return make_crime_recording(
        disclosure,
        incident_ref=incident.incident_ref,  # type: ignore[attr-defined]
        crime_ref=crime_ref,
        reported_at=at(0),
        recorded_at=at(recorded_hours),
    )


def _forwarded(side: Side, event: object, key: str, offset: int = 0) -> tuple:  # type: ignore[type-arg]
    """`event` as another agent forwards it: on the side partition of `key`, with its origin."""
    origin = f"1:{offset}:{side.topo.crime_records}".encode()
    return (
        side.topo.side_of(side.kind),
        partition_for(key, PARTITIONS),
        offset,
        encode_event(event),  # type: ignore[arg-type]
        {ORIGIN_HEADER: origin},
    )


def _other_partition(key: str) -> int:
    return (partition_for(key, PARTITIONS) + 1) % PARTITIONS


# --- routing and forwarding ----------------------------------------------------------------


def test_routing__incident_on_its_key_partition_is_applied_here_not_forwarded() -> None:
    """An incident keyed by its incident_ref is applied by the incident side where it arrived."""
    side = Side(CaseKind.INCIDENT)
    out = side.run([on_topic(side.topo, _incident("INC-A"), "INC-A")])
    assert "INC-A" in out.cases
    assert out.forwards == []


def test_routing__incident_on_another_partition_is_forwarded_raw_to_its_key() -> None:
    """A producer that keyed by something else costs a hop: the raw bytes go to the side topic."""
    side = Side(CaseKind.INCIDENT)
    event = _incident("INC-B")
    wrong = _other_partition("INC-B")
    out = side.run([(side.topo.incidents, wrong, 41, encode_event(event), {})])
    assert out.cases == {}
    [fwd] = out.forwards
    assert (fwd.kind, fwd.key, fwd.value) == (CaseKind.INCIDENT, "INC-B", encode_event(event))
    assert (fwd.origin.topic, fwd.origin.partition, fwd.origin.offset) == (
        side.topo.incidents,
        wrong,
        41,
    )


def test_routing__crime_record_is_applied_to_its_crime_and_forwarded_to_its_incident() -> None:
    """A crime record updates both aggregates: the crime here, the incident through a forward."""
    side = Side(CaseKind.CRIME)
    crime = _crime_for(_incident("INC-C"), "CRI-C")
    out = side.run([on_topic(side.topo, crime, "CRI-C")])
    assert set(out.cases) == {"CRI-C"}
    assert [(f.kind, f.key) for f in out.forwards] == [(CaseKind.INCIDENT, "INC-C")]


def test_routing__forwarded_copy_is_applied_on_arrival_and_never_forwarded_again() -> None:
    """The incident side applies a forwarded crime record; its crime half is not sent back."""
    side = Side(CaseKind.INCIDENT)
    crime = _crime_for(_incident("INC-D"), "CRI-D")
    out = side.run([_forwarded(side, crime, "INC-D")])
    assert set(out.cases) == {"INC-D"}
    assert out.forwards == []


def test_routing__dead_letter_of_a_forwarded_copy_names_the_original_input() -> None:
    """A forwarded copy that fails carries the origin header's topic, partition and offset."""
    side = Side(CaseKind.INCIDENT)
    origin = f"2:17:{side.topo.crime_records}".encode()
    out = side.run([(side.topo.incident_side, 0, 5, b"{not json", {ORIGIN_HEADER: origin})])
    [(letter, _)] = out.dead_letters
    assert (letter.origin.topic, letter.origin.partition, letter.origin.offset) == (
        side.topo.crime_records,
        2,
        17,
    )


# --- bad input -----------------------------------------------------------------------------


def _letter_reason(side: Side, message: tuple) -> DeadLetterReason:  # type: ignore[type-arg]
    out = side.run([message])
    [(letter, _)] = out.dead_letters
    return letter.reason


def test_bad_input__tombstone_is_dead_lettered() -> None:
    """A null value on an input topic is refused, not applied."""
    side = Side(CaseKind.INCIDENT)
    assert _letter_reason(side, (side.topo.incidents, 0, 0, None, {})) is (
        DeadLetterReason.INVALID_JSON
    )


def test_bad_input__event_on_the_wrong_topic_is_dead_lettered() -> None:
    """An incident sent to the crime-records topic is refused as wrong_topic."""
    side = Side(CaseKind.CRIME)
    event = encode_event(_incident("INC-E"))
    assert _letter_reason(side, (side.topo.crime_records, 0, 0, event, {})) is (
        DeadLetterReason.WRONG_TOPIC
    )


def test_bad_input__event_far_in_the_future_is_dead_lettered() -> None:
    """An event stamped beyond the clock-skew tolerance is refused."""
    side = Side(CaseKind.INCIDENT)
    event = make_incident_reported(incident_ref="INC-F", received_at=NOW + timedelta(hours=1))
    assert _letter_reason(side, on_topic(side.topo, event, "INC-F")) is (
        DeadLetterReason.FUTURE_TIMESTAMP
    )


def _broken_family() -> RuleFamily:
    def reconcile(case: CaseState, ctx: object) -> CaseState:
        if case.key == "INC-BOOM":
            raise RuntimeError("core bug quoting a victim's name: Jane Placeholder")
        return case

    return RuleFamily("broken", (), frozenset({CaseKind.INCIDENT}), reconcile, "test")


def test_bad_input__core_failure_is_dead_lettered_with_type_only_and_the_batch_continues() -> None:
    """An exception in the rules core dead-letters that event; its message never leaves."""
    side = Side(CaseKind.INCIDENT, families=(_broken_family(),))
    out = side.run(
        [
            on_topic(side.topo, _incident("INC-BOOM"), "INC-BOOM"),
            on_topic(side.topo, _incident("INC-FINE"), "INC-FINE", offset=1),
        ]
    )
    [(letter, _)] = out.dead_letters
    assert letter.reason is DeadLetterReason.PROCESSING_ERROR
    assert letter.error == "unexpected RuntimeError in the rules core"
    assert "Jane" not in letter.model_dump_json()
    assert "INC-FINE" in out.cases
    dead = side.registry.get_sample_value("ncrs_dead_letters_total", {"reason": "processing_error"})
    assert dead == 1.0


def test_bad_input__schema_violation_detail_names_fields_not_values() -> None:
    """A wrong-typed field's dead letter says where it failed, never what it held."""
    side = Side(CaseKind.INCIDENT)
    raw = encode_event(_incident("INC-G")).replace(
        b'"channel":"emergency_999"', b'"channel":"Jane Placeholder"'
    )
    out = side.run([(side.topo.incidents, partition_for("INC-G", PARTITIONS), 0, raw, {})])
    [(letter, _)] = out.dead_letters
    assert letter.reason is DeadLetterReason.SCHEMA_VIOLATION
    assert "channel" in letter.error
    assert "Jane" not in letter.error
    assert base64.b64decode(letter.original_b64) == raw  # the bytes are kept (restricted topic)


# --- the decision clock --------------------------------------------------------------------


def test_clock__nothing_is_decided_before_every_input_has_reported() -> None:
    """Without ticks the partition clock is unknown: an overdue incident raises no alert yet."""
    side = Side(CaseKind.INCIDENT)
    out = side.run([on_topic(side.topo, _incident("INC-H"), "INC-H")])
    assert alerts(out) == []
    later = side.tick_all(all_caught_up(side.topo, NOW))
    assert (REC, "breached") in alerts(later)


def test_clock__applied_event_is_advanced_at_once_when_the_clock_is_known() -> None:
    """Once the clock is known, an event whose deadline has passed alerts in its own batch."""
    side = Side(CaseKind.INCIDENT)
    side.tick_all(all_caught_up(side.topo, NOW))
    out = side.run([on_topic(side.topo, _incident("INC-I"), "INC-I")])
    assert {(REC, "due_soon"), (REC, "breached"), (REC, "escalated")} <= set(alerts(out))
    assert all(a.evidence.clock_kind is ClockKind.WALL_CLOCK for a, _ in out.alerts)


def test_clock__tick_missing_one_input_partition_decides_nothing() -> None:
    """A partition's clock waits for a bound from every input partition of the fleet."""
    side = Side(CaseKind.INCIDENT)
    side.run([on_topic(side.topo, _incident("INC-J"), "INC-J")])
    bounds = {s: Bound(NOW, ClockKind.WALL_CLOCK) for s in side.topo.clock_sources}
    bounds.pop(source_id((side.topo.canonical[side.topo.victim_contact], 1)))
    assert alerts(side.tick_all(tick(NOW, bounds))) == []


def test_clock__lagging_crime_input_holds_the_breach_its_backlog_would_satisfy() -> None:
    """Catch-up: while crime records lag at T0+2h, an incident due at T0+24h is not breached;
    the on-time crime from the backlog then closes it and no alert is ever raised."""
    side = Side(CaseKind.INCIDENT)
    lagging = source_id((side.topo.canonical[side.topo.crime_records], 0))
    bounds: dict[str, Bound | None] = {
        s: Bound(NOW, ClockKind.WALL_CLOCK) for s in side.topo.clock_sources
    }
    bounds[lagging] = Bound(at(2), ClockKind.EVENT_TIME_WATERMARK)
    side.tick_all(tick(NOW, bounds))
    event = _incident("INC-K")
    held = side.run([on_topic(side.topo, event, "INC-K")])
    assert alerts(held) == []
    side.run([_forwarded(side, _crime_for(event, "CRI-K", recorded_hours=3), "INC-K")])
    after = side.tick_all(all_caught_up(side.topo, NOW + timedelta(seconds=10)))
    assert [a for a in alerts(after) if a[0] == REC] == []


def test_clock__lagging_input_bounds_decisions_with_event_time_watermark_kind() -> None:
    """A breach decided while an input lags says so: the clock was the inputs' event time."""
    side = Side(CaseKind.INCIDENT)
    bounds: dict[str, Bound | None] = {
        s: Bound(at(30), ClockKind.EVENT_TIME_WATERMARK) for s in side.topo.clock_sources
    }
    side.tick_all(tick(NOW, bounds))
    out = side.run([on_topic(side.topo, _incident("INC-L"), "INC-L")])
    breached = [a for a, _ in out.alerts if a.rule_id == REC and a.stage.value == "breached"]
    assert breached
    assert breached[0].evidence.clock_kind is ClockKind.EVENT_TIME_WATERMARK
    assert (REC, "escalated") not in alerts(out)  # due at T0+48h, beyond the clock


def test_clock__tick_reads_only_the_cases_that_are_due() -> None:
    """A tick pops due cases from the index: cases with later deadlines are not even read."""
    side = Side(CaseKind.INCIDENT)
    early = make_incident_reported(
        incident_ref="INC-EARLY",
        received_at=NOW - timedelta(days=2),
        disclosures=[make_disclosure()],
    )
    late = make_incident_reported(
        incident_ref="INC-LATE",
        received_at=NOW - timedelta(hours=1),
        disclosures=[make_disclosure()],
    )
    side.run([on_topic(side.topo, early, "INC-EARLY"), on_topic(side.topo, late, "INC-LATE", 1)])
    side.reads.clear()
    out = side.tick_all(all_caught_up(side.topo, NOW))
    assert side.reads == ["INC-EARLY"]
    assert (REC, "breached") in alerts(out)


def test_clock__invalid_tick_is_ignored_and_the_agent_goes_on() -> None:
    """A malformed tick on the side topic changes nothing and raises nothing."""
    side = Side(CaseKind.INCIDENT)
    out = side.run(
        [
            (side.topo.incident_side, 0, 0, b"[1, 2]", {TICK_HEADER: b"1"}),
            on_topic(side.topo, _incident("INC-M"), "INC-M"),
        ]
    )
    assert "INC-M" in out.cases


# --- retention on the event-time horizon ---------------------------------------------------


def test_retention__crime_recorded_before_its_incident_is_kept_until_the_incident_comes() -> None:
    """Regression: the incident case holding only a forwarded crime (events in 2016, wall clock
    in 2024) was purged at once, so the later incident breached REC-24H although recorded."""
    side = Side(CaseKind.INCIDENT)
    side.tick_all(all_caught_up(side.topo, NOW))
    event = _incident("INC-N")
    side.run([_forwarded(side, _crime_for(event, "CRI-N"), "INC-N")])
    assert side.case("INC-N") is not None
    out = side.run([on_topic(side.topo, event, "INC-N")])
    assert [a for a in alerts(out) if a[0] == REC] == []


def test_retention__idle_case_is_purged_once_the_event_time_horizon_passes_retention() -> None:
    """Purging follows the latest event time applied on the partition, not the wall clock."""
    side = Side(CaseKind.INCIDENT, retention=timedelta(days=1))
    side.tick_all(all_caught_up(side.topo, NOW))
    crime = make_crime_recorded(
        crime_ref="CRI-O", incident_ref="INC-O", recorded_at=NOW - timedelta(days=10)
    )
    side.run([_forwarded(side, crime, "INC-O")])
    case = side.case("INC-O")
    assert case is not None
    partition = partition_for("INC-O", PARTITIONS)
    kept, _ = side.proc.advance_case(case, partition, side.proc.clock(partition))  # type: ignore[arg-type]
    assert kept is not None
    side.proc.extend_horizon(partition, NOW - timedelta(days=8))
    purged, _ = side.proc.advance_case(case, partition, side.proc.clock(partition))  # type: ignore[arg-type]
    assert purged is None


@pytest.mark.parametrize("horizon_days", [0, 3])
def test_retention__widened_by_the_distance_from_clock_to_horizon(horizon_days: int) -> None:
    """retention_at(p, now) = retention + (now - horizon), never less than retention."""
    side = Side(CaseKind.INCIDENT, retention=timedelta(days=1))
    side.proc.extend_horizon(0, NOW - timedelta(days=horizon_days))
    assert side.proc.retention_at(0, NOW) == timedelta(days=1 + horizon_days)
    assert side.proc.retention_at(1, NOW) == timedelta(days=1)


def _same_partition(key: str, prefix: str) -> str:
    """A key of `prefix` that hashes to the partition of `key`."""
    return next(
        f"{prefix}{i}"
        for i in range(1000)
        if partition_for(f"{prefix}{i}", PARTITIONS) == partition_for(key, PARTITIONS)
    )


def test_max_age__expired_obligation_closes_at_clock_start_plus_max_age_as_in_replay() -> None:
    """Regression: the max age widened by the clock's distance from the horizon shifted live's
    expiry instant, so the obligation closed later than in replay, after a breach replay never
    announces. Now it expires at clock start + max age, after the due_soon warning only."""
    side = Side(CaseKind.INCIDENT, max_age=timedelta(hours=22))
    start = NOW - timedelta(hours=100)
    outputs = [side.tick_all(all_caught_up(side.topo, start + timedelta(hours=1)))]
    first = make_incident_reported(
        incident_ref="INC-X", received_at=start, disclosures=[make_disclosure()]
    )
    other = _same_partition("INC-X", "INC-Y")
    later = make_incident_reported(
        incident_ref=other, received_at=start + timedelta(hours=31), disclosures=[]
    )
    outputs.append(side.run([on_topic(side.topo, first, "INC-X")]))
    outputs.append(side.run([on_topic(side.topo, later, other)]))  # horizon: start + 31 h
    outputs.append(side.tick_all(all_caught_up(side.topo, start + timedelta(hours=35))))
    case = side.case("INC-X")
    assert case is not None
    (ob,) = [o for o in case.obligations.values() if o.rule_id == REC]
    assert (ob.outcome, ob.closed_at) == (Outcome.EXPIRED, start + timedelta(hours=22))
    stages = [
        alert.stage.value
        for out in outputs
        for alert, _ in out.alerts
        if alert.rule_id == REC and alert.subject.incident_ref == "INC-X"
    ]
    assert stages == ["due_soon"]


def test_max_age__not_expired_while_the_horizon_is_short_of_it_whatever_the_wall_clock() -> None:
    """History eight years old is judged on its own times: no expiry until events move past."""
    side = Side(CaseKind.INCIDENT, max_age=timedelta(hours=22))
    side.tick_all(all_caught_up(side.topo, NOW))
    side.run([on_topic(side.topo, _incident("INC-Z"), "INC-Z")])
    side.tick_all(all_caught_up(side.topo, NOW + timedelta(minutes=1)))
    case = side.case("INC-Z")
    assert case is not None
    assert [o.outcome for o in case.obligations.values() if o.rule_id == REC] == [None]


# --- source silence ------------------------------------------------------------------------


def _silences(out: object) -> list[str]:
    """Source topics of the data-completeness alerts raised (stage undecided) in a batch."""
    return sorted(
        alert.subject.source_topic or ""
        for alert, _ in out.alerts  # type: ignore[attr-defined]
        if alert.rule_id == DATA_COMPLETENESS and alert.stage.value == "undecided"
    )


def _stale_gauge(side: Side, source: str) -> float | None:
    return side.registry.get_sample_value("ncrs_source_stale", {"source": source})


def test_sources__feed_silent_since_start_is_stale_once_the_limit_passed_the_first_tick() -> None:
    """Regression: a feed down when the worker started was never judged. Now the crime side
    counts each of its topics as heard at its first tick and declares the silent ones stale
    after the 15-minute limit, but not the one that spoke meanwhile."""
    side = Side(CaseKind.CRIME)
    assert _silences(side.tick_all(all_caught_up(side.topo, NOW))) == []
    record = _crime_for(_incident("INC-T"), "CRI-T")
    side.run([on_topic(side.topo, record, "CRI-T")], now=NOW + timedelta(minutes=10))
    assert _silences(side.tick_all(all_caught_up(side.topo, NOW + timedelta(minutes=15)))) == []
    later = side.tick_all(all_caught_up(side.topo, NOW + timedelta(minutes=16)))
    assert _silences(later) == ["ncrs.cancellations.v1", "ncrs.victim-contact.v1"]
    assert _stale_gauge(side, "ncrs.victim-contact.v1") == 1
    assert _stale_gauge(side, "ncrs.crime-records.v1") == 0
    again = side.tick_all(all_caught_up(side.topo, NOW + timedelta(minutes=30)))
    assert _silences(again) == ["ncrs.crime-records.v1"]  # one alert per silence, not per tick


def test_sources__breach_that_a_never_heard_feed_would_satisfy_is_held_undecided() -> None:
    """A victim-care duty whose feed has never spoken is held undecided, not breached."""
    side = Side(CaseKind.CRIME)
    side.tick_all(all_caught_up(side.topo, NOW))
    side.tick_all(all_caught_up(side.topo, NOW + timedelta(minutes=16)))
    record = _crime_for(_incident("INC-U"), "CRI-U")
    out = side.run([on_topic(side.topo, record, "CRI-U")], now=NOW + timedelta(minutes=17))
    case = side.case("CRI-U")
    assert case is not None
    held = [o for o in case.obligations.values() if o.source == "ncrs.victim-contact.v1"]
    assert held
    assert all(o.undecided and o.is_open for o in held)
    breached = {
        alert.rule_id for alert, _ in out.alerts if alert.stage.value in ("breached", "escalated")
    }
    assert breached.isdisjoint(o.rule_id for o in held)


def test_sources__incident_side_judges_only_the_incident_topic_it_consumes() -> None:
    """Crime-side topics are not the incident agent's to judge (it never sees them arrive)."""
    side = Side(CaseKind.INCIDENT)
    side.tick_all(all_caught_up(side.topo, NOW))
    out = side.tick_all(all_caught_up(side.topo, NOW + timedelta(hours=1)))
    assert _silences(out) == ["ncrs.incidents.v1"]


def test_sources__old_events_arriving_are_not_silence() -> None:
    """Staleness is about arrival on the wall clock: an eight-year-old event that has just
    arrived keeps its topic fresh, and only the topics that sent nothing go stale."""
    side = Side(CaseKind.CRIME)
    side.tick_all(all_caught_up(side.topo, NOW))
    record = _crime_for(_incident("INC-V"), "CRI-V")
    side.run([on_topic(side.topo, record, "CRI-V")], now=NOW + timedelta(minutes=14))
    out = side.tick_all(all_caught_up(side.topo, NOW + timedelta(minutes=20)))
    assert "ncrs.crime-records.v1" not in _silences(out)


# --- progress for the ticks ----------------------------------------------------------------


def test_progress__inputs_report_next_offset_and_latest_event_time_side_topics_none() -> None:
    """Each input partition read reports offset+1 and its latest event time; a dead-lettered
    input moves the offset only; forwards and ticks on the side topic report nothing."""
    side = Side(CaseKind.INCIDENT)
    older = _incident("INC-P", hours=-5)
    newer = _incident("INC-Q", hours=3)
    p = partition_for("INC-P", PARTITIONS)
    out = side.run(
        [
            (side.topo.incidents, p, 10, encode_event(newer), {}),
            (side.topo.incidents, p, 11, encode_event(older), {}),
            (side.topo.incidents, p, 12, b"garbage", {}),
            (side.topo.incident_side, p, 99, all_caught_up(side.topo, NOW), {TICK_HEADER: b"1"}),
        ]
    )
    assert out.progress == {("ncrs.incidents.v1", p): (13, at(3))}


# --- source metrics ------------------------------------------------------------------------


def _arrival(side: Side, topic: str) -> float | None:
    labels = {"topic": topic}
    return side.registry.get_sample_value("ncrs_source_last_arrival_timestamp_seconds", labels)


def test_source_metrics__arrival_is_the_batch_wall_clock_not_the_event_time() -> None:
    """A backlog event eight years old moves the topic's arrival gauge to the batch's wall
    clock, and its age shows in the event-time lag instead."""
    side = Side(CaseKind.INCIDENT)
    later = NOW + timedelta(minutes=7)
    side.run([on_topic(side.topo, _incident("INC-R"), "INC-R")], now=later)
    assert _arrival(side, "ncrs.incidents.v1") == later.timestamp()
    lag = side.registry.get_sample_value(
        "ncrs_event_time_lag_seconds", {"topic": "ncrs.incidents.v1"}
    )
    assert lag == (later - at(0)).total_seconds()


def test_source_metrics__arrival_moves_only_for_the_topic_that_spoke() -> None:
    """A crime record arriving leaves the other input topics at the worker's start time."""
    side = Side(CaseKind.CRIME)
    started = _arrival(side, "ncrs.cancellations.v1")
    side.run([on_topic(side.topo, _crime_for(_incident("INC-S"), "CRI-S"), "CRI-S")])
    assert _arrival(side, "ncrs.crime-records.v1") == NOW.timestamp()
    assert _arrival(side, "ncrs.cancellations.v1") == started


def test_source_metrics__dead_lettered_input_is_not_an_arrival() -> None:
    """Only an event the worker could read counts as its source speaking; garbage is a dead
    letter (NcrsDeadLettersHigh), so a feed sending nothing else still looks silent."""
    side = Side(CaseKind.INCIDENT)
    started = _arrival(side, "ncrs.incidents.v1")
    side.run([(side.topo.incidents, 0, 0, b"garbage", {})], now=NOW + timedelta(hours=1))
    assert _arrival(side, "ncrs.incidents.v1") == started
