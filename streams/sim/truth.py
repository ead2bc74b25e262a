"""Ground truth of a simulation: every obligation the generator planted, and which it breached.

The generator does not guess what the monitor will find: for each duty a planted case owes, it
records the rule, the subject (as the rule families name it), when the clock started, the
deadline (from the same rulesets the engine uses) and when, if ever, the duty was met. Whether the
duty is breached then follows from the rules file's definition alone: the deadline passed before
it was met, judged as of the last event in the file (the replay's final clock). The replay of the
same file must announce exactly these breaches; `tests/unit/test_replay.py` checks it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from streams.rules.ruleset import RulesetCatalogue


@dataclass(frozen=True, slots=True)
class Expectation:
    """One planted duty: opened at `trigger_at`, due by `deadline`, met at `satisfied_at`."""

    rule_id: str
    subject: str
    trigger_at: datetime
    deadline: datetime
    satisfied_at: datetime | None

    def breached(self, horizon: datetime, as_of: datetime) -> bool:
        """Whether the replay, run to `as_of`, must announce this duty breached.

        A duty exists only if its trigger is in the file (`trigger_at <= horizon`); it is
        breached when its deadline has passed by `as_of` and it was not met by the deadline.
        """
        if self.trigger_at > horizon or self.deadline > as_of:
            return False
        return self.satisfied_at is None or self.satisfied_at > self.deadline


@dataclass(slots=True)
class Ledger:
    """Collects expectations while the generator plans, and turns them into the truth file."""

    catalogue: RulesetCatalogue = field(default_factory=RulesetCatalogue)
    expectations: list[Expectation] = field(default_factory=list)

    def deadline(self, rule_id: str, start: datetime, *, enhanced: bool = False) -> datetime | None:
        """The rule's deadline for a clock started at `start`; None if the rule was not in force."""
        ruleset = self.catalogue.for_time(start)
        if not ruleset.enabled(rule_id):
            return None
        params = ruleset.rule(rule_id)
        span = (
            params.enhanced_deadline if enhanced and params.enhanced_deadline else params.deadline
        )
        return span.after(start)

    def expect(
        self,
        rule_id: str,
        subject: str,
        start: datetime,
        satisfied_at: datetime | None,
        *,
        trigger_at: datetime | None = None,
        enhanced: bool = False,
        immediate: bool = False,
    ) -> None:
        """Record a duty with clock start `start`, triggered by an event at `trigger_at`.

        `immediate` marks a check at once (deadline = clock start); `trigger_at` defaults to the
        clock start (they differ when a crime recorded late starts its victim-care clock at the
        earlier receipt of the report).
        """
        deadline = start if immediate else self.deadline(rule_id, start, enhanced=enhanced)
        if deadline is None:
            return
        trigger = start if trigger_at is None else trigger_at
        self.expectations.append(Expectation(rule_id, subject, trigger, deadline, satisfied_at))

    def breaches(self, horizon: datetime, as_of: datetime) -> list[tuple[str, str]]:
        """Sorted (rule, subject) of every planted breach."""
        return sorted(
            {(e.rule_id, e.subject) for e in self.expectations if e.breached(horizon, as_of)}
        )

    def opened(self, horizon: datetime) -> int:
        """How many planted duties the replay will open."""
        return sum(1 for e in self.expectations if e.trigger_at <= horizon)


@dataclass(frozen=True, slots=True)
class Truth:
    """What a simulation planted: its parameters, its breaches and its malformed lines."""

    profile: str
    seed: int
    days: int
    incidents_per_day: int
    start: datetime
    horizon: datetime
    as_of: datetime
    lateness_seconds: float
    lines: int
    events: int
    duplicates: int
    malformed_lines: tuple[int, ...]
    obligations: int
    breaches: tuple[tuple[str, str], ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, breaches as {rule, subject, stage} records."""
        return {
            "kind": "ncrs.simulation_truth",
            "profile": self.profile,
            "seed": self.seed,
            "days": self.days,
            "incidents_per_day": self.incidents_per_day,
            "start": self.start.isoformat(),
            "horizon": self.horizon.isoformat(),
            "as_of": self.as_of.isoformat(),
            "lateness_seconds": self.lateness_seconds,
            "lines": self.lines,
            "events": self.events,
            "duplicates": self.duplicates,
            "malformed_lines": list(self.malformed_lines),
            "obligations": self.obligations,
            "breaches": [
                {"rule": rule, "subject": subject, "stage": "breached"}
                for rule, subject in self.breaches
            ],
        }

    def write(self, path: Path) -> None:
        """Write the truth file (sorted keys, so it is byte-identical for the same seed)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.to_dict(), indent=1, sort_keys=True)
        path.write_text(text + "\n", encoding="utf-8")


def load_truth_breaches(path: Path) -> set[tuple[str, str]]:
    """The (rule, subject) set of breaches a truth file lists (stage `breached`)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return {(b["rule"], b["subject"]) for b in data["breaches"] if b["stage"] == "breached"}
