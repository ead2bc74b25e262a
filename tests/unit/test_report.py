"""The compliance report: sections and intervals, suppression, JSON, tables and the HTML page."""

from __future__ import annotations

import json
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from streams.cli import app
from streams.replay import replay_files
from streams.replay.summary import build_report
from streams.report.html import render_html
from streams.report.view import SUPPRESSED, build_view, make_row

SAMPLE = Path(__file__).resolve().parents[2] / "streams" / "sample" / "sample.ndjson"
SECTIONS = (
    "recording",
    "timeliness",
    "n100",
    "cancellations",
    "cancellation_notification",
    "referral",
)


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    """The report document of the bundled sample, as `replay --report` writes it."""
    result = replay_files([SAMPLE])
    built = build_report(result, inputs=[str(SAMPLE)], lateness=timedelta(hours=1))
    return json.loads(json.dumps(built))


class _Page(HTMLParser):
    """Collects headings, plotly chart divs and inline scripts of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: list[str] = []
        self.charts: list[str] = []
        self.script_bytes = 0
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag in ("h1", "h2", "h3"):
            self._in = tag
            self.headings.append("")
        if tag == "div" and "plotly-graph-div" in (found.get("class") or ""):
            self.charts.append(found.get("id") or "")
        if tag == "script":
            self._in = "script"

    def handle_endtag(self, tag: str) -> None:
        if tag == self._in:
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in in ("h1", "h2", "h3"):
            self.headings[-1] += data
        elif self._in == "script":
            self.script_bytes += len(data)


def test_build_view__has_every_inspection_section(document: dict[str, Any]):
    """Recording, timeliness, N100, cancellations, victims told and referrals are reported."""
    view = build_view(document)
    assert tuple(s.key for s in view.sections) == SECTIONS
    recording = view.sections[0]
    overall = recording.rows[0]
    assert overall.label == "All offences"
    assert overall.trials == document["measures"]["overall"]["recording"]["expected_proxy"]
    assert overall.wilson is not None
    assert overall.wilson[0] <= (overall.rate or 0) <= overall.wilson[1]
    assert "PROXY" in recording.explanation


def test_build_view__recording_carries_the_seed_reference_marks(document: dict[str, Any]):
    """The overall recording row is marked with HMIC's 83.6% ±1.79 for Cheshire."""
    overall = build_view(document).sections[0].rows[0]
    assert overall.reference is not None
    assert overall.reference.value == pytest.approx(0.836)
    assert overall.reference.half_width == pytest.approx(0.0179)


@pytest.mark.parametrize(("n", "of"), [(3, 10), (8, 4), (2, 2)])
def test_make_row__suppresses_small_counts_in_sexual_offence_rows(n: int, of: int):
    """A sexual-offence row with a count under 5 shows <5 and withholds its rate."""
    rendered = {
        "successes": min(n, of),
        "trials": of,
        "rate": 0.5,
        "wilson": [0.1, 0.9],
        "hmic": None,
    }
    row = make_row("RAPE", rendered, suppress=True)
    assert row.suppressed
    assert row.rate is None
    assert row.wilson is None
    assert SUPPRESSED in (row.to_dict()["successes"], row.to_dict()["trials"])


def test_make_row__does_not_suppress_other_groups_or_when_switched_off():
    """Suppression applies to sensitive rows only, and `--no-suppress` turns it off."""
    rendered = {"successes": 3, "trials": 4, "rate": 0.75, "wilson": [0.3, 0.95], "hmic": None}
    assert not make_row("THEFT", rendered, suppress=True).suppressed
    shown = make_row("RAPE", rendered, suppress=False)
    assert not shown.suppressed
    assert shown.successes == 3


def test_view_json__holds_no_suppressed_number(document: dict[str, Any]):
    """In JSON a suppressed count is the string <5, never a number under 5."""
    data = build_view(document).to_dict()
    sensitive = [
        row
        for section in data["sections"]
        for row in section["rows"]
        if row["key"] in ("RAPE", "OTHER_SEXUAL", "SEXUAL") and row["trials"] != 0
    ]
    assert any(row["suppressed"] for row in sensitive), "the sample has small sexual-offence rows"
    for row in sensitive:
        for name in ("successes", "trials"):
            value = row[name]
            assert value == SUPPRESSED or value == 0 or value >= 5  # noqa: PLR1714


def test_render_html__renders_headings_and_a_chart_per_section(document: dict[str, Any]):
    """The page parses, names each measure in a heading and draws plotly charts offline."""
    page = _Page()
    page.feed(render_html(build_view(document)))
    titles = [s.title for s in build_view(document).sections]
    assert page.headings[0].startswith("Crime-recording compliance report")
    for title in titles:
        assert any(title in h for h in page.headings), title
    assert len(page.charts) >= len(SECTIONS)
    assert "chart-recording" in page.charts
    assert page.script_bytes > 1_000_000, "plotly.js must be inlined for offline use"


def test_render_html__is_deterministic(document: dict[str, Any]):
    """The same report gives the same page (fixed chart ids)."""
    view = build_view(document)
    assert render_html(view) == render_html(view)


def test_report_command__prints_tables_and_writes_html(document: dict[str, Any], tmp_path: Path):
    """`report` prints the measures and writes the HTML page it was asked for."""
    path = tmp_path / "report.json"
    path.write_text(json.dumps(document))
    html = tmp_path / "out" / "report.html"
    result = CliRunner().invoke(app, ["report", str(path), "--html", str(html)])
    assert result.exit_code == 0, result.output
    assert "Crime recording rate (proxy)" in result.output
    assert html.read_text().startswith("<!doctype html>")


def test_report_command__json_format(document: dict[str, Any], tmp_path: Path):
    """`--format json` prints the report view as JSON."""
    path = tmp_path / "report.json"
    path.write_text(json.dumps(document))
    result = CliRunner().invoke(app, ["report", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["kind"] == "ncrs.compliance_report"
    assert data["small_number_suppression"] is True


def test_report_command__not_a_report_is_a_usage_error(tmp_path: Path):
    """A file that is not a replay report exits 2 with a clear message."""
    path = tmp_path / "x.json"
    path.write_text('{"hello": 1}')
    result = CliRunner().invoke(app, ["report", str(path)])
    assert result.exit_code == 2
    assert "not a replay report" in result.output
