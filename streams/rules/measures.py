"""Compliance measures: the inspection's own figures, counted from what the engine decides.

Implements rules file §6 and issue 3 item 7. `ComplianceMeasures` is fed the engine's effects
(obligations opened and closed, alerts, observations) and two kinds of input event the effects
cannot describe (N100 records, to tell an N100 obligation satisfied by an N100 from one satisfied
by a crime; cancellations, whose total is the denominator of the cancellation-authority rate).
It counts per offence group and area and renders rates with Wilson and HMIC-style 95% intervals
(`streams.rules.stats`) and the estimated unrecorded crimes a year.

The "should have been recorded" side is a PROXY: in a stream nobody has audited the incidents,
so the denominator of the recording rate is the number of disclosures the monitor expected to
become crimes (REC-24H obligations opened), not HMIC's audited sample. Every output says so.

Pure: no clock, no I/O; the output is a plain JSON-able dict for the report command to render.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from schemas.alerts import AlertEvent
from schemas.codes import Cause, Stage
from schemas.events import CrimeCancelled, Envelope, N100Recorded
from streams.rules.model import (
    ObligationClosed,
    ObligationOpened,
    ObligationRelabelled,
    Observation,
    Outcome,
)
from streams.rules.stats import Proportion, estimated_unrecorded_per_year, proportion

UNKNOWN = "UNKNOWN"
"""Label for an offence group or area the effect did not carry."""

EXPECTED_PROXY_NOTE = (
    "PROXY: disclosures expected to become crimes = REC-24H obligations opened; not an audited "
    "sample of reports that should have been recorded"
)

REC_24H = "REC-24H"
N100 = "N100"
N100_REASON = "N100-REASON"
N100_AGEING = "N100-AGEING"
CANCEL_AUTHORITY = "CANCEL-AUTHORITY"
CANCEL_NOTIFY = "CANCEL-NOTIFY"
CARE_REFERRAL = "CARE-REFERRAL"

_TRACKED_RULES = frozenset(
    {REC_24H, N100, N100_REASON, N100_AGEING, CANCEL_AUTHORITY, CANCEL_NOTIFY, CARE_REFERRAL}
)

Key = tuple[str, str, str]
"""(measure, offence group, area)."""


def _label(value: str | None) -> str:
    return value if value else UNKNOWN


@dataclass(slots=True)
class ComplianceMeasures:
    """Counts per (measure, offence group, area), fed one event's effects at a time.

    Feed every input event with `observe_event` before the effects its processing produced
    (`observe`): an N100 obligation closed by that very event can then be attributed to it.
    Duplicate deliveries of an input event are ignored (the engine ignores them too).
    """

    counts: Counter[Key] = field(default_factory=Counter)
    _n100_event_ids: set[str] = field(default_factory=set)
    _cancellations_seen: set[str] = field(default_factory=set)

    # --- feeding ----------------------------------------------------------------------------

    def observe_event(self, event: Envelope) -> None:
        """Note the input events whose facts the effects do not carry."""
        if isinstance(event, N100Recorded):
            self._n100_event_ids.add(event.id)
        elif isinstance(event, CrimeCancelled):
            if event.dedup_key in self._cancellations_seen:
                return
            self._cancellations_seen.add(event.dedup_key)
            # A cancellation names no area, so cancellation totals are per offence group only.
            self.counts[("cancel.total", event.data.offence_group.value, UNKNOWN)] += 1

    def observe(self, effects: Iterable[object]) -> None:
        """Count the effects of one step (other effect kinds are ignored)."""
        for effect in effects:
            if isinstance(effect, ObligationOpened):
                self._opened(effect)
            elif isinstance(effect, ObligationRelabelled):
                self._relabelled(effect)
            elif isinstance(effect, ObligationClosed):
                self._closed(effect)
            elif isinstance(effect, Observation):
                self._observation(effect)
            elif isinstance(effect, AlertEvent):
                self._alert(effect)

    def _add(self, measure: str, group: str | None, area: str | None) -> None:
        self.counts[(measure, _label(group), _label(area))] += 1

    def _opened(self, e: ObligationOpened) -> None:
        if e.rule_id in _TRACKED_RULES:
            self._add(f"{e.rule_id}.opened", e.offence_group, e.area)

    def _relabelled(self, e: ObligationRelabelled) -> None:
        if e.rule_id not in _TRACKED_RULES:
            return
        was = (f"{e.rule_id}.opened", _label(e.was_offence_group), _label(e.was_area))
        self.counts[was] -= 1
        if self.counts[was] <= 0:
            del self.counts[was]  # no empty group or area left behind
        self._add(f"{e.rule_id}.opened", e.offence_group, e.area)

    def _closed(self, e: ObligationClosed) -> None:
        if e.rule_id not in _TRACKED_RULES:
            return
        self._add(f"{e.rule_id}.{e.outcome.value}", e.offence_group, e.area)
        satisfied = e.outcome in (Outcome.ON_TIME, Outcome.LATE)
        if e.rule_id == N100 and satisfied:
            by_n100 = any(i in self._n100_event_ids for i in e.event_ids)
            self._add("N100.by_n100" if by_n100 else "N100.by_crime", e.offence_group, e.area)
        if e.rule_id == CARE_REFERRAL and e.outcome is Outcome.LATE:
            cause = e.cause.value if e.cause else UNKNOWN
            self._add(f"CARE-REFERRAL.late.{cause}", e.offence_group, e.area)

    def _observation(self, e: Observation) -> None:
        if e.name != "time_to_record":
            return
        self._add("crimes.recorded", e.offence_group.value, e.area)
        if e.within_24h:
            self._add("crimes.within_24h", e.offence_group.value, e.area)

    def _alert(self, a: AlertEvent) -> None:
        if a.rule_id == N100_REASON and a.stage in (Stage.BREACHED, Stage.RETRACTED):
            group = a.offence_group.value if a.offence_group else None
            self._add(f"N100-REASON.{a.stage.value}", group, a.area)

    # --- rendering --------------------------------------------------------------------------

    def _sum(self, measure: str, keep: Callable[[str, str], bool]) -> int:
        return sum(n for (m, g, a), n in self.counts.items() if m == measure and keep(g, a))

    def _groups(self) -> list[str]:
        return sorted({g for (_, g, _) in self.counts})

    def _areas(self) -> list[str]:
        return sorted({a for (m, _, a) in self.counts if m != "cancel.total"})

    def _section(
        self,
        keep: Callable[[str, str], bool],
        recorded_12m: float | None,
        *,
        with_cancellations: bool,
    ) -> dict[str, Any]:
        def n(measure: str) -> int:
            return self._sum(measure, keep)

        expected = n("REC-24H.opened")
        on_time, late = n("REC-24H.on_time"), n("REC-24H.late")
        recorded = on_time + late
        recording = _rate(recorded, expected, recorded_12m)
        unrecorded = None
        if recorded_12m is not None and recording.rate:
            unrecorded = estimated_unrecorded_per_year(recording.rate, recorded_12m)

        required = n("N100.opened")
        by_n100, by_crime = n("N100.by_n100"), n("N100.by_crime")
        n100s = n("N100-AGEING.opened")
        reason_breaches = max(0, n("N100-REASON.breached") - n("N100-REASON.retracted"))

        notify = _tally(n, CANCEL_NOTIFY)
        referral = _tally(n, CARE_REFERRAL)
        referral["late_by_cause"] = {c.value: n(f"CARE-REFERRAL.late.{c.value}") for c in Cause}

        section: dict[str, Any] = {
            "recording": {
                "expected_proxy": expected,
                "expected_basis": EXPECTED_PROXY_NOTE,
                "recorded": recorded,
                "recorded_within_limit": on_time,
                "recorded_late": late,
                "satisfied_otherwise": n("REC-24H.cancelled"),
                "rate": _render(recording),
                "unrecorded_per_year": unrecorded,
            },
            "timeliness": {
                "crimes_recorded": n("crimes.recorded"),
                "within_24h": n("crimes.within_24h"),
                "rate": _render(_rate(n("crimes.within_24h"), n("crimes.recorded"))),
            },
            "n100": {
                "rape_reports_needing_crime_or_n100": required,
                "closed_by_crime": by_crime,
                "closed_by_n100": by_n100,
                "applied_when_required": _render(_rate(by_n100, max(0, required - by_crime))),
                "n100s_recorded": n100s,
                "reason_breaches": reason_breaches,
                "reason_breach_share": _render(_rate(min(reason_breaches, n100s), n100s)),
            },
            "cancellation_notification": {
                **notify,
                "told_on_time": _render(_rate(notify["on_time"], notify["required"])),
                "told": _render(_rate(notify["on_time"] + notify["late"], notify["required"])),
            },
            "referral": {
                **referral,
                "on_time_rate": _render(
                    _rate(referral["on_time"], referral["on_time"] + referral["late"])
                ),
            },
        }
        if with_cancellations:
            total = n("cancel.total")
            unauthorised = n("CANCEL-AUTHORITY.opened")
            section["cancellations"] = {
                "total": total,
                "authority_findings": unauthorised,
                "correct": _render(_rate(max(0, total - unauthorised), total)),
            }
        return section

    def to_dict(
        self,
        recorded_12m: float | None = None,
        recorded_12m_by_group: Mapping[str, float] | None = None,
    ) -> dict[str, Any]:
        """Every measure overall, per offence group and per area, as a JSON-able dict.

        `recorded_12m` (R12, recorded crime in the 12 months to the end of the period) enables
        the HMIC-style interval and the unrecorded estimate overall; `recorded_12m_by_group`
        does the same per offence group. Per area there is no R12, so Wilson only. Cancellation
        totals carry no area, so cancellations are given overall and per offence group only.
        """
        by_group = recorded_12m_by_group or {}
        return {
            "recorded_12m": recorded_12m,
            "overall": self._section(_match(), recorded_12m, with_cancellations=True),
            "by_offence_group": {
                group: self._section(
                    _match(group=group), by_group.get(group), with_cancellations=True
                )
                for group in self._groups()
            },
            "by_area": {
                area: self._section(_match(area=area), None, with_cancellations=False)
                for area in self._areas()
            },
        }


def _match(group: str | None = None, area: str | None = None) -> Callable[[str, str], bool]:
    """A filter on (offence group, area); None matches anything."""
    return lambda g, a: (group is None or g == group) and (area is None or a == area)


def _tally(n: Callable[[str], int], rule_id: str) -> dict[str, Any]:
    """Opened, closed by outcome, and still open for one rule."""
    required = n(f"{rule_id}.opened")
    on_time, late, cancelled = (
        n(f"{rule_id}.{o.value}") for o in (Outcome.ON_TIME, Outcome.LATE, Outcome.CANCELLED)
    )
    return {
        "required": required,
        "on_time": on_time,
        "late": late,
        "cancelled": cancelled,
        "open": max(0, required - on_time - late - cancelled),
    }


def _rate(successes: int, trials: int, recorded_12m: float | None = None) -> Proportion:
    return proportion(min(successes, trials), trials, recorded_12m)


def _render(p: Proportion) -> dict[str, Any]:
    """A proportion as plain values; intervals as [low, high] or None when undefined."""
    return {
        "successes": p.successes,
        "trials": p.trials,
        "rate": p.rate,
        "wilson": [p.wilson.low, p.wilson.high] if p.wilson else None,
        "hmic": [p.hmic.low, p.hmic.high] if p.hmic else None,
    }
