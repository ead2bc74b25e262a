"""Every Grafana panel's PromQL against a real Prometheus scraping a real worker (issue 6, item 5).

One stack per module: `ncrs-monitor simulate` writes 5 days of history ending 3 days ago (with
the simulator's duplicates and malformed lines), topics are made with `ncrs-monitor topics
create`, an `ncrs-monitor worker` (memory store, 1 s ticks, no grace) consumes the history, paced
over ~8 s so counters rise between scrapes, and the Debian `prometheus` server scrapes the worker
every second as job `ncrs-worker` with the committed rule files loaded. Once the worker has
taken in every message and stopped deciding, and Prometheus holds its final counts, each query
of deploy/grafana/panel_queries.json is sent as its panel sends it (instant at the end, or a
range over the run at a 1 s step): none may error, and every key panel must show a finite value.
The whole module takes about 20 s.

Window lengths need no rewriting: `rate`/`increase` over [5m], [1h], [6h], [1d] or [7d] give a
value as soon as a window holds two samples, and the run has about 15 at 1 s. What a short run
cannot show is history older than the run: a [7d] or [1d] increase is extrapolated from the
seconds there are, so its value is not a week's count, but it is not empty. The non-key panels
that are empty here are empty by design: the N100 timeliness ratio and the rape/N100 breach
counts hide values under 5, and a few days of simulated history hold fewer N100s than that.
The outcome of every query (ok / empty / error) is written to `promql-report.txt` in the test's
temporary directory, and to $NCRS_PROMQL_REPORT when set.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiokafka.admin import AIOKafkaAdminClient

from schemas.codes import OffenceGroup, Queue, Severity, Stage
from schemas.deadletter import DeadLetterReason
from streams.rules.families import RULE_IDS
from streams.rules.model import Outcome as ObligationOutcome
from tests.integration.promql import names, stack
from tests.integration.promql.prometheus import (
    JOB,
    PrometheusServer,
    QueryResult,
    config_for_test,
    prometheus_binary,
    rules_for_test,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

ROOT = stack.ROOT
PANEL_QUERIES = ROOT / "deploy" / "grafana" / "panel_queries.json"
RULES_DIR = ROOT / "deploy" / "prometheus" / "rules"
PROMETHEUS_YML = ROOT / "deploy" / "prometheus" / "prometheus.yml"
FEED_CHUNKS = 8
FEED_PAUSE_S = 1.0
SETTLE_TIMEOUT_S = 60.0

log = logging.getLogger(__name__)

MISSING_FROM_WORKER: dict[str, frozenset[str]] = {}
"""Metrics (with their labels) that docs/architecture.md names and the dashboards and rules use,
but that streams/live/metrics.py does not export yet. Each is a strict expected failure: once the
worker exports it, the xfail turns into a failure that asks for its entry to be removed."""
MISSING_REASON = "named in docs/architecture.md, not exported by streams/live/metrics.py yet"

KEY_PANELS_BLOCKED: dict[str, str] = {}
"""Key panels that cannot show data until a worker metric above exists (strict xfail)."""

KNOWN_LABEL_VALUES: dict[str, frozenset[str]] = {
    "rule": frozenset(RULE_IDS),
    "offence_group": frozenset(g.value for g in OffenceGroup),
    "stage": frozenset(s.value for s in Stage),
    "severity": frozenset(s.value for s in Severity),
    "queue": frozenset(q.value for q in Queue),
    "outcome": frozenset(o.value for o in ObligationOutcome),
    "reason": frozenset(r.value for r in DeadLetterReason),
    "job": frozenset({JOB}),
}
"""Bounded label values (docs/architecture.md): a matcher naming another value matches nothing."""


# --- what the dashboards and rules refer to (read at collection) ------------------------------


def _panel_queries() -> list[dict[str, Any]]:
    queries: list[dict[str, Any]] = json.loads(PANEL_QUERIES.read_text(encoding="utf-8"))
    return queries


def _rules() -> list[dict[str, Any]]:
    rules = []
    for path in sorted(RULES_DIR.glob("*.yml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for group in doc["groups"]:
            rules.extend(group["rules"])
    return rules


def _query_id(query: dict[str, Any]) -> str:
    return f"{query['dashboard']}:{query['panel']}:{query['ref_id']}"


QUERIES = _panel_queries()
RULES = _rules()
RECORDED = {rule["record"]: str(rule["expr"]) for rule in RULES if "record" in rule}
EXPRESSIONS = {_query_id(q): str(q["expr"]) for q in QUERIES} | {
    f"rule:{rule.get('alert') or rule['record']}": str(rule["expr"]) for rule in RULES
}
EXPORTED_NAMES = sorted(
    {n for expr in EXPRESSIONS.values() for n in names.metric_names(expr)} - {"up"} - set(RECORDED)
)


def _raw_metrics(expr: str) -> set[str]:
    """Series names the expression reads from the worker, through recording rules."""
    out = set()
    for name in names.metric_names(expr):
        out |= _raw_metrics(RECORDED[name]) if name in RECORDED else {name}
    return out


# --- the stack --------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueryOutcome:
    """One query's answer and how it is classed in the report."""

    query: dict[str, Any]
    result: QueryResult

    @property
    def verdict(self) -> str:
        if not self.result.ok:
            return "error"
        return "ok" if self.result.has_data else "empty"


