"""What a replay of the same input decides: the yardstick for every fault scenario.

The live worker decides on the wall clock, the replay on the event-time watermark. The scenarios
feed history whose every deadline passed days before the test runs (and whose cases are younger
than the engine's 35-day retention and the max-age guardrail), so the live clock stands past all
of them from the first event on, and the replay is run to the same wall-clock time (`as_of`).

Decisions that can then still differ depend only on the order in which the live worker happens
to see events of different topics (a crime record before or after its incident), never on a
fault. They are left out of the comparison, by design:

- an obligation met on time or cancelled: the live worker may announce `due_soon`/`breached`/
  `escalated` and then `retracted` (it saw the trigger first, at a clock already past the
  deadline), or nothing at all (it saw the satisfying record first); the replay announces at most
  `due_soon`. Its work item is closed in both, and that IS compared;
- an obligation met late: stages due after the late record's time (the live clock may pass them
  before the record arrives);
- `undecided` and data-completeness alerts: source silence is measured on different clocks.

What is compared is what a force relies on: every alert of an obligation whose breach stands (it
is still open, or was resolved late) up to the time it was met, and the exact set of open work
items of every queue, with their rule and stage.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from schemas.alerts import AlertEvent
from schemas.codes import Queue, Stage
from streams.replay.runner import replay_files
from streams.rules.engine import DATA_COMPLETENESS

_BREACH = {Stage.BREACHED, Stage.ESCALATED, Stage.RESOLVED_LATE}


@dataclass(frozen=True)
class Expected:
    """The replay's decisions, reduced to what a fault must not change."""

    standing_alerts: dict[str, AlertEvent]
    """alert id -> alert, for obligations whose breach stands."""
    open_items: dict[str, dict[str, tuple[str, str]]]
    """queue -> item id -> (rule id, stage) of the work items open at the end."""
    all_alerts: int
    dead_letters: int

    def open_item_count(self) -> int:
        return sum(len(items) for items in self.open_items.values())


def standing(alerts: list[AlertEvent]) -> dict[str, AlertEvent]:
    """Alerts of obligations whose breach stands, up to the time each was met (see above)."""
    by_obligation: dict[str, list[AlertEvent]] = defaultdict(list)
    for alert in alerts:
        if alert.rule_id != DATA_COMPLETENESS and alert.stage is not Stage.UNDECIDED:
            by_obligation[alert.obligation_id].append(alert)
    out: dict[str, AlertEvent] = {}
    for group in by_obligation.values():
        stages = {a.stage for a in group}
        if Stage.RETRACTED in stages or not stages & _BREACH:
            continue
        # Met late: the stages the replay announced are those due before the record's time,
        # which the live worker announces too, whichever order it sees the events in.
        out.update((a.alert_id, a) for a in group)
    return out


def expected_from_replay(path: Path, as_of: datetime) -> Expected:
    """Replay `path` to `as_of` with the production rules and reduce it (see module docstring)."""
    result = replay_files([path], as_of=as_of)
    items: dict[str, dict[str, tuple[str, str]]] = defaultdict(dict)
    for item in result.open_items.values():
        items[item.queue.value][item.item_id] = (item.rule_id, item.stage.value)
    return Expected(
        standing_alerts=standing(result.alerts),
        open_items=dict(items),
        all_alerts=len(result.alerts),
        dead_letters=len(result.dead_letters),
    )


def live_open_items(
    open_items: Mapping[Queue, Mapping[str, Mapping[str, Any]]],
) -> dict[str, dict[str, tuple[str, str]]]:
    """The folded work-queue topics in the shape of `Expected.open_items`."""
    return {
        queue.value: {k: (str(v["rule_id"]), str(v["stage"])) for k, v in items.items()}
        for queue, items in open_items.items()
        if items
    }
