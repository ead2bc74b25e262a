"""Generate the ncrs-monitor Grafana dashboards as code with the official grafana-foundation-sdk.

Dashboards are reviewed as Python, not as hand-edited JSON: this script writes
`provisioning/dashboards/json/{compliance,operations}.json` (loaded by Grafana's file provisioner)
and `panel_queries.json` (every panel's PromQL, flagged `key` where a worker fed with simulated
events must return data — a CI check runs each query against a real Prometheus).
`tests/unit/test_dashboards.py` re-runs this script and fails when the committed JSON is stale.

Queries use fixed windows and no Grafana variables, so each can be sent to Prometheus as written.
Sexual-offence breakdowns hide counts under 5 (rules.md section 5) in the query itself, so no
panel option can reveal them.

Usage: python deploy/grafana/generate.py [--out DIR]   (default: beside this file)
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from grafana_foundation_sdk.builders import bargauge, stat, table, timeseries
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import prometheus as prom
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import BigValueGraphMode, VizOrientation
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DataSourceRef,
    Threshold,
    ThresholdsMode,
)
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

HERE = Path(__file__).resolve().parent
DASHBOARD_DIR = Path("provisioning/dashboards/json")
PANEL_QUERIES = Path("panel_queries.json")

DATASOURCE = DataSourceRef(type_val="prometheus", uid="prometheus")
SENSITIVE_GROUPS = "RAPE|OTHER_SEXUAL"
"""Offence groups whose breakdowns hide counts under SUPPRESS_BELOW (rules.md section 5)."""
SUPPRESS_BELOW = 5

PanelKind = Literal["timeseries", "stat", "table", "bargauge"]


@dataclass(frozen=True)
class Query:
    """One PromQL target of a panel."""

    expr: str
    legend: str = ""
    instant: bool = False


@dataclass(frozen=True)
class PanelDef:
    """A panel as data, so the same definition yields the dashboard and the query inventory."""

    kind: PanelKind
    title: str
    description: str
    queries: tuple[Query, ...]
    key: bool
    """Must show data for a worker fed with `ncrs-monitor simulate` output (checked against a real
    Prometheus in tests/integration/test_dashboards_promql.py). Not key: panels that hide counts
    under 5 or count events too rare in a short simulated feed (N100, cancellations)."""
    unit: str = "short"
    width: int = 12
    height: int = 8
    thresholds: tuple[tuple[float | None, str], ...] = field(default=())


@dataclass(frozen=True)
class DashboardDef:
    """A dashboard: uid (stable URL), title, and rows of panels."""

    uid: str
    title: str
    description: str
    time_from: str
    rows: tuple[tuple[str, tuple[PanelDef, ...]], ...]


# --- PromQL helpers ---------------------------------------------------------------------------


def by_group_suppressed(expr_for: str, by: str = "offence_group") -> str:
    """`sum by (offence_group) (M)` with sexual-offence groups shown only when at least 5.

    `expr_for` is a metric selector body with `{SEL}` where the offence-group matcher goes.
    """
    open_ = f'offence_group!~"{SENSITIVE_GROUPS}"'
    sens = f'offence_group=~"{SENSITIVE_GROUPS}"'
    return (
        f"sum by ({by}) ({expr_for.format(SEL=open_)})\n"
        f"or\n(sum by ({by}) ({expr_for.format(SEL=sens)}) >= {SUPPRESS_BELOW})"
    )


def ratio_by_group_suppressed(num: str, den: str) -> str:
    """Per offence group num/den; sexual-offence groups only where the denominator is >= 5."""
    open_ = f'offence_group!~"{SENSITIVE_GROUPS}"'
    sens = f'offence_group=~"{SENSITIVE_GROUPS}"'
    return (
        f"sum by (offence_group) ({num}{{{open_}}})\n"
        f"  / sum by (offence_group) ({den}{{{open_}}})\n"
        f"or\nsum by (offence_group) ({num}{{{sens}}})\n"
        f"  / (sum by (offence_group) ({den}{{{sens}}}) >= {SUPPRESS_BELOW})"
    )


WITHIN = "ncrs_crimes_recorded_within_24h_total"
RECORDED = "ncrs_crimes_recorded_total"
PCT = ((None, "red"), (0.8, "orange"), (0.95, "green"))
"""Timeliness colours: red under 80%, amber under 95% [assumed, a presentation choice]."""

# --- Compliance dashboard ---------------------------------------------------------------------

COMPLIANCE = DashboardDef(
    uid="ncrs-compliance",
    title="NCRS compliance",
    description=(
        "Crime-recording compliance for supervisors and managers: 24-hour recording, open"
        " obligations, breaches, N100, cancellation notification and victim-care referral."
        " Sexual-offence breakdowns hide counts under 5."
    ),
    time_from="now-7d",
    rows=(
        (
            "Recording within 24 hours",
            (
                PanelDef(
                    "stat",
                    "Recorded within 24 h (all crimes)",
                    "Share of recorded crimes recorded within 24 h of receipt since the workers"
                    " started (timeliness; denominator: crimes recorded).",
                    (Query(f"sum({WITHIN}) / sum({RECORDED})", instant=True),),
                    key=True,
                    unit="percentunit",
                    width=6,
                    thresholds=PCT,
                ),
                PanelDef(
                    "bargauge",
                    "Recorded within 24 h by offence group",
                    "Timeliness per offence group. RAPE and OTHER_SEXUAL are shown only when at"
                    " least 5 crimes were recorded.",
                    (
                        Query(
                            ratio_by_group_suppressed(WITHIN, RECORDED),
                            "{{offence_group}}",
                            instant=True,
                        ),
                    ),
                    key=True,
                    unit="percentunit",
                    width=9,
                    thresholds=PCT,
                ),
                PanelDef(
                    "table",
                    "Recorded within 24 h by area",
                    "Timeliness per local policing unit, all offence groups together.",
                    (
                        Query(
                            f"sum by (area) ({WITHIN}) / sum by (area) ({RECORDED})",
                            "{{area}}",
                            instant=True,
                        ),
                    ),
                    key=True,
                    unit="percentunit",
                    width=9,
                    thresholds=PCT,
                ),
                PanelDef(
                    "timeseries",
                    "24-hour recording breaches by offence group (per hour)",
                    "REC-24H breaches declared in each hour. RAPE and OTHER_SEXUAL hidden under 5.",
                    (
                        Query(
                            by_group_suppressed(
                                'increase(ncrs_breaches_total{{rule="REC-24H", {SEL}}}[1h])'
                            ),
                            "{{offence_group}}",
                        ),
                    ),
                    key=True,
                ),
                PanelDef(
                    "table",
                    "Worst areas: lowest 24-hour recording rate",
                    "The ten local policing units with the lowest share recorded within 24 h.",
                    (
                        Query(
                            f"bottomk(10, sum by (area) ({WITHIN}) / sum by (area) ({RECORDED}))",
                            "{{area}}",
                            instant=True,
                        ),
                    ),
                    key=True,
                    unit="percentunit",
                    width=6,
                    thresholds=PCT,
                ),
                PanelDef(
                    "table",
                    "Worst areas: most breaches in 7 days",
                    "The ten local policing units with most breaches of any rule in 7 days.",
                    (
                        Query(
                            "topk(10, sum by (area) (increase(ncrs_breaches_total[7d])))",
                            "{{area}}",
                            instant=True,
                        ),
                    ),
                    key=True,
                    width=6,
                ),
            ),
        ),
        (
            "Obligations and alerts",
            (
                PanelDef(
                    "timeseries",
                    "Open obligations by rule",
                    "Obligations opened and not yet satisfied, summed over workers.",
                    (Query("sum by (rule) (ncrs_obligations_open)", "{{rule}}"),),
                    key=True,
                ),
                PanelDef(
                    "timeseries",
                    "Alerts by stage (per hour)",
                    "Alert lifecycle events raised each hour: due_soon, breached, escalated,"
                    " resolved_late, retracted, undecided.",
                    (Query("sum by (stage) (increase(ncrs_alerts_total[1h]))", "{{stage}}"),),
                    key=True,
                ),
                PanelDef(
                    "timeseries",
                    "Breaches by rule (per hour)",
                    "Breaches declared each hour, by rule.",
                    (Query("sum by (rule) (increase(ncrs_breaches_total[1h]))", "{{rule}}"),),
                    key=True,
                ),
                PanelDef(
                    "bargauge",
                    "Obligations closed by outcome",
                    "Obligations closed on time, late or cancelled since the workers started.",
                    (
                        Query(
                            "sum by (outcome) (ncrs_obligations_closed_total)",
                            "{{outcome}}",
                            instant=True,
                        ),
                    ),
                    key=True,
                ),
            ),
        ),
        (
            "Rape and N100",
            (
                PanelDef(
                    "stat",
                    "N100: rape reports resolved within 24 h",
                    "Share of N100 obligations (rape reports) closed on time by a rape crime or"
                    " an N100; hidden when fewer than 5 were closed.",
                    (
                        Query(
                            'sum(ncrs_obligations_closed_total{rule="N100", outcome="on_time"})\n'
                            "  / (sum(ncrs_obligations_closed_total"
                            f'{{rule="N100", outcome=~"on_time|late"}}) >= {SUPPRESS_BELOW})',
                            instant=True,
                        ),
                    ),
                    key=False,
                    unit="percentunit",
                    width=6,
                    thresholds=PCT,
                ),
                PanelDef(
                    "stat",
                    "Open N100 obligations",
                    "Rape reports awaiting a rape crime or an N100, and open N100s awaiting"
                    " resolution (N100-AGEING).",
                    (
                        Query(
                            'sum(ncrs_obligations_open{rule=~"N100|N100-AGEING"})',
                            instant=True,
                        ),
                    ),
                    key=True,
                    width=6,
                ),
                PanelDef(
                    "bargauge",
                    "Rape/N100 breaches in 7 days by rule",
                    "N100, N100-REASON, RAPE-MISCLASSIFIED and N100-AGEING breaches; counts"
                    " under 5 hidden.",
                    (
                        Query(
                            "sum by (rule) (increase(ncrs_breaches_total"
                            '{rule=~"N100|N100-REASON|RAPE-MISCLASSIFIED|N100-AGEING"}[7d]))'
                            f" >= {SUPPRESS_BELOW}",
                            "{{rule}}",
                            instant=True,
                        ),
                    ),
                    key=False,
                ),
            ),
        ),
        (
            "Victims: cancellation notification and referral",
            (
                PanelDef(
                    "bargauge",
                    "Cancellation notification (CANCEL-NOTIFY) outcomes",
                    "Victims told of a cancellation or transfer: on time, late, or closed without"
                    " notification (cancelled, e.g. crime reinstated).",
                    (
                        Query(
                            "sum by (outcome) "
                            '(ncrs_obligations_closed_total{rule="CANCEL-NOTIFY"})',
                            "{{outcome}}",
                            instant=True,
                        ),
                    ),
                    key=False,
                    width=8,
                ),
                PanelDef(
                    "stat",
                    "Cancellations awaiting victim notification",
                    "Open CANCEL-NOTIFY obligations.",
                    (
                        Query(
                            'sum(ncrs_obligations_open{rule="CANCEL-NOTIFY"})',
                            instant=True,
                        ),
                    ),
                    key=False,
                    width=4,
                ),
                PanelDef(
                    "timeseries",
                    "Victim-care referral breaches by cause (per day)",
                    "CARE-REFERRAL breaches split by cause: RECORDING_DELAY (the crime itself was"
                    " recorded after the referral deadline) or REFERRAL_DELAY.",
                    (
                        Query(
                            "sum by (cause) "
                            '(increase(ncrs_breaches_total{rule="CARE-REFERRAL"}[1d]))',
                            "{{cause}}",
                        ),
                    ),
                    key=True,
                ),
                PanelDef(
                    "timeseries",
                    "Time from report to victim-care referral (p50, p90)",
                    "Quantiles of the time from receipt of the report to the referral,"
                    " all offence groups.",
                    (
                        Query(
                            "histogram_quantile(0.5, sum by (le) "
                            "(rate(ncrs_time_to_referral_seconds_bucket[6h])))",
                            "p50",
                        ),
                        Query(
                            "histogram_quantile(0.9, sum by (le) "
                            "(rate(ncrs_time_to_referral_seconds_bucket[6h])))",
                            "p90",
                        ),
                    ),
                    key=True,
                    unit="s",
                ),
                PanelDef(
                    "timeseries",
                    "Time from report to crime record (p90) by offence group",
                    "90th percentile of receipt-to-recording time; sexual-offence groups hidden"
                    " when fewer than 5 crimes fall in the window.",
                    (
                        Query(
                            "histogram_quantile(0.9, sum by (le, offence_group) (rate("
                            f'ncrs_time_to_record_seconds_bucket{{offence_group!~"{SENSITIVE_GROUPS}"}}'
                            "[6h])))\nor\nhistogram_quantile(0.9, sum by (le, offence_group) (rate("
                            f'ncrs_time_to_record_seconds_bucket{{offence_group=~"{SENSITIVE_GROUPS}"}}'
                            "[6h])))\n  and on (offence_group) (sum by (offence_group) (increase("
                            f'ncrs_time_to_record_seconds_count{{offence_group=~"{SENSITIVE_GROUPS}"}}'
                            f"[6h])) >= {SUPPRESS_BELOW})",
                            "{{offence_group}}",
                        ),
                    ),
                    key=True,
                    unit="s",
                    width=24,
                ),
            ),
        ),
    ),
)

# --- Operations dashboard ---------------------------------------------------------------------

OPERATIONS = DashboardDef(
    uid="ncrs-operations",
    title="NCRS operations",
    description=(
        "Health of the ncrs-monitor workers for the platform team: throughput, lag, dead letters,"
        " source freshness, rebalances, state size and the live clock."
    ),
    time_from="now-6h",
    rows=(
        (
            "Workers",
            (
                PanelDef(
                    "stat",
                    "Workers up",
                    "Workers Prometheus can scrape (job ncrs-worker).",
                    (Query('sum(up{job="ncrs-worker"})', instant=True),),
                    key=True,
                    width=4,
                    thresholds=((None, "red"), (1, "orange"), (2, "green")),
                ),
                PanelDef(
                    "table",
                    "Build and ruleset",
                    "Version and ruleset each worker runs.",
                    (Query("ncrs_build_info", instant=True),),
                    key=True,
                    width=8,
                ),
                PanelDef(
                    "timeseries",
                    "Throughput: events consumed per second by topic",
                    "Input events consumed, all workers.",
                    (
                        Query(
                            "sum by (topic) (rate(ncrs_events_consumed_total[5m]))",
                            "{{topic}}",
                        ),
                    ),
                    key=True,
                    unit="ops",
                ),
                PanelDef(
                    "timeseries",
                    "Event-time lag by topic",
                    "Wall clock minus the event time of the newest event processed. Above the"
                    " 2-minute grace, live breaches are decided late.",
                    (Query("max by (topic) (ncrs_event_time_lag_seconds)", "{{topic}}"),),
                    key=True,
                    unit="s",
                ),
                PanelDef(
                    "timeseries",
                    "Live clock: ticks processed per second",
                    "Clock ticks that fire due deadlines (default every 10 s per partition).",
                    (Query("sum(rate(ncrs_ticks_processed_total[5m]))", "ticks/s"),),
                    key=True,
                    unit="ops",
                ),
            ),
        ),
        (
            "Inputs",
            (
                PanelDef(
                    "timeseries",
                    "Source freshness: seconds since an event last arrived",
                    "Per source topic, by the wall clock of arrival (a backlog of old events"
                    " counts as arriving; how old they are is the event-time lag), or since the"
                    " worker started if none has. Past the staleness limit (15 min) dependent"
                    " breaches are held undecided; 5 minutes later NcrsSourceTopicSilent fires.",
                    (
                        Query(
                            "time() - max by (topic) (ncrs_source_last_arrival_timestamp_seconds)",
                            "{{topic}}",
                        ),
                    ),
                    key=True,
                    unit="s",
                ),
                PanelDef(
                    "table",
                    "Sources marked stale",
                    "1 where a worker holds breaches of that source as undecided.",
                    (Query("max by (source) (ncrs_source_stale)", "{{source}}", instant=True),),
                    key=True,
                    thresholds=((None, "green"), (1, "red")),
                ),
                PanelDef(
                    "timeseries",
                    "Dead letters per second by reason",
                    "Messages sent to ncrs.deadletter.v1; each is an event not applied.",
                    (
                        Query(
                            "sum by (reason) (rate(ncrs_dead_letters_total[5m]))",
                            "{{reason}}",
                        ),
                    ),
                    key=True,
                    unit="ops",
                ),
                PanelDef(
                    "timeseries",
                    "Events consumed per second by type",
                    "Input events by CloudEvents type.",
                    (
                        Query(
                            "sum by (type) (rate(ncrs_events_consumed_total[5m]))",
                            "{{type}}",
                        ),
                    ),
                    key=True,
                    unit="ops",
                ),
            ),
        ),
        (
            "State and group",
            (
                PanelDef(
                    "timeseries",
                    "Rebalances (per hour)",
                    "Consumer-group rebalances seen by the workers; frequent ones stall"
                    " processing (check static membership and session timeouts).",
                    (Query("sum(increase(ncrs_rebalances_total[1h]))", "rebalances"),),
                    key=True,
                ),
                PanelDef(
                    "timeseries",
                    "Table sizes (keys)",
                    "Keys per faust table, all workers.",
                    (Query("sum by (table) (ncrs_table_keys)", "{{table}}"),),
                    key=True,
                ),
                PanelDef(
                    "timeseries",
                    "Open obligations as a share of the guardrail",
                    "Per worker and rule; at 100% new obligations are refused.",
                    (
                        Query(
                            "max by (instance, rule) "
                            "(ncrs_obligations_open / ncrs_guardrail_limit)",
                            "{{instance}} {{rule}}",
                        ),
                    ),
                    key=True,
                    unit="percentunit",
                ),
                PanelDef(
                    "timeseries",
                    "Work-queue open items",
                    "Open items per work queue (ncrs.workqueue.<queue>.v1).",
                    (Query("sum by (queue) (ncrs_workqueue_open_items)", "{{queue}}"),),
                    key=True,
                ),
            ),
        ),
    ),
)

DASHBOARDS = (COMPLIANCE, OPERATIONS)
FILE_NAMES = {"ncrs-compliance": "compliance.json", "ncrs-operations": "operations.json"}


# --- building ---------------------------------------------------------------------------------


def _target(query: Query, ref_id: str) -> prom.Dataquery:
    target = prom.Dataquery().expr(query.expr).ref_id(ref_id).datasource(DATASOURCE)
    if query.legend:
        target = target.legend_format(query.legend)
    if query.instant:
        target = target.instant().format(PromQueryFormat.TABLE)
    return target


def _thresholds(steps: tuple[tuple[float | None, str], ...]) -> dash.ThresholdsConfig:
    return (
        dash.ThresholdsConfig()
        .mode(ThresholdsMode.ABSOLUTE)
        .steps([Threshold(value=value, color=color) for value, color in steps])
    )


def _panel(panel: PanelDef, panel_id: int) -> Any:
    """The SDK builder for one panel definition."""
    builder: Any
    if panel.kind == "timeseries":
        builder = timeseries.Panel().fill_opacity(10)
    elif panel.kind == "stat":
        builder = stat.Panel().graph_mode(BigValueGraphMode.NONE)
    elif panel.kind == "table":
        builder = table.Panel()
    else:
        builder = bargauge.Panel().orientation(VizOrientation.HORIZONTAL)
    builder = (
        builder.id(panel_id)
        .title(panel.title)
        .description(panel.description)
        .datasource(DATASOURCE)
        .unit(panel.unit)
        .height(panel.height)
        .span(panel.width)
    )
    if panel.unit == "percentunit":
        builder = builder.min(0).max(1)
    if panel.thresholds:
        builder = builder.thresholds(_thresholds(panel.thresholds))
    for index, query in enumerate(panel.queries):
        builder = builder.with_target(_target(query, chr(ord("A") + index)))
    return builder


def build_dashboard(definition: DashboardDef) -> dict[str, Any]:
    """The dashboard as a JSON-able dict, in the form Grafana's file provisioner loads."""
    builder = (
        dash.Dashboard(definition.title)
        .uid(definition.uid)
        .description(definition.description)
        .tags(["ncrs-monitor"])
        .editable()
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .refresh("1m")
        .time(definition.time_from, "now")
        .timezone("Europe/London")
    )
    panel_id = 0
    for title, panels in definition.rows:
        panel_id += 1
        builder = builder.with_row(dash.Row(title).id(panel_id))
        for panel in panels:
            panel_id += 1
            builder = builder.with_panel(_panel(panel, panel_id))
    encoded: dict[str, Any] = json.loads(json.dumps(builder.build(), cls=JSONEncoder))
    return encoded


