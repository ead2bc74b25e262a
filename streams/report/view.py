"""From a replay's report document to the rows an inspection report shows.

Each section is one measure (recording, timeliness, N100, cancellations, victims told,
referrals), with a row overall, per offence group and per area: successes, trials, rate, the
Wilson interval and, where the annualised R12 allows, the HMIC-style interval, plus the seed's
published figure for reference. Rows about sexual offences are sensitive (rules file §5): with
suppression on, any count under 5 is shown as "<5" and the rate of that row is withheld, because
a rate beside a visible denominator would reveal the hidden count.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from schemas.codes import SEXUAL_GROUPS
from streams.report import reference as ref
from streams.rules.stats import SUPPRESSION_THRESHOLD, wilson_interval

SUPPRESSED = "<5"
SEXUAL = "SEXUAL"
"""Row key of sexual offences including rape (the seed's combined figure)."""
_SENSITIVE = frozenset({*(g.value for g in SEXUAL_GROUPS), SEXUAL})


@dataclass(frozen=True, slots=True)
class Row:
    """One line of a section: a rate with its intervals, or a suppressed one."""

    key: str
    label: str
    successes: int | None
    trials: int | None
    rate: float | None
    wilson: tuple[float, float] | None
    hmic: tuple[float, float] | None
    reference: ref.Reference | None = None
    suppressed: bool = False
    extra: Mapping[str, int | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON form; suppressed counts are the string "<5", never a number."""
        return {
            "key": self.key,
            "label": self.label,
            "successes": SUPPRESSED
            if self.suppressed and self.successes is None
            else self.successes,
            "trials": SUPPRESSED if self.suppressed and self.trials is None else self.trials,
            "rate": self.rate,
            "wilson_95": list(self.wilson) if self.wilson else None,
            "hmic_95": list(self.hmic) if self.hmic else None,
            "reference": (
                {
                    "value": self.reference.value,
                    "half_width": self.reference.half_width,
                    "label": self.reference.label,
                }
                if self.reference
                else None
            ),
            "suppressed": self.suppressed,
            **{k: (SUPPRESSED if v is None else v) for k, v in self.extra.items()},
        }


@dataclass(frozen=True, slots=True)
class Section:
    """One measure: its title, a plain-English explanation, and its rows."""

    key: str
    title: str
    explanation: str
    rows: tuple[Row, ...]
    by_area: tuple[Row, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON form of the section."""
        return {
            "key": self.key,
            "title": self.title,
            "explanation": self.explanation,
            "rows": [r.to_dict() for r in self.rows],
            "by_area": [r.to_dict() for r in self.by_area],
        }


@dataclass(frozen=True, slots=True)
class ReportView:
    """The whole report: header facts, sections and the open work."""

    force_code: str | None
    period: Mapping[str, Any]
    counts: Mapping[str, int]
    sections: tuple[Section, ...]
    open_work: Mapping[str, Any]
    recorded_12m_basis: str
    suppression: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON form of the report (what `--format json` prints)."""
        return {
            "kind": "ncrs.compliance_report",
            "force_code": self.force_code,
            "period": dict(self.period),
            "counts": dict(self.counts),
            "recorded_12m_basis": self.recorded_12m_basis,
            "small_number_suppression": self.suppression,
            "sections": [s.to_dict() for s in self.sections],
            "open_work_items": dict(self.open_work),
        }


def _pair(value: Any) -> tuple[float, float] | None:
    return (float(value[0]), float(value[1])) if value else None


def _label(key: str) -> str:
    if key == "OVERALL":
        return "All offences"
    if key == SEXUAL:
        return "Sexual offences incl. rape"
    return key.replace("_", " ").capitalize()


def make_row(
    key: str,
    rendered: Mapping[str, Any],
    *,
    suppress: bool,
    reference: ref.Reference | None = None,
    label: str | None = None,
    extra: Mapping[str, int] | None = None,
) -> Row:
    """A row from a measures proportion (`{successes, trials, rate, wilson, hmic}`)."""
    successes = int(rendered["successes"])
    trials = int(rendered["trials"])
    counts = {"successes": successes, "trials": trials, **(extra or {})}
    small = {
        name
        for name, n in counts.items()
        if suppress and key in _SENSITIVE and 0 < n < SUPPRESSION_THRESHOLD
    }
    if small:
        return Row(
            key=key,
            label=label or _label(key),
            successes=None if "successes" in small else successes,
            trials=None if "trials" in small else trials,
            rate=None,
            wilson=None,
            hmic=None,
            reference=reference,
            suppressed=True,
            extra={k: (None if k in small else v) for k, v in (extra or {}).items()},
        )
    return Row(
        key=key,
        label=label or _label(key),
        successes=successes,
        trials=trials,
        rate=rendered["rate"],
        wilson=_pair(rendered["wilson"]),
        hmic=_pair(rendered["hmic"]),
        reference=reference,
        extra=dict(extra or {}),
    )


def _get(section: Mapping[str, Any], path: tuple[str, ...]) -> Mapping[str, Any]:
    value: Any = section
    for part in path:
        value = value[part]
    return value  # type: ignore[no-any-return]  # measures' documents are plain JSON


def _combined(groups: Mapping[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    """Sexual offences incl. rape: the two groups' counts added, Wilson recomputed."""
    successes = sum(int(_get(groups[g], path)["successes"]) for g in groups if g in _SENSITIVE)
    trials = sum(int(_get(groups[g], path)["trials"]) for g in groups if g in _SENSITIVE)
    interval = wilson_interval(successes, trials)
    return {
        "successes": successes,
        "trials": trials,
        "rate": successes / trials if trials else None,
        "wilson": [interval.low, interval.high] if interval else None,
        "hmic": None,
    }


def _rows(
    measures: Mapping[str, Any],
    path: tuple[str, ...],
    *,
    suppress: bool,
    references: Mapping[str, ref.Reference],
    with_sexual: bool = False,
) -> tuple[Row, ...]:
    groups: Mapping[str, Any] = measures["by_offence_group"]
    rows = [
        make_row(
            "OVERALL",
            _get(measures["overall"], path),
            suppress=suppress,
            reference=references.get("OVERALL"),
        )
    ]
    for group in sorted(groups):
        rendered = _get(groups[group], path)
        if not rendered["trials"]:
            continue
        rows.append(make_row(group, rendered, suppress=suppress, reference=references.get(group)))
    if with_sexual and any(g in groups for g in _SENSITIVE):
        rows.append(
            make_row(
                SEXUAL,
                _combined(groups, path),
                suppress=suppress,
                reference=references.get(SEXUAL),
            )
        )
    return tuple(rows)


def _area_rows(
    measures: Mapping[str, Any], path: tuple[str, ...], *, suppress: bool
) -> tuple[Row, ...]:
    areas: Mapping[str, Any] = measures["by_area"]
    return tuple(
        make_row(area, _get(areas[area], path), suppress=suppress, label=area)
        for area in sorted(areas)
        if _get(areas[area], path)["trials"]
    )


def _referral_rows(measures: Mapping[str, Any], *, suppress: bool) -> tuple[Row, ...]:
    def row(key: str, section: Mapping[str, Any], label: str | None = None) -> Row:
        referral = section["referral"]
        causes = referral["late_by_cause"]
        extra = {
            "late_recording_delay": int(causes.get("RECORDING_DELAY", 0)),
            "late_referral_delay": int(causes.get("REFERRAL_DELAY", 0)),
            "still_open": int(referral["open"]),
        }
        return make_row(key, referral["on_time_rate"], suppress=suppress, label=label, extra=extra)

    rows = [row("OVERALL", measures["overall"])]
    groups = measures["by_offence_group"]
    rows += [
        row(g, groups[g]) for g in sorted(groups) if groups[g]["referral"]["on_time_rate"]["trials"]
    ]
    return tuple(rows)


def build_view(document: Mapping[str, Any], *, suppress: bool = True) -> ReportView:
    """The report view of a replay's report document (see `streams.replay.summary`)."""
    m = document["measures"]
    sections = (
        Section(
            "recording",
            "Crime recording rate (proxy)",
            "Of the crimes disclosed in incidents, the share recorded as crimes (on time or "
            "late). This is a PROXY for HMIC's audited rate: the denominator is every disclosure "
            "the monitor expected to become a crime, not an audited sample. A rape report "
            "answered by an N100, or recorded under another offence, counts as answered here; "
            "those are reported separately below. HMIC-style intervals use R12 annualised from "
            "the replayed period.",
            _rows(
                m,
                ("recording", "rate"),
                suppress=suppress,
                references=ref.RECORDING,
                with_sexual=True,
            ),
            _area_rows(m, ("recording", "rate"), suppress=suppress),
        ),
        Section(
            "timeliness",
            "Crimes recorded within 24 hours of the report",
            "Of the crimes recorded, the share recorded within 24 hours of the report being "
            "received (the Home Office Counting Rules limit).",
            _rows(
                m,
                ("timeliness", "rate"),
                suppress=suppress,
                references=ref.TIMELINESS,
                with_sexual=True,
            ),
            _area_rows(m, ("timeliness", "rate"), suppress=suppress),
        ),
        Section(
            "n100",
            "Rape reports: N100 use",
            "A rape report must become a rape crime or an N100 within 24 hours. 'Applied when "
            "required' is the share of rape reports not recorded as a crime that got an N100; "
            "'resting on doubt' is the share of N100s whose reason rests on doubt about the "
            "victim, which the rules forbid.",
            (
                make_row(
                    SEXUAL,
                    m["overall"]["n100"]["applied_when_required"],
                    suppress=suppress,
                    reference=ref.N100_APPLIED,
                    label="N100 applied when required",
                ),
                make_row(
                    SEXUAL,
                    m["overall"]["n100"]["reason_breach_share"],
                    suppress=suppress,
                    reference=ref.N100_WRONG,
                    label="N100s resting on doubt about the victim",
                ),
            ),
        ),
        Section(
            "cancellations",
            "Cancellations made with proper authority",
            "Of the crimes cancelled, the share cancelled by someone authorised (the Force Crime "
            "Registrar for rape, a Designated Decision Maker otherwise) and, for 'no crime' "
            "cancellations, on verifiable new information.",
            _rows(
                m,
                ("cancellations", "correct"),
                suppress=suppress,
                references=ref.CANCELLATION_CORRECT,
            ),
        ),
        Section(
            "cancellation_notification",
            "Victims told their crime was cancelled",
            "Of the cancellations owed a notification, the share where the victim was told "
            "within 5 working days (1 for victims with enhanced entitlement).",
            _rows(
                m, ("cancellation_notification", "told_on_time"), suppress=suppress, references={}
            ),
            _area_rows(m, ("cancellation_notification", "told_on_time"), suppress=suppress),
        ),
        Section(
            "referral",
            "Victims referred to victim care within 2 working days",
            "Of the referrals decided, the share made within 2 working days of the report. Late "
            "referrals are split by cause: the crime itself was recorded too late to refer in "
            "time (recording delay), or the referral was slow (referral delay).",
            _referral_rows(m, suppress=suppress),
            _area_rows(m, ("referral", "on_time_rate"), suppress=suppress),
        ),
    )
    return ReportView(
        force_code=document.get("force_code"),
        period=document.get("period", {}),
        counts=document.get("counts", {}),
        sections=sections,
        open_work=document.get("open_work_items", {}),
        recorded_12m_basis=document.get("recorded_12m_basis", ""),
        suppression=suppress,
    )
