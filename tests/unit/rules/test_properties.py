"""Properties of the whole engine with every rule family (issue 3, item 8).

Random but valid histories (incidents with disclosures of random groups and victims, crime records
at random delays, N100s, cancellations, notifications, referrals, closures, safeguarding) are run
replay-style through `streams.rules.replayer.Replayer` (a reorder buffer releasing events in
event-time order once the watermark, the latest event time seen minus the allowed lateness, has
passed them), and at the end to well past every deadline. Then:

(a) any arrival order within the lateness window gives the same final alerts (ids, stages and
    content, apart from which clock noticed them);
(b) re-delivering events changes nothing;
(c) the same input twice gives byte-identical output;
(d) a snapshot and restore midway gives the output of an uninterrupted run.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.alerts import AlertEvent, WorkItem
from schemas.codes import (
    ActorRole,
    AviType,
    CancellationClass,
    ClosureOutcome,
    IncidentCategory,
    N100Outcome,
    N100Reason,
    NotificationOutcome,
    NotificationType,
    OffenceGroup,
    ReferralStatus,
    RiskLevel,
)
from schemas.events import Envelope
from streams.rules.duties import RuleContext
from streams.rules.engine import Effect, Engine
from streams.rules.families import ALL_FAMILIES
from streams.rules.replayer import Replayer
from tests.factories import (
    T0,
    make_cancellation_ratified,
    make_crime_cancelled,
    make_crime_recorded,
    make_crime_reinstated,
    make_disclosure,
    make_disclosure_added,
    make_incident_closed,
    make_incident_reported,
    make_n100_recorded,
    make_n100_resolved,
    make_safeguarding_assessed,
    make_victim_care_referral,
    make_victim_notified,
)

LATENESS = timedelta(hours=6)
END_MARGIN = timedelta(days=40)
"""The final advance goes this far past the last event: past every deadline and escalation."""

HO_CODE = {
    OffenceGroup.RAPE: "19C",
    OffenceGroup.OTHER_SEXUAL: "20",
    OffenceGroup.VIOLENCE: "8N",
    OffenceGroup.ROBBERY: "34",
    OffenceGroup.PUBLIC_ORDER: "9",
}
GROUPS = tuple(HO_CODE)
AREAS = ("A1", "A2")
MINUTE = timedelta(minutes=1)

PROPERTY_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

# --- histories ------------------------------------------------------------------------------

delays = st.integers(min_value=0, max_value=6 * 24 * 60)  # minutes, up to six days
maybe_delay = st.none() | delays


@st.composite
def crime_side(
    draw: st.DrawFn, crime_ref: str, incident_ref: str, group: OffenceGroup, t: datetime
) -> list[Envelope]:
    """What may happen to a recorded crime after `t`: cancellation, notification, referral."""
    events: list[Envelope] = []
    refs = {"crime_ref": crime_ref, "incident_ref": incident_ref}
    referral = draw(maybe_delay)
    if referral is not None:
        status = draw(st.sampled_from(ReferralStatus))
        events.append(make_victim_care_referral(**refs, at=t + referral * MINUTE, status=status))
    cancel = draw(maybe_delay)
    if cancel is not None:
        cancelled_at = t + cancel * MINUTE
        events.append(
            make_crime_cancelled(
                **refs,
                cancelled_at=cancelled_at,
                cancellation_class=draw(st.sampled_from(CancellationClass)),
                avi_present=draw(st.booleans()),
                avi_type=draw(st.sampled_from(AviType)),
                decision_maker_role=draw(
                    st.sampled_from([ActorRole.DDM, ActorRole.FCR, ActorRole.OMU_STAFF])
                ),
                offence_group=group,
            )
        )
        notify = draw(maybe_delay)
        if notify is not None:
            events.append(
                make_victim_notified(
                    **refs,
                    notified_at=cancelled_at + notify * MINUTE,
                    notification_type=draw(st.sampled_from(NotificationType)),
                    outcome=draw(st.sampled_from(NotificationOutcome)),
                )
            )
        fix = draw(st.sampled_from([None, "ratified", "reinstated"]))
        fix_at = cancelled_at + draw(delays) * MINUTE
        if fix == "ratified":
            events.append(make_cancellation_ratified(**refs, ratified_at=fix_at))
        elif fix == "reinstated":
            events.append(make_crime_reinstated(**refs, reinstated_at=fix_at))
    return events


@st.composite
def incident_history(draw: st.DrawFn, n: int) -> list[Envelope]:
    """One incident with one or two disclosures and whatever followed them."""
    incident_ref = f"INC-{n}"
    received = T0 + draw(st.integers(min_value=0, max_value=3 * 24 * 60)) * MINUTE
    area = draw(st.sampled_from(AREAS))
    domestic = draw(st.booleans())
    disclosures = []
    for j in range(draw(st.integers(min_value=1, max_value=2))):
        group = draw(st.sampled_from(GROUPS))
        victims = [f"V-{n}-{j}-{k}" for k in range(draw(st.integers(min_value=1, max_value=2)))]
        disclosures.append((f"D-{n}-{j}", group, victims))
    later = draw(st.booleans())  # the last disclosure was added later by the attending officer
    initial = disclosures[:-1] if later and len(disclosures) > 1 else disclosures
    flags = {
        "domestic_abuse": domestic,
        "rape_alleged": any(g is OffenceGroup.RAPE for _, g, _ in initial),
        "sexual": any(g in (OffenceGroup.RAPE, OffenceGroup.OTHER_SEXUAL) for _, g, _ in initial),
    }
    events: list[Envelope] = [
        make_incident_reported(
            incident_ref=incident_ref,
            received_at=received,
            area=area,
            flags=flags,
            opening_category=IncidentCategory.DOMESTIC_ABUSE
            if domestic
            else IncidentCategory.CRIME,
            disclosures=[
                make_disclosure(disclosure_id=d, offence_group=g, victims=v) for d, g, v in initial
            ],
        )
    ]
    starts = {d: received for d, _, _ in initial}
    if len(initial) < len(disclosures):
        d, g, v = disclosures[-1]
        added_at = received + draw(delays) * MINUTE
        starts[d] = added_at
        events.append(
            make_disclosure_added(
                incident_ref=incident_ref,
                disclosed_at=added_at,
                disclosure=make_disclosure(disclosure_id=d, offence_group=g, victims=v),
                flags={"rape_alleged": g is OffenceGroup.RAPE},
            )
        )
    for j, (did, group, victims) in enumerate(disclosures):
        start = starts[did]
        if group is OffenceGroup.RAPE and draw(st.booleans()):
            n100_ref = f"N100-{n}-{j}"
            n100_at = start + draw(delays) * MINUTE
            refs = {"incident_ref": incident_ref, "n100_ref": n100_ref, "disclosure_id": did}
            events.append(
                make_n100_recorded(
                    **refs, recorded_at=n100_at, reason=draw(st.sampled_from(N100Reason))
                )
            )
            resolve = draw(maybe_delay)
            if resolve is not None:
                events.append(
                    make_n100_resolved(
                        **refs,
                        resolved_at=n100_at + resolve * MINUTE,
                        outcome=draw(
                            st.sampled_from(
                                [N100Outcome.TRANSFERRED, N100Outcome.RETAINED_FCR_REASON]
                            )
                        ),
                    )
                )
            continue
        for k, victim in enumerate(victims):
            delay = draw(maybe_delay)
            if delay is None:
                continue
            recorded_at = start + delay * MINUTE
            crime_ref = f"CRI-{n}-{j}-{k}"
            recorded_group = draw(st.sampled_from([group, group, OffenceGroup.VIOLENCE]))
            events.append(
                make_crime_recorded(
                    crime_ref=crime_ref,
                    incident_ref=incident_ref,
                    victim_pseudo_id=victim,
                    disclosure_ids=[did],
                    reported_at=start,
                    recorded_at=recorded_at,
                    offence_group=recorded_group,
                    home_office_code=HO_CODE[recorded_group],
                    area=area,
                    flags={"domestic_abuse": domestic},
                )
            )
            events.extend(draw(crime_side(crime_ref, incident_ref, recorded_group, recorded_at)))
    if domestic and draw(st.booleans()):
        events.append(
            make_safeguarding_assessed(
                incident_ref=incident_ref,
                assessed_at=received + draw(delays) * MINUTE,
                risk_level=draw(st.sampled_from(RiskLevel)),
            )
        )
    close = draw(maybe_delay)
    if close is not None:
        events.append(
            make_incident_closed(
                incident_ref=incident_ref,
                closed_at=received + close * MINUTE,
                outcome=draw(st.sampled_from(ClosureOutcome)),
                closing_category=draw(st.sampled_from(IncidentCategory)),
                supervisor_review=draw(st.booleans()),
            )
        )
    return events


@st.composite
def histories(draw: st.DrawFn) -> list[Envelope]:
    """Events of one to three incidents, sorted by event time (ties by generation order)."""
    events = [
        e
        for n in range(draw(st.integers(min_value=1, max_value=3)))
        for e in draw(incident_history(n))
    ]
    return sorted(events, key=lambda e: e.time)


@st.composite
def within_lateness(draw: st.DrawFn, events: Sequence[Envelope]) -> list[Envelope]:
    """An arrival order in which every event is later than the watermark when it arrives.

    Sorting by event time plus a jitter below the lateness keeps each event within the window:
    anything before it in the new order has a time less than its own plus the lateness.
    """
    limit = int(LATENESS / MINUTE) - 1
    jitter = draw(
        st.lists(
            st.integers(min_value=0, max_value=limit), min_size=len(events), max_size=len(events)
        )
    )
    order = sorted(range(len(events)), key=lambda i: (events[i].time + jitter[i] * MINUTE, i))
    return [events[i] for i in order]


# --- running --------------------------------------------------------------------------------


def _replayer() -> Replayer:
    return Replayer(Engine(ALL_FAMILIES, RuleContext()), LATENESS)


def _replay(replayer: Replayer, events: Sequence[Envelope]) -> list[Effect]:
    """Push events in arrival order through the reorder buffer; the effects released."""
    out: list[Effect] = []
    for event in events:
        out.extend(replayer.push(event))
    return out


def _finish(replayer: Replayer, events: Sequence[Envelope]) -> list[Effect]:
    """End of input, then the clock runs well past every deadline and escalation."""
    end = max(e.time for e in events) + END_MARGIN
    return replayer.finish(end)


def _run(events: Sequence[Envelope]) -> list[Effect]:
    replayer = _replayer()
    return _replay(replayer, events) + _finish(replayer, events)


def _final_alerts(effects: Sequence[Effect]) -> dict[tuple[str, str], dict[str, Any]]:
    """Each (alert id, stage) with its content, apart from which clock noticed it."""
    return {
        (a.alert_id, a.stage.value): a.model_dump(
            mode="json", exclude={"evidence": {"clock", "clock_kind"}}
        )
        for a in effects
        if isinstance(a, AlertEvent)
    }


def _serialised(effects: Sequence[Effect]) -> bytes:
    """The output as bytes: alerts and work items as their JSON, other effects by repr."""
    lines = [
        e.model_dump_json() if isinstance(e, (AlertEvent, WorkItem)) else repr(e) for e in effects
    ]
    return "\n".join(lines).encode()


# --- properties -----------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(st.data())
def test_any_arrival_order_within_lateness__gives_the_same_final_alerts(data):
    """Events reordered within the lateness window give the same alert ids, stages and content."""
    events = data.draw(histories())
    shuffled = data.draw(within_lateness(events))
    assert _final_alerts(_run(shuffled)) == _final_alerts(_run(events))


@PROPERTY_SETTINGS
@given(st.data())
def test_redelivered_events__change_nothing(data):
    """Duplicating any events, delivered again at any later point, changes no output."""
    events = data.draw(histories())
    picks = data.draw(
        st.lists(st.integers(min_value=0, max_value=len(events) - 1), min_size=1, max_size=5)
    )
    with_duplicates = list(events)
    for i in picks:
        position = data.draw(
            st.integers(
                min_value=with_duplicates.index(events[i]) + 1, max_value=len(with_duplicates)
            )
        )
        with_duplicates.insert(position, events[i].model_copy())
    assert _serialised(_run(with_duplicates)) == _serialised(_run(events))


@PROPERTY_SETTINGS
@given(histories())
def test_the_same_input_twice__gives_byte_identical_output(events):
    """Two fresh engines given the same events emit exactly the same bytes."""
    assert _serialised(_run(events)) == _serialised(_run(events))


@PROPERTY_SETTINGS
@given(st.data())
def test_snapshot_and_restore_midway__gives_the_uninterrupted_output(data):
    """Stopping, snapshotting to JSON and restoring into a new engine changes nothing after."""
    events = data.draw(histories())
    cut = data.draw(st.integers(min_value=0, max_value=len(events)))
    first = _replayer()
    before = _replay(first, events[:cut])
    second = _replayer()
    second.restore(json.loads(json.dumps(first.snapshot())))
    after = _replay(second, events[cut:])
    resumed = before + after + _finish(second, events)
    assert _serialised(resumed) == _serialised(_run(events))
