"""The worker's Prometheus metrics, on a registry of their own (names: docs/architecture.md).

An own `CollectorRegistry` keeps the `ncrs_` series apart from anything faust or a library
registers globally, and lets tests start from a fresh registry and read values back with
`get_sample_value`. Every bounded label value is initialised at start, so a dashboard sees a
zero (arrival times: the start time) rather than a missing series before the first event.
Labels are codes only, never ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from schemas.codes import OffenceGroup, Queue, Severity, Stage
from schemas.deadletter import DeadLetterReason
from streams.rules.engine import DATA_COMPLETENESS
from streams.rules.model import CaseKind, Outcome
from streams.rules.ruleset import RulesetCatalogue
from streams.topics import INPUT_TOPICS

DURATION_BUCKETS = (
    3600.0,
    4 * 3600.0,
    16 * 3600.0,
    86400.0,
    2 * 86400.0,
    4 * 86400.0,
    7 * 86400.0,
    14 * 86400.0,
)
"""Around the thresholds that matter: 1 h, 24 h, 2 and 5 working days (with weekends)."""

TABLES = ("incident_cases", "crime_cases")
EVENT_TYPES_OF = {spec.name: spec.event_types for spec in INPUT_TOPICS}

S1, S2, S3, S4 = Severity.S1, Severity.S2, Severity.S3, Severity.S4
ALERT_ROUTES: Mapping[str, tuple[tuple[Severity, ...], Queue]] = {
    "REC-24H": ((S1, S2, S3), Queue.OMU),
    "MULTI-CRIME": ((S1, S2, S3), Queue.OMU),
    "CLOSE-REVIEW": ((S2,), Queue.CONTROL_ROOM),
    "N100": ((S1,), Queue.FCR),
    "N100-REASON": ((S1,), Queue.FCR),
    "RAPE-MISCLASSIFIED": ((S1,), Queue.FCR),
    "N100-AGEING": ((S2,), Queue.FCR),
    "CANCEL-AUTHORITY": ((S1, S2), Queue.FCR),
    "CANCEL-NOTIFY": ((S2, S3), Queue.VICTIM_CARE),
    "CARE-REFERRAL": ((S2, S3), Queue.VICTIM_CARE),
    "CRIME-CONFIRMATION": ((S3,), Queue.VICTIM_CARE),
    "DA-SAFEGUARDING": ((S1, S2), Queue.PPU),
    "MODERN-SLAVERY": ((S1, S2), Queue.PPU),
    "EQUALITY-DATA": ((S4,), Queue.DATA_QUALITY),
    "FILING-AUTHORITY": ((S2,), Queue.OMU),
    DATA_COMPLETENESS: ((S2,), Queue.DATA_QUALITY),
}
"""Each rule's possible severities and owning queue (the `queue` label of an alert), as the
families in streams/rules/ assign them (rules file §3); tests/unit/live/test_metrics.py checks
the families against it. Only these combinations are initialised, so `ncrs_alerts_total` starts
with about a hundred zero series rather than every rule x stage x severity x queue."""


def possible_stages(rule_id: str, catalogue: RulesetCatalogue) -> tuple[Stage, ...]:
    """The alert stages a rule can reach under any ruleset (with configured overrides).

    Stages with a threshold (due_soon, escalated) only where some ruleset sets one; any rule
    can breach, resolve late or be retracted; only the source-silence pseudo-rule is undecided.
    """
    if rule_id == DATA_COMPLETENESS:
        return (Stage.UNDECIDED, Stage.RESOLVED_LATE)
    params = [rs.rule(rule_id) for rs in catalogue.rulesets if rs.enabled(rule_id)]
    stages = [Stage.DUE_SOON] if any(p.due_soon is not None for p in params) else []
    stages.append(Stage.BREACHED)
    if any(p.escalate is not None for p in params):
        stages.append(Stage.ESCALATED)
    return (*stages, Stage.RESOLVED_LATE, Stage.RETRACTED)


def alert_series(
    rule_ids: Iterable[str], catalogue: RulesetCatalogue
) -> Iterator[tuple[str, str, str, str]]:
    """(rule, stage, severity, queue) of every alert series that can occur."""
    for rule in sorted(set(rule_ids)):
        route = ALERT_ROUTES.get(rule)
        if route is None:
            continue  # a rule without a declared route: its series appear when first counted
        severities, queue = route
        for stage in possible_stages(rule, catalogue):
            for severity in severities:
                yield rule, stage.value, severity.value, queue.value


class Metrics:
    """Every `ncrs_` metric of a live worker, registered on `registry`.

    `ncrs_source_last_arrival_timestamp_seconds` starts at `started_at` (default: now, as the
    worker builds its metrics), not at 0, so silence counts from the later of the last arrival
    and the worker's start: NcrsSourceTopicSilent neither fires the moment a worker starts
    (`time() - 0`) nor stays quiet for a feed that never speaks once the worker has been up past
    the limit. The price: a restart starts the count again (docs/runbooks.md).
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        rule_ids: Iterable[str],
        input_topics: Iterable[str],
        version: str,
        ruleset: str,
        catalogue: RulesetCatalogue | None = None,
        open_limit: int | None = None,
        started_at: datetime | None = None,
    ) -> None:
        rules = sorted(set(rule_ids))
        topics = sorted(set(input_topics))
        r = registry
        self.registry = registry
        self.events_consumed = Counter(
            "ncrs_events_consumed", "Input events consumed.", ["topic", "type"], registry=r
        )
        self.dead_letters = Counter(
            "ncrs_dead_letters", "Inputs sent to the dead-letter topic.", ["reason"], registry=r
        )
        self.obligations_open = Gauge(
            "ncrs_obligations_open", "Open obligations on this worker.", ["rule"], registry=r
        )
        self.obligations_opened = Counter(
            "ncrs_obligations_opened", "Obligations opened.", ["rule"], registry=r
        )
        self.obligations_closed = Counter(
            "ncrs_obligations_closed", "Obligations closed.", ["rule", "outcome"], registry=r
        )
        self.alerts = Counter(
            "ncrs_alerts",
            "Alert lifecycle events emitted.",
            ["rule", "stage", "severity", "queue"],
            registry=r,
        )
        self.breaches = Counter(
            "ncrs_breaches",
            "Breached stages emitted.",
            ["rule", "offence_group", "area", "cause"],
            registry=r,
        )
        self.crimes_recorded = Counter(
            "ncrs_crimes_recorded", "Crimes recorded.", ["offence_group", "area"], registry=r
        )
        self.crimes_recorded_within_24h = Counter(
            "ncrs_crimes_recorded_within_24h",
            "Crimes recorded within 24 hours of receipt.",
            ["offence_group", "area"],
            registry=r,
        )
        self.time_to_record = Histogram(
            "ncrs_time_to_record_seconds",
            "Receipt of a report to its crime record.",
            ["offence_group"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.time_to_referral = Histogram(
            "ncrs_time_to_referral_seconds",
            "Receipt of a report to the victim-care referral.",
            ["offence_group"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.workqueue_open_items = Gauge(
            "ncrs_workqueue_open_items", "Open work items on this worker.", ["queue"], registry=r
        )
        self.event_time_lag = Gauge(
            "ncrs_event_time_lag_seconds",
            "Wall clock minus event time of the last event consumed.",
            ["topic"],
            registry=r,
        )
        self.source_last_arrival = Gauge(
            "ncrs_source_last_arrival_timestamp_seconds",
            "Wall clock at which this worker last consumed an event of the topic (arrival, not "
            "event time); the worker's start time until the first one.",
            ["topic"],
            registry=r,
        )
        self.source_stale = Gauge(
            "ncrs_source_stale",
            "1 while a source is silent past the limit.",
            ["source"],
            registry=r,
        )
        self.ticks_processed = Counter(
            "ncrs_ticks_processed",
            "Clock ticks handled (each worker sends one per side partition per interval).",
            registry=r,
        )
        self.rebalances = Counter("ncrs_rebalances", "Consumer-group rebalances.", registry=r)
        self.table_keys = Gauge(
            "ncrs_table_keys", "Cases held in active partitions.", ["table"], registry=r
        )
        self.build_info = Gauge(
            "ncrs_build_info", "Version and ruleset (value 1).", ["version", "ruleset"], registry=r
        )
        self.decision_clock_lag = Gauge(
            "ncrs_decision_clock_lag_seconds",
            "Wall clock minus the oldest decision clock of this worker's partitions "
            "(grows while a backlog is drained; NaN until every input has reported).",
            ["aggregate"],
            registry=r,
        )
        self.guardrail_limit = Gauge(
            "ncrs_guardrail_limit",
            "Open obligations of a rule one worker may hold (NCRS_MAX_OPEN_OBLIGATIONS_PER_RULE).",
            ["rule"],
            registry=r,
        )
        self.guardrail_exceeded = Counter(
            "ncrs_guardrail_exceeded",
            "Obligations opened beyond the rule's open limit (still opened and monitored).",
            ["rule"],
            registry=r,
        )
        self.build_info.labels(version=version, ruleset=ruleset).set(1)
        started = started_at or datetime.now(UTC)
        self._initialise(rules, topics, catalogue or RulesetCatalogue(), started)
        for rule in rules:
            self.guardrail_exceeded.labels(rule=rule)
            if open_limit is not None:
                self.guardrail_limit.labels(rule=rule).set(open_limit)

    def _initialise(
        self,
        rules: list[str],
        topics: list[str],
        catalogue: RulesetCatalogue,
        started: datetime,
    ) -> None:
        """Create every bounded series so it exists before the first event: at zero, but
        arrival times at the worker's start (see the class docstring)."""
        for rule in rules:
            self.obligations_open.labels(rule=rule)
            self.obligations_opened.labels(rule=rule)
            for outcome in Outcome:
                self.obligations_closed.labels(rule=rule, outcome=outcome.value)
        for reason in DeadLetterReason:
            self.dead_letters.labels(reason=reason.value)
        for queue in Queue:
            self.workqueue_open_items.labels(queue=queue.value)
        for group in OffenceGroup:
            self.time_to_record.labels(offence_group=group.value)
            self.time_to_referral.labels(offence_group=group.value)
        for topic in topics:
            for event_type in EVENT_TYPES_OF.get(topic, ()):
                self.events_consumed.labels(topic=topic, type=event_type)
            self.event_time_lag.labels(topic=topic)
            self.source_last_arrival.labels(topic=topic).set(started.timestamp())
            self.source_stale.labels(source=topic)
        for table in TABLES:
            self.table_keys.labels(table=table)
        for rule, stage, severity, owner in alert_series(rules, catalogue):
            self.alerts.labels(rule=rule, stage=stage, severity=severity, queue=owner)
        for kind in CaseKind:
            self.decision_clock_lag.labels(aggregate=kind.value).set(float("nan"))

    def alert(self, rule: str, stage: str, severity: str, queue: str) -> None:
        """Count one alert emitted."""
        self.alerts.labels(rule=rule, stage=stage, severity=severity, queue=queue).inc()
