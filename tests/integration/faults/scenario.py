"""The parts every streaming fault scenario shares: its input, its verdict, its figures.

Input: a simulated history whose every deadline passed before the run (see `expected`), with a
malformed *marker* after every `MARKER_EVERY` records. Each marker is dead-lettered with an id
derived from its topic position, so a marker processed twice (input re-consumed after a crash)
shows up as a duplicate dead letter: the count of re-processed input the faults caused.

Verdict: nothing lost (every standing alert of the replay is on the alerts topic; every work
queue folded from the start holds exactly the replay's open items, with their rule and stage)
and nothing doubled (no subject holds two open items of one rule in one queue).

Figures: each scenario prints one `FAULTS {json}` line and appends it to the JSON-lines file
named by NCRS_FAULTS_REPORT, if set; docs/reliability.md quotes them.
"""

from __future__ import annotations

import base64
import json
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.integration.faults.expected import Expected, expected_from_replay, live_open_items
from tests.integration.faults.kafka import Outputs
from tests.integration.faults.stream import Record, load, simulate

HISTORY_AGE_DAYS = 33
"""The history starts this many days before today: younger than the engine's 35-day retention
(a re-delivered event still finds its case), old enough that every deadline, tail included,
passed days before the run (simulated days + the simulator's 7-day tail + deadlines <= 12)."""
MARKER_EVERY = 25
MARKER_PREFIX = b"faults-marker-not-json "


@dataclass(frozen=True)
class History:
    """A simulated history on disk and the records that feed it (markers included)."""

    path: Path
    records: list[Record]
    events: int
    markers: int


def history(
    workdir: Path, *, days: int, incidents_per_day: int, seed: int, marker_every: int = MARKER_EVERY
) -> History:
    """Simulate `days` of incidents ending well in the past, and interleave the markers."""
    if days > HISTORY_AGE_DAYS - 19:
        msg = f"days={days}: the tail and deadlines would reach the present"
        raise ValueError(msg)
    start = (datetime.now(UTC) - timedelta(days=HISTORY_AGE_DAYS)).date()
    path = simulate(
        workdir / "history.ndjson",
        start=start,
        days=days,
        incidents_per_day=incidents_per_day,
        seed=seed,
    )
    lines = load(path)
    records: list[Record] = []
    markers = 0
    for index, record in enumerate(lines):
        records.append(record)
        if index % marker_every == 0:
            # Same topic and key as its neighbour: it lands in the partition being processed.
            records.append(Record(record.topic, record.key, MARKER_PREFIX + str(index).encode()))
            markers += 1
    return History(path, records, len(lines), markers)


@dataclass
class Verdict:
    """Live outputs against the replay: what is missing, extra or doubled."""

    expected: Expected
    outputs: Outputs
    missing_alerts: list[str] = field(default_factory=list)
    extra_items: dict[str, list[str]] = field(default_factory=dict)
    missing_items: dict[str, list[str]] = field(default_factory=dict)
    changed_items: dict[str, list[str]] = field(default_factory=dict)
    doubled_subjects: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (
            self.missing_alerts
            or self.extra_items
            or self.missing_items
            or self.changed_items
            or self.doubled_subjects
        )

    def describe(self) -> str:
        """A short account for an assertion message (ids only)."""
        return json.dumps(
            {
                "missing_alerts": self.missing_alerts[:10],
                "missing_alert_count": len(self.missing_alerts),
                "extra_items": {q: ids[:5] for q, ids in self.extra_items.items()},
                "missing_items": {q: ids[:5] for q, ids in self.missing_items.items()},
                "changed_items": {q: ids[:5] for q, ids in self.changed_items.items()},
                "doubled_subjects": self.doubled_subjects[:10],
            },
            indent=1,
        )

    def figures(self) -> dict[str, Any]:
        """Counts for the report."""
        letters = Counter(d["dead_letter_id"] for d in self.outputs.dead_letters)
        return {
            "alerts_on_topic": len(self.outputs.alerts),
            "replay_alerts": self.expected.all_alerts,
            "replay_dead_letters": self.expected.dead_letters,
            "workqueue_records": self.outputs.workqueue_records,
            "raw_duplicate_alerts": self.outputs.raw_duplicate_alerts,
            "retracted_alerts": sum(1 for a in self.outputs.alerts if a["stage"] == "retracted"),
            "standing_alerts_expected": len(self.expected.standing_alerts),
            "standing_alerts_missing": len(self.missing_alerts),
            "open_items_expected": self.expected.open_item_count(),
            "open_items_live": sum(len(i) for i in self.outputs.open_items.values()),
            "items_extra": sum(len(v) for v in self.extra_items.values()),
            "items_missing": sum(len(v) for v in self.missing_items.values()),
            "items_changed": sum(len(v) for v in self.changed_items.values()),
            "dead_letters_unique": len(letters),
            "dead_letters_duplicate_records": sum(n - 1 for n in letters.values()),
        }


