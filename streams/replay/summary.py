"""The replay's report document: compliance measures plus a summary of the open work.

This JSON is what `ncrs-monitor report` renders. It holds counts, codes and references only
(incident and crime refs in the open work items, so a record can be opened in the source system
under its own access control), never personal data.

R12, the recorded crime of the last 12 months that the HMIC-style interval and the "estimated
unrecorded a year" need, is not in an event stream: it is annualised here from the crimes
recorded in the replayed period, and labelled as such.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from schemas.alerts import WorkItem
from schemas.codes import Stage
from streams.replay.runner import ReplayResult

REPORT_KIND = "ncrs.replay_report"
REPORT_VERSION = 1
MOST_SEVERE = 10
_DAY = timedelta(days=1)


def _period_days(first: datetime | None, last: datetime | None) -> float:
    if first is None or last is None:
        return 0.0
    return max(1.0, (last - first) / _DAY)


def _item(item: WorkItem) -> dict[str, Any]:
    """A work item as the report lists it: refs, codes and times only."""
    return {
        "queue": item.queue.value,
        "severity": item.severity.value,
        "stage": item.stage.value,
        "rule_id": item.rule_id,
        "reason_code": item.reason_code,
        "offence_group": item.offence_group.value if item.offence_group else None,
        "area": item.area,
        "deadline": item.deadline.isoformat(),
        **item.subject.model_dump(exclude_none=True),
    }


def _annualised(count: int, days: float) -> float | None:
    return count * 365.0 / days if days and count else None


def build_report(result: ReplayResult, *, inputs: list[str], lateness: timedelta) -> dict[str, Any]:
    """The report document of one replay (JSON-able, deterministic for the same input)."""
    days = _period_days(result.first_event_at, result.last_event_at)
    recorded: Counter[str] = Counter()
    for (measure, group, _area), n in result.measures.counts.items():
        if measure == "crimes.recorded":
            recorded[group] += n
    r12 = _annualised(sum(recorded.values()), days)
    r12_by_group = {
        group: value
        for group, n in sorted(recorded.items())
        if (value := _annualised(n, days)) is not None
    }
    alerts: dict[str, Counter[str]] = {}
    for alert in result.alerts:
        alerts.setdefault(alert.rule_id, Counter())[alert.stage.value] += 1
    items = list(result.open_items.values())
    unique = {item.item_id: item for item in items}.values()
    force = result.engine.ctx.force_code if result.engine is not None else None
    return {
        "kind": REPORT_KIND,
        "schema_version": REPORT_VERSION,
        "force_code": force,
        "inputs": inputs,
        "lateness_seconds": lateness.total_seconds(),
        "period": {
            "first_event": result.first_event_at.isoformat() if result.first_event_at else None,
            "last_event": result.last_event_at.isoformat() if result.last_event_at else None,
            "as_of": result.as_of.isoformat() if result.as_of else None,
            "days": round(days, 3),
        },
        "counts": {
            "lines": result.lines,
            "events": result.events,
            "dead_letters": len(result.dead_letters),
            "alerts": len(result.alerts),
        },
        "sources": {
            "events_by_topic": result.events_by_source,
            "absent": result.absent_sources,
        },
        "alerts_by_rule": {
            rule: dict(sorted(stages.items())) for rule, stages in sorted(alerts.items())
        },
        "breaches_by_rule": {
            rule: stages[Stage.BREACHED.value]
            for rule, stages in sorted(alerts.items())
            if stages[Stage.BREACHED.value]
        },
        "open_breaches": result.open_breaches,
        "recorded_12m_basis": (
            f"annualised from {sum(recorded.values())} crimes recorded over {days:.1f} days "
            "of replayed events (not the force's published 12-month figure)"
        ),
        "measures": result.measures.to_dict(recorded_12m=r12, recorded_12m_by_group=r12_by_group),
        "open_work_items": {
            "total": len(unique),
            "by_queue": dict(sorted(Counter(i.queue.value for i in items).items())),
            "by_severity": dict(sorted(Counter(i.severity.value for i in unique).items())),
            "by_rule": dict(sorted(Counter(i.rule_id for i in unique).items())),
            "most_severe": [_item(i) for i in _dedup(result.most_severe_items(len(items)))][
                :MOST_SEVERE
            ],
        },
    }


def _dedup(items: list[WorkItem]) -> list[WorkItem]:
    """One entry per obligation (an item is on its owner's queue and on each one notified)."""
    seen: set[str] = set()
    out = []
    for item in items:
        if item.item_id not in seen:
            seen.add(item.item_id)
            out.append(item)
    return out
