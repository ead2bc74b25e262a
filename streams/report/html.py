"""The report as one self-contained HTML page with plotly charts, for a chief officer.

Each measure has a heading, a sentence saying what it means, a small table and a chart: the rate
per offence group (and per area) as bars with their 95% Wilson intervals as error bars, and the
seed's published Cheshire figure as a reference mark where one exists. plotly.js is inlined once
(`include_plotlyjs=True` on the first chart) so the page works offline; chart ids are fixed so
the same report gives the same page.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any

import plotly.graph_objects as go

from streams.report.table import interval, pct
from streams.report.view import SUPPRESSED, ReportView, Row, Section

_CSS = """
body { font-family: system-ui, -apple-system, 'Segoe UI', Arial, sans-serif; margin: 2rem auto;
       max-width: 1100px; color: #1b1b1b; line-height: 1.45; padding: 0 1rem; }
h1 { font-size: 1.8rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.3rem; margin-top: 2.5rem; border-bottom: 2px solid #0b3d91; }
p.lead { color: #444; }
p.note { color: #555; font-size: 0.9rem; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.kpis { display: flex; gap: 1rem; flex-wrap: wrap; }
.kpi { border: 1px solid #ccd; border-radius: 6px; padding: 0.6rem 1rem; min-width: 10rem; }
.kpi b { display: block; font-size: 1.5rem; }
"""

_BAR = "#0b3d91"
_REFERENCE = "#d9480f"


def _rows_with_rates(rows: Iterable[Row]) -> list[Row]:
    return [r for r in rows if r.rate is not None and not r.suppressed]


def _error_bars(rows: Sequence[Row]) -> dict[str, Any]:
    return {
        "type": "data",
        "symmetric": False,
        "array": [100 * (r.wilson[1] - (r.rate or 0)) if r.wilson else 0 for r in rows],
        "arrayminus": [100 * ((r.rate or 0) - r.wilson[0]) if r.wilson else 0 for r in rows],
        "color": "#555",
    }


def rate_figure(title: str, rows: Sequence[Row], *, y_title: str) -> go.Figure:
    """Bars of each row's rate with Wilson error bars, and reference diamonds where known."""
    shown = _rows_with_rates(rows)
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=[r.label for r in shown],
            y=[100 * (r.rate or 0) for r in shown],
            error_y=_error_bars(shown),
            marker_color=_BAR,
            name="this force (95% Wilson interval)",
            hovertemplate="%{x}: %{y:.1f}%<extra></extra>",
        )
    )
    with_reference = [r for r in shown if r.reference is not None]
    if with_reference:
        fig.add_trace(
            go.Scatter(
                x=[r.label for r in with_reference],
                y=[100 * r.reference.value for r in with_reference if r.reference],
                error_y={
                    "type": "data",
                    "array": [
                        100 * (r.reference.half_width or 0) for r in with_reference if r.reference
                    ],
                    "color": _REFERENCE,
                },
                mode="markers",
                marker={"symbol": "diamond", "size": 12, "color": _REFERENCE},
                name="HMIC Cheshire 2017 (published)",
                text=[r.reference.label for r in with_reference if r.reference],
                hovertemplate="%{text}<extra></extra>",
            )
        )
    fig.update_layout(
        title=title,
        yaxis={"title": y_title, "range": [0, 105]},
        template="plotly_white",
        height=420,
        margin={"t": 60, "b": 80},
        legend={"orientation": "h", "y": -0.25},
    )
    return fig


def cause_figure(rows: Sequence[Row]) -> go.Figure:
    """Late referrals by cause per offence group, stacked."""
    shown = [r for r in rows if not r.suppressed]
    fig = go.Figure()
    for key, name, colour in (
        ("late_recording_delay", "late: crime recorded too late", "#c92a2a"),
        ("late_referral_delay", "late: referral slow", "#f08c00"),
    ):
        fig.add_trace(
            go.Bar(
                x=[r.label for r in shown],
                y=[r.extra.get(key) or 0 for r in shown],
                name=name,
                marker_color=colour,
            )
        )
    fig.update_layout(
        barmode="stack",
        title="Late referrals by cause",
        yaxis={"title": "late referrals"},
        template="plotly_white",
        height=380,
        legend={"orientation": "h", "y": -0.25},
    )
    return fig


def work_figure(work: Mapping[str, Any]) -> go.Figure:
    """Open work items by queue."""
    by_queue: Mapping[str, int] = work.get("by_queue", {})
    fig = go.Figure(
        go.Bar(x=list(by_queue), y=list(by_queue.values()), marker_color=_BAR, name="open items")
    )
    fig.update_layout(
        title="Open work items by queue",
        yaxis={"title": "items"},
        template="plotly_white",
        height=360,
    )
    return fig


def _cell(value: object) -> str:
    return escape(str(value))


def _rows_html(rows: Iterable[Row]) -> str:
    head = (
        "<tr><th></th><th>n</th><th>of</th><th>rate</th><th>95% Wilson</th>"
        "<th>95% HMIC-style</th><th>published figure</th></tr>"
    )
    body = []
    for r in rows:
        n = SUPPRESSED if r.successes is None and r.suppressed else r.successes
        of = SUPPRESSED if r.trials is None and r.suppressed else r.trials
        rate = "suppressed" if r.suppressed else pct(r.rate)
        reference = r.reference.label if r.reference else ""
        cells = (r.label, n, of, rate, interval(r.wilson), interval(r.hmic), reference)
        body.append("<tr>" + "".join(f"<td>{_cell(c)}</td>" for c in cells) + "</tr>")
    return f"<table>{head}{''.join(body)}</table>"


class _Charts:
    """Renders figures to divs, inlining plotly.js in the first one only."""

    def __init__(self) -> None:
        self.first = True

    def div(self, fig: go.Figure, chart_id: str) -> str:
        html: str = fig.to_html(
            full_html=False,
            include_plotlyjs=self.first,
            div_id=f"chart-{chart_id}",
            config={"displaylogo": False, "responsive": True},
        )
        self.first = False
        return html


def _section_html(number: int, section: Section, charts: _Charts) -> str:
    parts = [
        f'<section id="{escape(section.key)}">',
        f"<h2>{number}. {escape(section.title)}</h2>",
        f"<p>{escape(section.explanation)}</p>",
        _rows_html(section.rows),
        charts.div(rate_figure(section.title, section.rows, y_title="%"), section.key),
    ]
    if section.key == "referral":
        parts.append(charts.div(cause_figure(section.rows[1:]), "referral-causes"))
    if section.by_area:
        parts.append(f"<h3>{escape(section.title)}, by area</h3>")
        parts.append(
            charts.div(
                rate_figure(f"{section.title}, by area", section.by_area, y_title="%"),
                f"{section.key}-area",
            )
        )
    parts.append("</section>")
    return "\n".join(parts)


def _work_html(work: Mapping[str, Any], charts: _Charts) -> str:
    items: list[Mapping[str, Any]] = work.get("most_severe", [])
    head = (
        "<tr><th>severity</th><th>rule</th><th>stage</th><th>queue</th><th>offence group</th>"
        "<th>area</th><th>record</th><th>deadline</th></tr>"
    )
    body = []
    for item in items:
        record = (
            item.get("disclosure_id")
            or item.get("crime_ref")
            or item.get("n100_ref")
            or item.get("incident_ref")
            or ""
        )
        cells = (
            item["severity"],
            item["rule_id"],
            item["stage"],
            item["queue"],
            item.get("offence_group") or "",
            item.get("area") or "",
            record,
            item["deadline"][:16].replace("T", " "),
        )
        body.append("<tr>" + "".join(f"<td>{_cell(c)}</td>" for c in cells) + "</tr>")
    return "\n".join(
        [
            '<section id="open-work">',
            "<h2>Open work: what needs doing now</h2>",
            "<p>Duties still outstanding at the end of the period, most severe first (S1 "
            "critical: rape, children, unauthorised cancellation of a rape). Each names the "
            "record to open in the source system; no personal details are shown.</p>",
            f"<p><b>{_cell(work.get('total', 0))}</b> open items; by severity "
            f"{_cell(work.get('by_severity', {}))}.</p>",
            f"<table>{head}{''.join(body)}</table>",
            charts.div(work_figure(work), "open-work"),
            "</section>",
        ]
    )


def _kpis(view: ReportView) -> str:
    def first(key: str) -> Row | None:
        for section in view.sections:
            if section.key == key and section.rows:
                return section.rows[0]
        return None

    cards = []
    for key, label in (
        ("recording", "Recording rate (proxy)"),
        ("timeliness", "Recorded within 24 h"),
        ("cancellation_notification", "Victims told of cancellation"),
        ("referral", "Referred within 2 working days"),
    ):
        row = first(key)
        value = pct(row.rate) if row else "-"
        cards.append(f'<div class="kpi">{escape(label)}<b>{escape(value)}</b></div>')
    return f'<div class="kpis">{"".join(cards)}</div>'


def render_html(view: ReportView) -> str:
    """The complete page (plotly.js inlined, so it opens offline)."""
    charts = _Charts()
    period = view.period
    title = f"Crime-recording compliance report: force {view.force_code or ''}".strip()
    sections = "\n".join(_section_html(i, s, charts) for i, s in enumerate(view.sections, start=1))
    suppression = (
        "Counts under 5 in sexual-offence rows are shown as &lt;5 and their rates withheld."
        if view.suppression
        else "Small-number suppression is OFF: do not publish this page."
    )
    return "\n".join(
        [
            "<!doctype html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{escape(title)}</title>",
            f"<style>{_CSS}</style></head><body>",
            f"<h1>{escape(title)}</h1>",
            f'<p class="lead">Events from {escape(str(period.get("first_event", ""))[:10])} to '
            f"{escape(str(period.get('last_event', ''))[:10])}: "
            f"{escape(str(view.counts.get('events', 0)))} events replayed through the National "
            "Crime Recording Standard rules. Rates are shown with 95% confidence intervals; "
            "orange diamonds are HMIC's published figures for Cheshire (2017).</p>",
            _kpis(view),
            f'<p class="note">{suppression} R12 (recorded crime a year, for the HMIC-style '
            f"intervals) is {escape(view.recorded_12m_basis)}.</p>",
            sections,
            _work_html(view.open_work, charts),
            "</body></html>",
        ]
    )