def panel_queries() -> list[dict[str, Any]]:
    """Every panel query: dashboard uid, panel title, refId, expr, instant, key.

    `key` marks the panels that must return data when Prometheus scrapes a worker fed with
    simulated events; every other query must at least evaluate without error.
    """
    rows: list[dict[str, Any]] = []
    for definition in DASHBOARDS:
        for _, panels in definition.rows:
            for panel in panels:
                for index, query in enumerate(panel.queries):
                    rows.append(
                        {
                            "dashboard": definition.uid,
                            "panel": panel.title,
                            "ref_id": chr(ord("A") + index),
                            "expr": query.expr,
                            "instant": query.instant,
                            "key": panel.key,
                        }
                    )
    return rows


def _dump(value: object) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_all(out: Path) -> list[Path]:
    """Write both dashboards and the query inventory under `out`; return the files written."""
    written: list[Path] = []
    (out / DASHBOARD_DIR).mkdir(parents=True, exist_ok=True)
    for definition in DASHBOARDS:
        path = out / DASHBOARD_DIR / FILE_NAMES[definition.uid]
        path.write_text(_dump(build_dashboard(definition)), encoding="utf-8")
        written.append(path)
    path = out / PANEL_QUERIES
    path.write_text(_dump(panel_queries()), encoding="utf-8")
    written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: regenerate the committed JSON (or write it elsewhere with --out)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="directory to write under")
    args = parser.parse_args(argv)
    for path in write_all(args.out):
        print(path)  # noqa: T201 - a generator reports what it wrote
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
