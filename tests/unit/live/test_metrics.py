"""The worker's metrics: own registry, series initialised at start, bounded alert labels."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry

from schemas.alerts import AlertEvent
from schemas.codes import OffenceGroup, Queue, Severity, Stage
from schemas.deadletter import DeadLetterReason
from schemas.registry import DecodeError, decode_event
from streams.live.metrics import ALERT_ROUTES, Metrics, alert_series, possible_stages
from streams.rules.engine import Engine
from streams.rules.families import ALL_FAMILIES, RULE_IDS
from streams.rules.model import Outcome
from streams.rules.replayer import Replayer
from streams.rules.ruleset import RulesetCatalogue
from streams.sim.generator import SimConfig, generate
from streams.sim.profile import load_profile
from streams.topics import INPUT_TOPICS
from tests.unit.live.harness import metrics


@pytest.fixture
def registry() -> CollectorRegistry:
    """A fresh registry with the worker's metrics on it."""
    fresh = CollectorRegistry()
    metrics(fresh)
    return fresh


def _alerts_samples(registry: CollectorRegistry) -> list[dict[str, str]]:
    return [
        sample.labels
        for family in registry.collect()
        if family.name == "ncrs_alerts"
        for sample in family.samples
        if sample.name == "ncrs_alerts_total"
    ]


def test_metrics__every_rule_and_outcome_starts_at_zero(registry: CollectorRegistry) -> None:
    """Opened, closed (by outcome) and open series exist for every rule before any event."""
    for rule in RULE_IDS:
        assert registry.get_sample_value("ncrs_obligations_opened_total", {"rule": rule}) == 0
        assert registry.get_sample_value("ncrs_obligations_open", {"rule": rule}) == 0
        for outcome in Outcome:
            labels = {"rule": rule, "outcome": outcome.value}
            assert registry.get_sample_value("ncrs_obligations_closed_total", labels) == 0


def test_metrics__inputs_dead_letters_queues_and_groups_start_at_zero(
    registry: CollectorRegistry,
) -> None:
    """Consumed events by topic and type, dead letters by reason, open items by queue and the
    duration histograms by offence group are all present at zero."""
    for spec in INPUT_TOPICS:
        for event_type in spec.event_types:
            labels = {"topic": spec.name, "type": event_type}
            assert registry.get_sample_value("ncrs_events_consumed_total", labels) == 0
    for reason in DeadLetterReason:
        labels = {"reason": reason.value}
        assert registry.get_sample_value("ncrs_dead_letters_total", labels) == 0
    for queue in Queue:
        labels = {"queue": queue.value}
        assert registry.get_sample_value("ncrs_workqueue_open_items", labels) == 0
    for group in OffenceGroup:
        labels = {"offence_group": group.value}
        assert registry.get_sample_value("ncrs_time_to_record_seconds_count", labels) == 0
        assert registry.get_sample_value("ncrs_time_to_referral_seconds_count", labels) == 0


def test_metrics__decision_clock_lag_is_unknown_until_measured(
    registry: CollectorRegistry,
) -> None:
    """Before any tick the clock lag is NaN (not 0, which would claim "caught up")."""
    for aggregate in ("incident", "crime"):
        value = registry.get_sample_value(
            "ncrs_decision_clock_lag_seconds", {"aggregate": aggregate}
        )
        assert value is not None
        assert math.isnan(value)


def test_metrics__source_arrival_starts_at_the_worker_start_not_zero() -> None:
    """Before any event every input topic's arrival time is the worker's start, so silence is
    counted from the start rather than from 1970 (which would page at once)."""
    fresh = CollectorRegistry()
    started = datetime(2024, 6, 4, 12, 0, tzinfo=UTC)
    Metrics(
        fresh,
        rule_ids=(),
        input_topics=[spec.name for spec in INPUT_TOPICS],
        version="t",
        ruleset="t",
        started_at=started,
    )
    for spec in INPUT_TOPICS:
        labels = {"topic": spec.name}
        value = fresh.get_sample_value("ncrs_source_last_arrival_timestamp_seconds", labels)
        assert value == started.timestamp()


def test_metrics__source_arrival_defaults_to_the_wall_clock_at_construction() -> None:
    """Without an injected start the worker's own start (now) is used."""
    before = time.time()
    fresh = CollectorRegistry()
    metrics(fresh)
    after = time.time()
    labels = {"topic": INPUT_TOPICS[0].name}
    value = fresh.get_sample_value("ncrs_source_last_arrival_timestamp_seconds", labels)
    assert value is not None
    assert before <= value <= after


