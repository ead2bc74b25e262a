"""Source silence in the audit replay: a history is judged as given (docs/audit-mode.md).

Silence is a feed not arriving on the wall clock (the live worker's `SourceMonitor`); a history
has only event times, so replay holds nothing undecided, and instead lists the input topics of
which the history holds no event, so that breaches owed to a missing extract can be told apart.
"""

from __future__ import annotations

from datetime import timedelta

from streams.replay import AuditReplay
from streams.replay.summary import build_report
from streams.rules.engine import DATA_COMPLETENESS
from tests.factories import at, make_crime_recording, make_disclosure, make_incident_reported


def _replay_without_victim_contact() -> AuditReplay:
    incident = make_incident_reported(
        incident_ref="INC-A", received_at=at(0), disclosures=[make_disclosure()]
    )
    disclosure = incident.data.disclosures[0]
    crime = make_crime_recording(
        disclosure,
        incident_ref="INC-A",
        crime_ref="CRI-A",
        reported_at=at(0),
        recorded_at=at(2),
    )
    replay = AuditReplay()
    replay.feed(incident)
    replay.feed(crime)
    replay.finish(as_of=at(24 * 30))
    return replay


def test_replay__history_without_a_topic_raises_no_data_completeness_and_holds_nothing() -> None:
    """A topic missing from the file is not a silent feed: its duties are judged unmet."""
    result = _replay_without_victim_contact().result
    assert [a for a in result.alerts if a.rule_id == DATA_COMPLETENESS] == []
    breached = {(a.rule_id, a.stage.value) for a in result.alerts}
    assert ("CARE-REFERRAL", "breached") in breached
    assert result.engine is not None
    assert not [ob for ob in result.engine.open_obligations() if ob.undecided]


def test_replay__lists_the_input_topics_the_history_holds_no_event_of() -> None:
    """The result and the report document name the absent topics and count the others."""
    result = _replay_without_victim_contact().result
    assert result.absent_sources == ["ncrs.cancellations.v1", "ncrs.victim-contact.v1"]
    report = build_report(result, inputs=["history.ndjson"], lateness=timedelta(hours=1))
    assert report["sources"] == {
        "events_by_topic": {
            "ncrs.incidents.v1": 1,
            "ncrs.crime-records.v1": 1,
            "ncrs.cancellations.v1": 0,
            "ncrs.victim-contact.v1": 0,
        },
        "absent": ["ncrs.cancellations.v1", "ncrs.victim-contact.v1"],
    }
