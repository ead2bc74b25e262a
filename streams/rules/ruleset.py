"""Rulesets: every threshold the rules use, versioned by the event time of the trigger.

Sources: the Home Office Counting Rules (24 hours from receipt since April 2015; 72 hours before,
per the 2014 Cheshire inspection), the Victims' Code (2 working days to refer, 5 to confirm; 1 for
enhanced entitlement), and the rules file (`shared/domain/rules.md`). Values that file marks
[assumed] carry `assumed=True` here: they are defaults for the Force Crime Registrar to confirm,
and each can be overridden from configuration (`NCRS_RULESET_OVERRIDES`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from streams.rules.calendar import CALENDAR_ID, add_working_days


@dataclass(frozen=True, slots=True)
class Span:
    """A period measured either in elapsed hours or in working days (never both)."""

    hours: float = 0.0
    working_days: int = 0

    def __post_init__(self) -> None:
        if (self.hours > 0) == (self.working_days > 0) and not (
            self.hours == 0 and self.working_days == 0
        ):
            msg = "a Span is either elapsed hours or working days"
            raise ValueError(msg)
        if self.hours < 0 or self.working_days < 0:
            msg = "a Span cannot be negative"
            raise ValueError(msg)

    def after(self, start: datetime) -> datetime:
        """The instant this span after `start` ends; elapsed hours ignore clock changes."""
        if self.working_days:
            return add_working_days(start, self.working_days)
        return start + _elapsed(self.hours)

    @property
    def basis(self) -> str:
        """How the deadline is computed, for the alert's evidence."""
        return _basis(self.hours, self.working_days)

    @property
    def calendar(self) -> str | None:
        """The calendar a working-day span depends on, or None for elapsed time."""
        return CALENDAR_ID if self.working_days else None


@lru_cache(maxsize=256)
def _elapsed(hours: float) -> timedelta:
    return timedelta(hours=hours)


@lru_cache(maxsize=256)
def _basis(hours: float, working_days: int) -> str:
    """One shared string per span: every obligation stores its basis, so it is not rebuilt."""
    if working_days:
        return f"working_days:{working_days}"
    return f"elapsed_hours:{hours:g}"


IMMEDIATE = Span()


@dataclass(frozen=True, slots=True)
class RuleParams:
    """Deadline and stage thresholds of one rule, all measured from the clock start."""

    deadline: Span
    due_soon: Span | None = None
    escalate: Span | None = None
    enhanced_deadline: Span | None = None
    assumed: tuple[str, ...] = ()

    def override(self, values: Mapping[str, float]) -> RuleParams:
        """Apply configuration overrides such as `{"deadline_hours": 24, "due_soon_hours": 12}`."""
        changes: dict[str, Span | None] = {}
        for key, value in values.items():
            name, _, unit = key.rpartition("_")
            if name not in (
                "deadline",
                "due_soon",
                "escalate",
                "enhanced_deadline",
            ) or unit not in (
                "hours",
                "days",
            ):
                msg = f"unknown rule parameter {key!r}"
                raise ValueError(msg)
            if unit == "days":
                changes[name] = Span(working_days=int(value))
            else:
                changes[name] = Span(hours=float(value))
        return replace(self, **changes)  # type: ignore[arg-type]  # keys checked above


@dataclass(frozen=True, slots=True)
class Ruleset:
    """The rules in force for triggers whose event time falls in [effective_from, effective_to)."""

    ruleset_id: str
    effective_from: datetime
    effective_to: datetime | None
    params: Mapping[str, RuleParams]
    rape_one_crime_per_offender: bool
    citation: str

    def enabled(self, rule_id: str) -> bool:
        """A rule absent from the ruleset did not exist then (N100 before April 2015)."""
        return rule_id in self.params

    def rule(self, rule_id: str) -> RuleParams:
        """Parameters of one rule; KeyError for a rule this ruleset does not have."""
        return self.params[rule_id]

    def covers(self, at: datetime) -> bool:
        """Whether a trigger at `at` is judged by this ruleset."""
        return self.effective_from <= at and (self.effective_to is None or at < self.effective_to)