@dataclass(frozen=True)
class Run:
    """What the module's tests inspect after the stack has settled."""

    outcomes: dict[str, QueryOutcome]
    rule_groups: list[dict[str, Any]]
    exposition: names.Exposition
    report: str


def _report(outcomes: dict[str, QueryOutcome]) -> str:
    lines = ["verdict  key  kind     dashboard        panel [ref]"]
    for outcome in outcomes.values():
        q = outcome.query
        kind = "instant" if q["instant"] else "range"
        key = "key" if q["key"] else "-"
        line = f"{outcome.verdict:<8} {key:<4} {kind:<8} {q['dashboard']:<16} {q['panel']}"
        lines.append(f"{line} [{q['ref_id']}]")
        if outcome.result.error:
            lines.append(f"         {outcome.result.error}")
    counts = {v: sum(o.verdict == v for o in outcomes.values()) for v in ("ok", "empty", "error")}
    lines.append(" ".join(f"{v}={n}" for v, n in counts.items()))
    return "\n".join(lines) + "\n"


def _require_prometheus() -> str:
    binary = prometheus_binary()
    if binary is None:
        message = "the prometheus server binary is missing (Debian package `prometheus`)"
        if os.environ.get("CI", "").lower() in {"true", "1", "yes"}:
            pytest.fail(f"{message}: .ci/run must install it")
        pytest.skip(message)
    return binary


INPUTS = ("ncrs_events_consumed_total", "ncrs_dead_letters_total")
DECISIONS = (
    "ncrs_alerts_total",
    "ncrs_obligations_opened_total",
    "ncrs_obligations_closed_total",
)
QUIET_S = 3.0
"""The worker has finished deciding once its decisions stay unchanged this long while it ticks."""


def _taken_in(worker: stack.WorkerProcess, expected: int) -> bool | None:
    """The worker has counted every message fed: as an event, or as a dead letter."""
    totals = worker.totals()
    return True if sum(totals.get(n, 0.0) for n in INPUTS) >= expected else None


class _Quiescence:
    """Probe: the worker's decision counters unchanged for QUIET_S over at least two ticks.

    Breaches are decided on the worker's clock, after the events that make them due, so the
    end of the feed is not the end of the worker's output.
    """

    def __init__(self, worker: stack.WorkerProcess) -> None:
        self.worker = worker
        self.decisions = -1.0
        self.changed_at = 0.0
        self.ticks_then = 0.0

    def __call__(self) -> float | None:
        totals = self.worker.totals()
        decisions = sum(totals.get(n, 0.0) for n in DECISIONS)
        ticks = totals.get("ncrs_ticks_processed_total", 0.0)
        if decisions != self.decisions:
            self.decisions, self.changed_at, self.ticks_then = decisions, time.monotonic(), ticks
            return None
        quiet = time.monotonic() - self.changed_at >= QUIET_S and ticks >= self.ticks_then + 2
        return totals.get("ncrs_alerts_total", 0.0) if quiet else None


def _scraped(prom: PrometheusServer, expected_inputs: int, alerts: float) -> bool | None:
    """Prometheus has scraped the worker's settled counts and evaluated every rule at least once.

    At least, not exactly, those counts: a deadline of the recent history may fall due later.
    """
    now = time.time()
    inputs = prom.query(" + ".join(f"sum({n})" for n in INPUTS), now).finite_values()
    seen = prom.query("sum(ncrs_alerts_total)", now).finite_values()
    if not inputs or inputs[0] < expected_inputs or not seen or seen[0] < alerts:
        return None
    rules = [r for g in prom.rule_groups() for r in g["rules"]]
    return True if rules and all(r["health"] != "unknown" for r in rules) else None


