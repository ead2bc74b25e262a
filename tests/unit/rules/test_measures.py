"""Compliance measures counted from engine effects, rendered with intervals (rules file §6)."""

from __future__ import annotations

import json

import pytest

from schemas.codes import Cause, ClockKind, OffenceGroup, Stage
from streams.rules.duties import RuleContext
from streams.rules.engine import Clock, Engine
from streams.rules.measures import EXPECTED_PROXY_NOTE, UNKNOWN, ComplianceMeasures
from streams.rules.model import ObligationClosed, ObligationOpened, Observation, Outcome
from tests.factories import (
    at,
    make_alert_event,
    make_crime_cancelled,
    make_crime_recorded,
    make_disclosure,
    make_incident_reported,
    make_n100_recorded,
)
from tests.unit.rules.toy_family import TOY_FAMILY
from tests.unit.test_stats import CHESHIRE_N, CHESHIRE_R12

VIOLENCE = OffenceGroup.VIOLENCE
RAPE = OffenceGroup.RAPE


def _opened(rule: str, n: int, group: OffenceGroup | None = VIOLENCE, area: str = "A1"):
    return [ObligationOpened(rule, group, area)] * n


def _closed(rule: str, outcome: Outcome, n: int, group=VIOLENCE, area="A1", **kw):
    return [ObligationClosed(rule, outcome, group, area, **kw)] * n


def test_recording_rate__reproduces_the_cheshire_overall_figure_through_the_accumulator():
    """1,321 of 1,580 disclosures recorded, R12 = 59,300: 83.6% ±1.79 (to 0.01), over 11,600."""
    measures = ComplianceMeasures()
    measures.observe(_opened("REC-24H", 1_000, VIOLENCE, "A1"))
    measures.observe(_opened("REC-24H", CHESHIRE_N - 1_000, RAPE, "A2"))
    measures.observe(_closed("REC-24H", Outcome.ON_TIME, 800, VIOLENCE, "A1"))
    measures.observe(_closed("REC-24H", Outcome.LATE, 1_321 - 800 - 300, VIOLENCE, "A1"))
    measures.observe(_closed("REC-24H", Outcome.ON_TIME, 300, RAPE, "A2"))
    out = measures.to_dict(recorded_12m=CHESHIRE_R12)

    recording = out["overall"]["recording"]
    rate = recording["rate"]
    assert (rate["successes"], rate["trials"]) == (1_321, 1_580)
    assert round(100 * rate["rate"], 1) == 83.6
    low, high = rate["hmic"]
    assert 100 * (high - low) / 2 == pytest.approx(1.79, abs=0.01)  # as tests/unit/test_stats.py
    assert 11_600 <= recording["unrecorded_per_year"] < 11_700
    assert rate["wilson"][0] < rate["rate"] < rate["wilson"][1]
    assert recording["expected_basis"] == EXPECTED_PROXY_NOTE
    assert "PROXY" in EXPECTED_PROXY_NOTE


def test_recording__breaks_down_by_offence_group_and_area():
    """Counts land under their own group and area; per-area rows have no HMIC interval."""
    measures = ComplianceMeasures()
    measures.observe(_opened("REC-24H", 4, VIOLENCE, "A1") + _opened("REC-24H", 2, RAPE, "A2"))
    measures.observe(_closed("REC-24H", Outcome.ON_TIME, 3, VIOLENCE, "A1"))
    measures.observe(_closed("REC-24H", Outcome.LATE, 1, RAPE, "A2"))
    out = measures.to_dict(recorded_12m=1_000, recorded_12m_by_group={"RAPE": 50})
    violence = out["by_offence_group"]["VIOLENCE"]["recording"]
    assert (violence["recorded"], violence["expected_proxy"]) == (3, 4)
    assert violence["rate"]["hmic"] is None  # no R12 given for violence
    assert violence["unrecorded_per_year"] is None
    rape = out["by_offence_group"]["RAPE"]["recording"]
    assert (rape["recorded_late"], rape["rate"]["rate"]) == (1, 0.5)
    assert rape["rate"]["hmic"] is not None
    assert rape["unrecorded_per_year"] == pytest.approx(50.0)
    assert out["by_area"]["A2"]["recording"]["recorded"] == 1
    assert out["by_area"]["A1"]["recording"]["rate"]["hmic"] is None


def test_timeliness__is_the_share_of_recorded_crimes_recorded_within_24h():
    """Denominator: crimes recorded (observations), numerator: those within 24 hours."""
    measures = ComplianceMeasures()
    fast = Observation("time_to_record", VIOLENCE, "A1", 3_600.0, within_24h=True)
    slow = Observation("time_to_record", VIOLENCE, "A1", 90_000.0, within_24h=False)
    referral = Observation("time_to_referral", VIOLENCE, "A1", 10.0, within_24h=True)
    measures.observe([fast, fast, fast, slow, referral])
    timeliness = measures.to_dict()["overall"]["timeliness"]
    assert (timeliness["within_24h"], timeliness["crimes_recorded"]) == (3, 4)
    assert timeliness["rate"]["rate"] == 0.75


