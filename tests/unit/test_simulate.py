"""The simulator: deterministic, decodable, within the lateness window, with planted breaches."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from schemas.registry import DecodeError, decode_event
from streams.cli import app
from streams.sim.generator import SimConfig, Simulation, generate
from streams.sim.profile import load_profile
from streams.sim.truth import load_truth_breaches


@pytest.fixture(scope="module")
def month() -> Simulation:
    """A small Cheshire month (shared by the read-only tests below)."""
    return generate(
        SimConfig(load_profile("cheshire-2016"), days=30, incidents_per_day=120, seed=5)
    )


def test_generate__same_seed_gives_the_same_bytes_and_truth(month: Simulation):
    """Determinism: a seed names one stream and one truth, byte for byte."""
    again = generate(
        SimConfig(load_profile("cheshire-2016"), days=30, incidents_per_day=120, seed=5)
    )
    assert again.lines == month.lines
    assert again.truth.to_dict() == month.truth.to_dict()


def test_generate__another_seed_gives_another_stream(month: Simulation):
    """The seed matters."""
    other = generate(
        SimConfig(load_profile("cheshire-2016"), days=30, incidents_per_day=120, seed=6)
    )
    assert other.lines != month.lines


def test_generate__every_line_decodes_except_the_planted_malformed_ones(month: Simulation):
    """Valid lines pass the contracts; exactly the truth's malformed line numbers fail."""
    failed = []
    for number, line in enumerate(month.lines, start=1):
        try:
            decode_event(line)
        except DecodeError:
            failed.append(number)
    assert failed == list(month.truth.malformed_lines)
    assert failed, "a month at the Cheshire feed rates carries some malformed lines"


def test_generate__no_event_arrives_later_than_the_lateness_window(month: Simulation):
    """Out-of-order arrival stays inside the window the replay waits for."""
    window = timedelta(seconds=month.truth.lateness_seconds)
    latest = None
    displaced = 0
    for line in month.lines:
        try:
            event = decode_event(line)
        except DecodeError:
            continue
        if latest is not None:
            assert event.time > latest - window
            displaced += event.time < latest
        latest = event.time if latest is None else max(latest, event.time)
    assert displaced > 0, "some events must arrive out of event-time order"


def test_generate__event_ids_are_unique_apart_from_planted_duplicates(month: Simulation):
    """Ids are derived, never random, and distinct per source."""
    keys = Counter()
    for line in month.lines:
        try:
            keys[decode_event(line).dedup_key] += 1
        except DecodeError:
            continue
    assert sum(n - 1 for n in keys.values()) == month.truth.duplicates


def test_generate__plants_breaches_of_the_inspection_findings(month: Simulation):
    """A Cheshire month breaches recording, review, safeguarding and victim-care duties."""
    rules = Counter(rule for rule, _ in month.truth.breaches)
    for rule in ("REC-24H", "CLOSE-REVIEW", "DA-SAFEGUARDING", "CARE-REFERRAL", "EQUALITY-DATA"):
        assert rules[rule] > 0, rule


def test_generate__improved_force_breaches_less_than_cheshire(month: Simulation):
    """The 2018 profile records more, so it plants fewer recording breaches."""
    improved = generate(SimConfig(load_profile("improved"), days=30, incidents_per_day=120, seed=5))
    before = sum(1 for rule, _ in month.truth.breaches if rule == "REC-24H")
    after = sum(1 for rule, _ in improved.truth.breaches if rule == "REC-24H")
    assert after < before / 2


def test_generate__no_personal_data_fields_in_events(month: Simulation):
    """Events carry ids, codes, booleans and timestamps only."""
    forbidden = {"name", "address", "date_of_birth", "dob", "phone", "narrative", "rationale"}
    for line in month.lines[:2000]:
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict):
            keys = set(obj) | set(obj.get("data", {}))
            assert not keys & forbidden


def test_simulate_command__writes_gzip_and_truth(tmp_path: Path):
    """`simulate` writes a gzip stream and a truth file listing breaches with stage breached."""
    out = tmp_path / "events.ndjson.gz"
    truth = tmp_path / "truth.json"
    result = CliRunner().invoke(
        app,
        [
            "simulate",
            "--days", "2",
            "--incidents-per-day", "40",
            "--seed", "3",
            "--out", str(out),
            "--truth", str(truth),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = gzip.decompress(out.read_bytes()).splitlines()
    data = json.loads(truth.read_text())
    assert len(lines) == data["lines"]
    assert {b["stage"] for b in data["breaches"]} <= {"breached"}
    assert load_truth_breaches(truth) == {(b["rule"], b["subject"]) for b in data["breaches"]}


def test_simulate_command__unknown_profile_is_a_usage_error(tmp_path: Path):
    """A mistyped profile exits 2 with the names that exist, no traceback."""
    result = CliRunner().invoke(
        app, ["simulate", "--profile", "chesire", "--out", str(tmp_path / "x.ndjson")]
    )
    assert result.exit_code == 2
    assert "cheshire-2016" in result.output
    assert "Traceback" not in result.output