async def _delete_topics(bootstrap: str, suffix: str, app_id: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        ours = [t for t in await admin.list_topics() if t.endswith(suffix) or t.startswith(app_id)]
        if ours:
            await admin.delete_topics(ours)
    finally:
        await admin.close()


@pytest.fixture(scope="module")
def run(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """Simulate, feed a worker, scrape it with Prometheus, then evaluate every panel query."""
    binary = _require_prometheus()
    work = tmp_path_factory.mktemp("promql")
    name = f"pq-{uuid.uuid4().hex[:10]}"
    env = stack.monitor_env(bootstrap, name, stack.free_port())
    now = stack.utc_now()
    ndjson = stack.simulate(work / "history.ndjson", env, now)
    messages = stack.feed_messages(ndjson, env["NCRS_TOPIC_SUFFIX"], now)
    stack.create_topics(env, work)
    worker = stack.WorkerProcess(env, work)
    (work / "prometheus").mkdir()
    config = config_for_test(
        PROMETHEUS_YML, worker.address, rules_for_test(RULES_DIR, work / "prometheus" / "rules")
    )
    prom = PrometheusServer(binary, work / "prometheus", stack.free_port(), config)
    try:
        prom.check_config()
        started = time.time()
        prom.start()
        worker.start()
        asyncio.run(stack.produce_paced(bootstrap, messages, FEED_CHUNKS, FEED_PAUSE_S))
        stack.wait_for(
            lambda: _taken_in(worker, len(messages)),
            SETTLE_TIMEOUT_S,
            f"the worker to take in all {len(messages)} messages",
        )
        alerts = stack.wait_for(
            _Quiescence(worker), SETTLE_TIMEOUT_S, "the worker to finish deciding"
        )
        stack.wait_for(
            lambda: _scraped(prom, len(messages), alerts),
            SETTLE_TIMEOUT_S,
            "Prometheus to scrape the final counts and evaluate every rule",
        )
        end = time.time()
        outcomes = {}
        for query in QUERIES:
            if query["instant"]:
                result = prom.query(query["expr"], end)
            else:
                result = prom.query_range(query["expr"], started, end, 1.0)
            outcomes[_query_id(query)] = QueryOutcome(query, result)
        report = _report(outcomes)
        (work / "promql-report.txt").write_text(report, encoding="utf-8")
        if target := os.environ.get("NCRS_PROMQL_REPORT"):
            Path(target).write_text(report, encoding="utf-8")
        log.info("panel queries against %s:\n%s", prom.url, report)
        yield Run(
            outcomes=outcomes,
            rule_groups=prom.rule_groups(),
            exposition=names.Exposition.parse(worker.metrics_text()),
            report=report,
        )
    except Exception:
        log.error("worker log:\n%s", worker.log_tail())
        log.error("prometheus log:\n%s", prom.log_tail())
        raise
    finally:
        worker.stop()
        prom.stop()
        asyncio.run(_delete_topics(bootstrap, env["NCRS_TOPIC_SUFFIX"], env["NCRS_APP_ID"]))


# --- panel queries ----------------------------------------------------------------------------


@pytest.mark.parametrize("query_id", [_query_id(q) for q in QUERIES])
def test_panel_query_evaluates_without_error(run: Run, query_id: str) -> None:
    """Prometheus accepts and evaluates the panel's query as the panel sends it."""
    outcome = run.outcomes[query_id]
    assert outcome.result.ok, f"{query_id}: {outcome.result.error}\n{run.report}"
    assert not outcome.result.warnings, outcome.result.warnings


def _key_params() -> list[Any]:
    params = []
    for q in QUERIES:
        if not q["key"]:
            continue
        blocked = KEY_PANELS_BLOCKED.get(q["panel"])
        marks = [pytest.mark.xfail(reason=blocked, strict=True)] if blocked else []
        params.append(pytest.param(_query_id(q), id=_query_id(q), marks=marks))
    return params


@pytest.mark.parametrize("query_id", _key_params())
def test_key_panel_query_returns_data(run: Run, query_id: str) -> None:
    """A key panel shows at least one finite value for a worker fed with simulated events."""
    outcome = run.outcomes[query_id]
    assert outcome.verdict == "ok", f"{query_id} is {outcome.verdict}\n{run.report}"


def test_key_panels_cover_both_dashboards_and_both_query_kinds() -> None:
    """The key set is meaningful: each dashboard has key panels, instant and range alike."""
    keys = [q for q in QUERIES if q["key"]]
    assert {q["dashboard"] for q in keys} == {q["dashboard"] for q in QUERIES}
    assert {q["instant"] for q in keys} == {True, False}


# --- alert and recording rules ----------------------------------------------------------------


def test_every_committed_rule_is_loaded_and_healthy(run: Run) -> None:
    """/api/v1/rules lists each committed rule, evaluated, with health ok and no error."""
    loaded = {r["name"]: r for g in run.rule_groups for r in g["rules"]}
    committed = {rule.get("alert") or rule["record"] for rule in RULES}
    assert set(loaded) == committed
    unhealthy = {
        n: (r["health"], r.get("lastError")) for n, r in loaded.items() if r["health"] != "ok"
    }
    assert not unhealthy, unhealthy


# --- names the dashboards and rules use against what the worker exposes -----------------------


def _exported_params() -> list[Any]:
    return [
        pytest.param(
            metric,
            id=metric,
            marks=[pytest.mark.xfail(reason=MISSING_REASON, strict=True)]
            if metric in MISSING_FROM_WORKER
            else [],
        )
        for metric in EXPORTED_NAMES
    ]


@pytest.mark.parametrize("metric", _exported_params())
def test_metric_used_by_dashboards_or_rules_is_exposed_by_the_worker(run: Run, metric: str) -> None:
    """The worker's /metrics has a sample of every ncrs_ series a panel or rule selects."""
    assert run.exposition.has(metric), f"{metric} is not on the worker's /metrics"


def test_recording_rule_names_used_anywhere_are_recorded() -> None:
    """An `ncrs:` series named in a panel or rule is produced by a committed recording rule."""
    used = {n for e in EXPRESSIONS.values() for n in names.metric_names(e) if ":" in n}
    assert used <= set(RECORDED), used - set(RECORDED)


def test_selector_labels_exist_on_their_metrics_and_name_known_values(run: Run) -> None:
    """`metric{label=...}` uses a label the metric has, with a value the worker can emit."""
    problems = []
    for where, expr in EXPRESSIONS.items():
        for m in names.matchers(expr):
            if m.metric in RECORDED or m.metric in MISSING_FROM_WORKER:
                continue
            has = run.exposition.labels_for([m.metric])
            if m.label not in has:
                problems.append(f"{where}: {m.metric} has no label {m.label!r}")
            known = KNOWN_LABEL_VALUES.get(m.label)
            if known is not None:
                unknown = [v for v in m.literal_values() if v not in known]
                if unknown:
                    problems.append(f"{where}: {m.label} values {unknown} are never emitted")
    assert not problems, "\n".join(problems)


def test_grouping_labels_exist_on_the_metrics_grouped(run: Run) -> None:
    """`by (...)`/`on (...)` name labels that the metrics read by the expression carry."""
    problems = []
    for where, expr in EXPRESSIONS.items():
        raw = _raw_metrics(expr)
        has = run.exposition.labels_for(raw)
        for metric in raw & set(MISSING_FROM_WORKER):
            has |= MISSING_FROM_WORKER[metric]
        missing = names.grouping_labels(expr) - has
        if missing:
            problems.append(f"{where}: {sorted(missing)} not on {sorted(raw)}")
    assert not problems, "\n".join(problems)


def test_names_are_found_in_promql_the_way_the_checks_assume() -> None:
    """The name finder sees selectors, groupings and values, and ignores strings and functions."""
    expr = (
        'sum by (rule, area) (increase(ncrs_breaches_total{rule=~"N100|REC-24H", '
        'topic="ncrs_not_a_metric"}[1h])) / on (instance, job) group_left up '
        "or ncrs:dead_letters:rate10m"
    )
    assert names.metric_names(expr) == {"ncrs_breaches_total", "up", "ncrs:dead_letters:rate10m"}
    assert names.grouping_labels(expr) == {"rule", "area", "instance", "job"}
    rule = names.matchers(expr)[0]
    assert (rule.metric, rule.label, rule.literal_values()) == (
        "ncrs_breaches_total",
        "rule",
        ["N100", "REC-24H"],
    )
