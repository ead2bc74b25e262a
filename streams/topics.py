"""Every Kafka topic, declared once: name, key, partitions, configs and which side sends.

Producers must key each input topic by the aggregate it updates, so that all events of one
incident (or one crime) land on one partition and are processed in order by one worker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from schemas.codes import Queue


class Role(StrEnum):
    """What a topic carries, for AsyncAPI and for the worker's start-up checks."""

    INPUT = "input"
    OUTPUT = "output"
    INTERNAL = "internal"


@dataclass(frozen=True)
class TopicSpec:
    """One topic as the monitor expects it to exist on the broker."""

    name: str
    key: str
    partitions: int
    role: Role
    event_types: tuple[str, ...]
    description: str
    configs: dict[str, str] = field(default_factory=dict)
    sender: str = ""
    receiver: str = ""


DAY_MS = 24 * 60 * 60 * 1000
INPUT_RETENTION = {"cleanup.policy": "delete", "retention.ms": str(30 * DAY_MS)}
"""Inputs are kept 30 days: long enough to rebuild state after an outage or replay a month."""

COMPACTED = {"cleanup.policy": "compact", "min.compaction.lag.ms": "60000"}
DEFAULT_PARTITIONS = 6

INCIDENTS = TopicSpec(
    name="ncrs.incidents.v1",
    key="incident_ref",
    partitions=DEFAULT_PARTITIONS,
    role=Role.INPUT,
    event_types=(
        "incident.reported",
        "incident.disclosure_added",
        "incident.closed",
        "incident.reviewed",
        "safeguarding.assessed",
        "nrm.referral_made",
        "n100.recorded",
        "n100.resolved",
    ),
    description="Command-and-control incidents, disclosures, reviews, safeguarding, NRM and N100.",
    configs=INPUT_RETENTION,
    sender="command and control; records system (N100)",
    receiver="ncrs-monitor",
)
CRIME_RECORDS = TopicSpec(
    name="ncrs.crime-records.v1",
    key="crime_ref",
    partitions=DEFAULT_PARTITIONS,
    role=Role.INPUT,
    event_types=(
        "crime.recorded",
        "crime.reclassified",
        "crime.updated",
        "crime.filed",
        "crime.reinstated",
        "crime.cancellation_ratified",
    ),
    description="Crime records from the records system (e.g. Niche).",
    configs=INPUT_RETENTION,
    sender="records system",
    receiver="ncrs-monitor",
)
CANCELLATIONS = TopicSpec(
    name="ncrs.cancellations.v1",
    key="crime_ref",
    partitions=DEFAULT_PARTITIONS,
    role=Role.INPUT,
    event_types=("crime.cancelled",),
    description="Crime cancellations (C1-C4) with decision-maker role and AVI codes.",
    configs=INPUT_RETENTION,
    sender="records system",
    receiver="ncrs-monitor",
)
VICTIM_CONTACT = TopicSpec(
    name="ncrs.victim-contact.v1",
    key="crime_ref",
    partitions=DEFAULT_PARTITIONS,
    role=Role.INPUT,
    event_types=("victim.notified", "victim_care.referral"),
    description="Victim notifications and victim-care referrals.",
    configs=INPUT_RETENTION,
    sender="records system; victim-care unit",
    receiver="ncrs-monitor",
)
ALERTS = TopicSpec(
    name="ncrs.alerts.v1",
    key="alert_id",
    partitions=DEFAULT_PARTITIONS,
    role=Role.OUTPUT,
    event_types=("ncrs.alert",),
    description="Alert lifecycle events (due_soon, breached, escalated, resolved_late, ...).",
    configs={"cleanup.policy": "delete", "retention.ms": str(400 * DAY_MS)},
    sender="ncrs-monitor",
    receiver="supervisor notifier, Force Crime Registrar audit, report",
)
DEAD_LETTERS = TopicSpec(
    name="ncrs.deadletter.v1",
    key="dead_letter_id",
    partitions=1,
    role=Role.OUTPUT,
    event_types=("ncrs.dead_letter",),
    description="Rejected input with reason and origin; holds original bytes, so restricted.",
    configs={"cleanup.policy": "delete", "retention.ms": str(14 * DAY_MS)},
    sender="ncrs-monitor",
    receiver="data owners of the source systems (restricted ACL)",
)


def workqueue_topic(queue: Queue) -> TopicSpec:
    """The compacted topic of one work queue: open items as values, tombstones when closed."""
    return TopicSpec(
        name=f"ncrs.workqueue.{queue.value.replace('_', '-')}.v1",
        key="item_id",
        partitions=DEFAULT_PARTITIONS,
        role=Role.OUTPUT,
        event_types=("ncrs.work_item",),
        description=f"Open work items of the {queue.value} queue; tombstone when resolved.",
        configs=COMPACTED,
        sender="ncrs-monitor",
        receiver=f"{queue.value} work-queue consumers",
    )


INPUT_TOPICS: tuple[TopicSpec, ...] = (INCIDENTS, CRIME_RECORDS, CANCELLATIONS, VICTIM_CONTACT)
WORKQUEUE_TOPICS: dict[Queue, TopicSpec] = {q: workqueue_topic(q) for q in Queue}
ALL_TOPICS: tuple[TopicSpec, ...] = (
    *INPUT_TOPICS,
    ALERTS,
    *WORKQUEUE_TOPICS.values(),
    DEAD_LETTERS,
)

TOPIC_OF_TYPE: dict[str, TopicSpec] = {t: spec for spec in INPUT_TOPICS for t in spec.event_types}
"""Input event type to the topic it belongs on (for `produce` and for wrong-topic checks)."""
