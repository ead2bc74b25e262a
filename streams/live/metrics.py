"""The worker's Prometheus metrics, on a registry of their own (names: docs/architecture.md).

An own `CollectorRegistry` keeps the `ncrs_` series apart from anything faust or a library
registers globally, and lets tests start from a fresh registry and read values back with
`get_sample_value`. Every bounded label value is initialised at start, so a dashboard sees a
zero rather than a missing series before the first event. Labels are codes only, never ids.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from schemas.codes import OffenceGroup, Queue, Severity, Stage
from schemas.deadletter import DeadLetterReason
from streams.rules.model import Outcome

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


class Metrics:
    """Every `ncrs_` metric of a live worker, registered on `registry`."""

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        rule_ids: Iterable[str],
        input_topics: Iterable[str],
        version: str,
        ruleset: str,
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
        self.source_last_event = Gauge(
            "ncrs_source_last_event_timestamp_seconds",
            "Event time of the last event consumed.",
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
            "ncrs_ticks_processed", "Clock ticks handled (one per partition per tick).", registry=r
        )
        self.rebalances = Counter("ncrs_rebalances", "Consumer-group rebalances.", registry=r)
        self.table_keys = Gauge(
            "ncrs_table_keys", "Cases held in active partitions.", ["table"], registry=r
        )
        self.build_info = Gauge(
            "ncrs_build_info", "Version and ruleset (value 1).", ["version", "ruleset"], registry=r
        )
        self.build_info.labels(version=version, ruleset=ruleset).set(1)
        self._initialise(rules, topics)

    def _initialise(self, rules: list[str], topics: list[str]) -> None:
        """Create every bounded series at zero so it exists before the first event."""
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
            self.event_time_lag.labels(topic=topic)
            self.source_last_event.labels(topic=topic)
            self.source_stale.labels(source=topic)
        for table in TABLES:
            self.table_keys.labels(table=table)
        for rule in rules:
            for stage in Stage:
                for severity in Severity:
                    for queue in Queue:
                        self.alerts.labels(
                            rule=rule, stage=stage.value, severity=severity.value, queue=queue.value
                        )

    def alert(self, rule: str, stage: str, severity: str, queue: str) -> None:
        """Count one alert emitted."""
        self.alerts.labels(rule=rule, stage=stage, severity=severity, queue=queue).inc()