def judge(outputs: Outputs, history_path: Path, as_of: datetime | None = None) -> Verdict:
    """Compare what a fleet wrote with a replay of the same history (see module docstring)."""
    expected = expected_from_replay(history_path, as_of or datetime.now(UTC))
    verdict = Verdict(expected, outputs)
    verdict.missing_alerts = sorted(set(expected.standing_alerts) - outputs.alert_ids)
    live = live_open_items(outputs.open_items)
    for queue in sorted(set(live) | set(expected.open_items)):
        have, want = live.get(queue, {}), expected.open_items.get(queue, {})
        extra = sorted(set(have) - set(want))
        missing = sorted(set(want) - set(have))
        changed = sorted(k for k in set(have) & set(want) if have[k] != want[k])
        if extra:
            verdict.extra_items[queue] = extra
        if missing:
            verdict.missing_items[queue] = missing
        if changed:
            verdict.changed_items[queue] = changed
    for queue, items in outputs.open_items.items():
        subjects = Counter(
            (item["rule_id"], json.dumps(item["subject"], sort_keys=True))
            for item in items.values()
        )
        verdict.doubled_subjects += [
            f"{queue.value}:{rule}" for (rule, _), n in subjects.items() if n > 1
        ]
    return verdict


def marker_letters(outputs: Outputs) -> tuple[int, int]:
    """(distinct markers dead-lettered, marker dead-letter records beyond the first of each id).

    Distinct by content: a producer's retry may write a marker twice at two offsets, which is
    new input, not re-processing; re-processing repeats an id (the same topic position).
    """
    payloads: set[bytes] = set()
    ids: Counter[str] = Counter()
    for letter in outputs.dead_letters:
        raw = base64.b64decode(letter["original_b64"])
        if raw.startswith(MARKER_PREFIX):
            payloads.add(raw)
            ids[letter["dead_letter_id"]] += 1
    return len(payloads), sum(n - 1 for n in ids.values())


def report(scenario: str, **figures: Any) -> dict[str, Any]:
    """Print the scenario's figures and append them to $NCRS_FAULTS_REPORT (JSON lines)."""
    line = {"scenario": scenario, **figures}
    text = json.dumps(line, default=str, sort_keys=True)
    print(f"FAULTS {text}")  # noqa: T201 - the measured figures are the point of the run
    target = os.environ.get("NCRS_FAULTS_REPORT")
    if target:
        with Path(target).open("a", encoding="utf-8") as handle:
            handle.write(text + "\n")
    return line


def conclude(
    scenario: str, hist: History, outputs: Outputs, *, fed_s: float, settle_s: float, **figures: Any
) -> tuple[Verdict, int, int]:
    """Judge a run against a replay of its history and report the scenario's own figures with
    those every run has; returns (verdict, markers dead-lettered, re-processed markers) for the
    scenario's assertions. Blocking (it replays the history): call it in a thread."""
    verdict = judge(outputs, hist.path)
    markers, reprocessed = marker_letters(outputs)
    report(
        scenario,
        events=hist.events,
        records_fed=len(hist.records),
        fed_in_s=round(fed_s, 1),
        settled_after_feed_s=round(settle_s, 1),
        reprocessed_markers=reprocessed,
        **figures,
        **verdict.figures(),
    )
    return verdict, markers, reprocessed


def seconds(values: Sequence[float]) -> list[float]:
    """Rounded for the report."""
    return [round(v, 1) for v in values]