def _common() -> dict[str, RuleParams]:
    h = Span  # readability below
    return {
        "REC-24H": RuleParams(
            deadline=h(hours=24),
            due_soon=h(hours=16),
            escalate=h(hours=48),
            assumed=("due_soon", "escalate"),
        ),
        "MULTI-CRIME": RuleParams(
            deadline=h(hours=24), escalate=h(hours=48), assumed=("escalate",)
        ),
        "N100": RuleParams(deadline=h(hours=24), due_soon=h(hours=16), assumed=("due_soon",)),
        "N100-REASON": RuleParams(deadline=IMMEDIATE),
        "RAPE-MISCLASSIFIED": RuleParams(deadline=IMMEDIATE),
        "N100-AGEING": RuleParams(deadline=h(hours=7 * 24), assumed=("deadline",)),
        "CANCEL-AUTHORITY": RuleParams(deadline=IMMEDIATE),
        "CANCEL-NOTIFY": RuleParams(
            deadline=h(working_days=5),
            enhanced_deadline=h(working_days=1),
            assumed=("deadline", "enhanced_deadline"),
        ),
        "CARE-REFERRAL": RuleParams(deadline=h(working_days=2)),
        "CRIME-CONFIRMATION": RuleParams(
            deadline=h(working_days=5), enhanced_deadline=h(working_days=1)
        ),
        "CLOSE-REVIEW": RuleParams(deadline=h(hours=24), assumed=("deadline",)),
        "FILING-AUTHORITY": RuleParams(deadline=IMMEDIATE),
        "DA-SAFEGUARDING": RuleParams(deadline=h(hours=24), assumed=("deadline",)),
        "MODERN-SLAVERY": RuleParams(deadline=h(hours=24)),
        "EQUALITY-DATA": RuleParams(deadline=h(hours=7 * 24), assumed=("deadline",)),
    }


_N100_RULES = ("N100", "N100-REASON", "N100-AGEING")
N100_START = datetime(2015, 4, 1, tzinfo=UTC)
"""Home Office introduced N100 in April 2015 (day assumed to be the 1st)."""
ONE_PER_VICTIM_START = datetime(2024, 5, 1, tzinfo=UTC)
"""Counting-rules change to one rape crime per victim rather than per offender [assumed date]."""


def _pre_2015() -> dict[str, RuleParams]:
    params = {k: v for k, v in _common().items() if k not in _N100_RULES}
    params["REC-24H"] = RuleParams(
        deadline=Span(hours=72),
        due_soon=Span(hours=48),
        escalate=Span(hours=96),
        assumed=("due_soon", "escalate"),
    )
    params["MULTI-CRIME"] = RuleParams(deadline=Span(hours=72), escalate=Span(hours=96))
    return params


RULESETS: tuple[Ruleset, ...] = (
    Ruleset(
        ruleset_id="hocr-2014",
        effective_from=datetime(2000, 1, 1, tzinfo=UTC),
        effective_to=N100_START,
        params=_pre_2015(),
        rape_one_crime_per_offender=True,
        citation="HOCR before April 2015: 72 hours (HMIC Cheshire 2014); no N100",
    ),
    Ruleset(
        ruleset_id="hocr-2015",
        effective_from=N100_START,
        effective_to=ONE_PER_VICTIM_START,
        params=_common(),
        rape_one_crime_per_offender=True,
        citation="HOCR April 2015: 24 hours from receipt; N100 introduced",
    ),
    Ruleset(
        ruleset_id="hocr-2024",
        effective_from=ONE_PER_VICTIM_START,
        effective_to=None,
        params=_common(),
        rape_one_crime_per_offender=False,
        citation="HOCR May 2024: one rape crime per victim",
    ),
)


@dataclass(frozen=True, slots=True)
class RulesetCatalogue:
    """All rulesets with configuration overrides applied; picks one by trigger time."""

    rulesets: tuple[Ruleset, ...] = RULESETS

    def for_time(self, at: datetime) -> Ruleset:
        """The ruleset judging a trigger at `at` (the earliest one for times before them all)."""
        for ruleset in self.rulesets:
            if ruleset.covers(at):
                return ruleset
        return self.rulesets[0]

    def with_overrides(self, overrides: Mapping[str, Mapping[str, float]]) -> RulesetCatalogue:
        """Apply `{rule_id: {param: value}}` to every ruleset that has the rule."""
        known = {rule for rs in self.rulesets for rule in rs.params}
        unknown = sorted(set(overrides) - known)
        if unknown:
            msg = f"ruleset overrides name unknown rules: {', '.join(unknown)}"
            raise ValueError(msg)
        updated = []
        for rs in self.rulesets:
            params = {
                rule: (p.override(overrides[rule]) if rule in overrides else p)
                for rule, p in rs.params.items()
            }
            updated.append(replace(rs, params=params))
        return RulesetCatalogue(tuple(updated))