def test_n100__tells_closure_by_an_n100_from_closure_by_a_crime():
    """An N100 obligation closed by an N100 event counts as N100 applied; by a crime, not."""
    measures = ComplianceMeasures()
    n100 = make_n100_recorded()
    measures.observe_event(n100)
    measures.observe(_opened("N100", 4, RAPE) + _opened("N100-AGEING", 1, RAPE))
    measures.observe(_closed("N100", Outcome.ON_TIME, 1, RAPE, event_ids=(n100.id,)))
    measures.observe(_closed("N100", Outcome.ON_TIME, 2, RAPE, event_ids=("EVT-CRIME",)))
    measures.observe([make_alert_event(rule_id="N100-REASON", stage=Stage.BREACHED)])
    section = measures.to_dict()["overall"]["n100"]
    assert (section["closed_by_n100"], section["closed_by_crime"]) == (1, 2)
    # 4 rape reports, 2 became crimes: of the other 2, one got an N100.
    assert section["applied_when_required"]["successes"] == 1
    assert section["applied_when_required"]["trials"] == 2
    assert (section["n100s_recorded"], section["reason_breaches"]) == (1, 1)


def test_cancellations__count_each_cancellation_once_and_authority_findings_against_them():
    """A re-delivered cancellation is counted once; correct = total - authority findings."""
    measures = ComplianceMeasures()
    cancellations = [make_crime_cancelled(offence_group=RAPE) for _ in range(4)]
    for event in [*cancellations, cancellations[0]]:
        measures.observe_event(event)
    measures.observe(_opened("CANCEL-AUTHORITY", 1, RAPE, "A1"))
    out = measures.to_dict()
    rape = out["by_offence_group"]["RAPE"]["cancellations"]
    assert (rape["total"], rape["authority_findings"]) == (4, 1)
    assert rape["correct"]["rate"] == 0.75
    assert "cancellations" not in out["by_area"]["A1"]  # cancellations carry no area
    assert UNKNOWN not in out["by_area"]


def test_cancellation_notification__reports_on_time_late_and_still_open():
    """Victims told of cancellation: on time, late, and those still waiting."""
    measures = ComplianceMeasures()
    measures.observe(_opened("CANCEL-NOTIFY", 5))
    measures.observe(_closed("CANCEL-NOTIFY", Outcome.ON_TIME, 2))
    measures.observe(_closed("CANCEL-NOTIFY", Outcome.LATE, 1))
    section = measures.to_dict()["overall"]["cancellation_notification"]
    assert (section["on_time"], section["late"], section["open"]) == (2, 1, 2)
    assert section["told_on_time"]["rate"] == pytest.approx(0.4)
    assert section["told"]["rate"] == pytest.approx(0.6)


def test_referral__late_referrals_are_split_by_cause():
    """Late referrals are attributed to recording delay or referral delay."""
    measures = ComplianceMeasures()
    measures.observe(_opened("CARE-REFERRAL", 4))
    measures.observe(_closed("CARE-REFERRAL", Outcome.ON_TIME, 1))
    measures.observe(
        _closed("CARE-REFERRAL", Outcome.LATE, 2, cause=Cause.RECORDING_DELAY)
        + _closed("CARE-REFERRAL", Outcome.LATE, 1, cause=Cause.REFERRAL_DELAY)
    )
    section = measures.to_dict()["overall"]["referral"]
    assert section["late_by_cause"] == {"RECORDING_DELAY": 2, "REFERRAL_DELAY": 1}
    assert section["on_time_rate"]["rate"] == 0.25
    assert section["open"] == 0


def test_output__is_plain_json_and_undefined_rates_are_none():
    """An empty accumulator renders to JSON with rates of nothing as None, never 0%."""
    out = ComplianceMeasures().to_dict(recorded_12m=CHESHIRE_R12)
    assert json.loads(json.dumps(out)) == out
    rate = out["overall"]["recording"]["rate"]
    assert (rate["rate"], rate["wilson"], rate["hmic"]) == (None, None, None)
    assert out["overall"]["recording"]["unrecorded_per_year"] is None


def test_measures__fed_from_a_real_engine_run_count_a_late_record():
    """Driven by the engine's own effects, a disclosure recorded at 30 h counts as recorded late."""
    engine = Engine([TOY_FAMILY], RuleContext())
    measures = ComplianceMeasures()
    incident = make_incident_reported(
        incident_ref="INC-1", disclosures=[make_disclosure(disclosure_id="D1")]
    )
    crime = make_crime_recorded(
        incident_ref="INC-1", disclosure_ids=["D1"], reported_at=at(0), recorded_at=at(30)
    )
    for event in (incident, crime):
        measures.observe_event(event)
        measures.observe(engine.process(event))
        measures.observe(engine.advance(Clock(event.time, ClockKind.EVENT_TIME_WATERMARK)))
    out = measures.to_dict()["overall"]
    assert out["recording"]["recorded_late"] == 1
    assert out["recording"]["rate"]["rate"] == 1.0
    assert (out["timeliness"]["crimes_recorded"], out["timeliness"]["within_24h"]) == (1, 0)
