"""Which Kafka topics one worker fleet reads and writes, resolved from `Settings`.

Names come from `streams/topics.py` with `NCRS_TOPIC_SUFFIX` appended (tests give each run its own
topics on a shared broker); the two internal side topics are prefixed by the app id, like faust's
own changelogs. Every keyed topic has `NCRS_TOPIC_PARTITIONS` partitions: faust co-partitions all
subscribed topics with the same count, so partition p of every input, side topic and changelog is
owned by one worker (faust/assignor/partition_assignor.py, `_get_copartitioned_groups`).
"""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka.partitioner import murmur2

from schemas.codes import Queue
from streams.admin import resolve_specs
from streams.live.clock import source_id
from streams.rules.model import CaseKind
from streams.settings import Settings
from streams.topics import (
    ALERTS,
    CANCELLATIONS,
    CRIME_RECORDS,
    DEAD_LETTERS,
    INCIDENTS,
    INPUT_TOPICS,
    VICTIM_CONTACT,
    WORKQUEUE_TOPICS,
    TopicSpec,
)


def partition_for(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner (murmur2, as Java and aiokafka) picks for `key`.

    The worker applies an event locally only when it arrived on this partition of its key, and
    forwards it through a side topic otherwise, so a producer with another partitioner costs a
    hop but never splits one case across partitions.
    """
    hashed: int = murmur2(key.encode("utf-8"))
    return (hashed & 0x7FFFFFFF) % partitions


@dataclass(frozen=True, slots=True)
class Topology:
    """Actual topic names of one deployment, and the canonical name behind each input."""

    partitions: int
    incidents: str
    crime_records: str
    cancellations: str
    victim_contact: str
    alerts: str
    dead_letters: str
    workqueues: dict[Queue, str]
    incident_side: str
    crime_side: str
    canonical: dict[str, str]

    @classmethod
    def from_settings(cls, settings: Settings) -> Topology:
        """Resolve names and partition counts the way `ncrs-monitor topics create` does."""
        specs = {
            s.name.removesuffix(settings.topic_suffix) if settings.topic_suffix else s.name: s
            for s in resolve_specs(
                settings,
                (*INPUT_TOPICS, ALERTS, DEAD_LETTERS, *WORKQUEUE_TOPICS.values()),
                suffix=settings.topic_suffix,
            )
        }

        def name(spec: TopicSpec) -> str:
            return specs[spec.name].name

        return cls(
            partitions=settings.topic_partitions,
            incidents=name(INCIDENTS),
            crime_records=name(CRIME_RECORDS),
            cancellations=name(CANCELLATIONS),
            victim_contact=name(VICTIM_CONTACT),
            alerts=name(ALERTS),
            dead_letters=name(DEAD_LETTERS),
            workqueues={q: name(spec) for q, spec in WORKQUEUE_TOPICS.items()},
            incident_side=f"{settings.app_id}-incident-side",
            crime_side=f"{settings.app_id}-crime-side",
            canonical={name(spec): spec.name for spec in INPUT_TOPICS},
        )

    def inputs_of(self, kind: CaseKind) -> tuple[str, ...]:
        """The input topics an aggregate's agent consumes (besides its side topic)."""
        if kind is CaseKind.INCIDENT:
            return (self.incidents,)
        return (self.crime_records, self.cancellations, self.victim_contact)

    def side_of(self, kind: CaseKind) -> str:
        """The internal topic carrying forwarded events and clock ticks to an aggregate."""
        return self.incident_side if kind is CaseKind.INCIDENT else self.crime_side

    @property
    def all_inputs(self) -> tuple[str, ...]:
        """Every input topic, in declaration order."""
        return (self.incidents, self.crime_records, self.cancellations, self.victim_contact)

    @property
    def clock_sources(self) -> frozenset[str]:
        """Every input partition whose bound a partition's decision clock waits for
        (streams/live/clock.py): a crime record on any partition may be forwarded anywhere."""
        return frozenset(
            source_id((self.canonical[name], p))
            for name in self.all_inputs
            for p in range(self.partitions)
        )

    @property
    def keyed_outputs(self) -> tuple[str, ...]:
        """Output topics that must exist before start (the dead-letter topic included)."""
        return (self.alerts, self.dead_letters, *self.workqueues.values())