def test_metrics__possible_alert_series_exist_impossible_ones_do_not(
    registry: CollectorRegistry,
) -> None:
    """Only each rule's own severities, owning queue and reachable stages are initialised."""

    def alerts(rule: str, stage: str, severity: str, queue: str) -> float | None:
        labels = {"rule": rule, "stage": stage, "severity": severity, "queue": queue}
        return registry.get_sample_value("ncrs_alerts_total", labels)

    assert alerts("REC-24H", "due_soon", "S1", "omu") == 0
    assert alerts("REC-24H", "escalated", "S3", "omu") == 0
    assert alerts("N100-REASON", "breached", "S1", "fcr") == 0  # the promtool test's series
    assert alerts("DATA-COMPLETENESS", "undecided", "S2", "data_quality") == 0
    assert alerts("REC-24H", "breached", "S4", "omu") is None
    assert alerts("N100", "breached", "S1", "omu") is None  # omu is notified, fcr owns it
    assert alerts("MULTI-CRIME", "due_soon", "S2", "omu") is None  # no due_soon threshold
    assert alerts("CLOSE-REVIEW", "undecided", "S2", "control_room") is None
    samples = _alerts_samples(registry)
    assert len(samples) == len(list(alert_series(RULE_IDS, RulesetCatalogue())))
    assert len(samples) < 150  # was rules x stages x severities x queues = 2,304


def test_metrics__threshold_override_adds_its_stage_series() -> None:
    """A configured due_soon for MULTI-CRIME makes its due_soon series exist from the start."""
    catalogue = RulesetCatalogue().with_overrides({"MULTI-CRIME": {"due_soon_hours": 12}})
    assert Stage.DUE_SOON in possible_stages("MULTI-CRIME", catalogue)
    fresh = CollectorRegistry()
    Metrics(
        fresh,
        rule_ids=RULE_IDS,
        input_topics=(),
        version="t",
        ruleset="t",
        catalogue=catalogue,
    )
    labels = {"rule": "MULTI-CRIME", "stage": "due_soon", "severity": "S1", "queue": "omu"}
    assert fresh.get_sample_value("ncrs_alerts_total", labels) == 0


def test_metrics__every_rule_has_a_declared_alert_route() -> None:
    """The route table names exactly the rules the monitor runs (plus data completeness)."""
    assert set(ALERT_ROUTES) == set(RULE_IDS)


def test_metrics__alerts_of_a_simulated_stream_fall_in_the_declared_series() -> None:
    """Every (rule, stage, severity, queue) the families emit on simulated input was declared,
    so no alert series the dashboards rely on starts missing."""
    config = SimConfig(
        load_profile("cheshire-2016"),
        days=3,
        incidents_per_day=150,
        seed=3,
        crime_share=1,
        tail_days=10,
    )
    replayer = Replayer(Engine(ALL_FAMILIES, staleness=timedelta(minutes=15)), timedelta(hours=1))
    effects = []
    for line in generate(config).lines:
        try:
            effects.extend(replayer.push(decode_event(line)))
        except DecodeError:
            continue
    effects.extend(replayer.finish())
    seen = {
        (e.rule_id, e.stage.value, e.severity.value, e.queue.value)
        for e in effects
        if isinstance(e, AlertEvent)
    }
    assert len({rule for rule, *_ in seen}) >= 10  # the stream exercises most rules
    assert seen <= set(alert_series(RULE_IDS, RulesetCatalogue()))


def test_metrics__alert_counts_by_its_labels() -> None:
    """`Metrics.alert` increments the series of its labels."""
    fresh = CollectorRegistry()
    m = metrics(fresh)
    m.alert("CANCEL-AUTHORITY", "breached", Severity.S1.value, Queue.FCR.value)
    m.alert("CANCEL-AUTHORITY", "breached", Severity.S1.value, Queue.FCR.value)
    labels = {"rule": "CANCEL-AUTHORITY", "stage": "breached", "severity": "S1", "queue": "fcr"}
    assert fresh.get_sample_value("ncrs_alerts_total", labels) == 2


def test_metrics__build_info_is_one(registry: CollectorRegistry) -> None:
    """The build-info gauge carries version and ruleset with value 1."""
    labels = {"version": "test", "ruleset": "test"}
    assert registry.get_sample_value("ncrs_build_info", labels) == 1


def test_metrics__label_values_are_codes_never_ids(registry: CollectorRegistry) -> None:
    """No initialised label value looks like an id (refs, uuids)."""
    for family in registry.collect():
        for sample in family.samples:
            for value in sample.labels.values():
                assert not value.startswith(("INC-", "CRI-", "CHE-"))
                assert value.count("-") < 4  # a uuid has four
