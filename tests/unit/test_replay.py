"""Embedded audit mode: replay finds exactly the planted breaches, deterministically."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from schemas.codes import OffenceGroup, Stage
from schemas.registry import DecodeError, decode_event
from streams.cli import app
from streams.replay import ReplayResult, replay_events, replay_files
from streams.replay.publish import Pacer, Plan, messages
from streams.rules.duties import obligation_id
from streams.sim.generator import SimConfig, Simulation, generate, write_lines
from streams.sim.profile import Profile, load_profile
from streams.sim.truth import load_truth_breaches
from streams.topics import TOPIC_OF_TYPE

SAMPLE = Path(__file__).resolve().parents[2] / "streams" / "sample" / "sample.ndjson"
SAMPLE_TRUTH = SAMPLE.with_name("sample.ndjson.truth.json")


@dataclass
class Run:
    path: Path
    simulation: Simulation
    result: ReplayResult


def _simulate_and_replay(tmp: Path, config: SimConfig, name: str = "events.ndjson") -> Run:
    simulation = generate(config)
    path = tmp / name
    write_lines(simulation.lines, path)
    lateness = timedelta(seconds=simulation.truth.lateness_seconds)
    return Run(path, simulation, replay_files([path], lateness=lateness))


def _breached(result: ReplayResult) -> set[str]:
    return {a.obligation_id for a in result.alerts if a.stage is Stage.BREACHED}


def _planted(simulation: Simulation) -> dict[str, tuple[str, str]]:
    return {
        obligation_id(rule, subject): (rule, subject) for rule, subject in simulation.truth.breaches
    }


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """A simulated Cheshire month (150 incidents a day), replayed once for the tests below."""
    config = SimConfig(load_profile("cheshire-2016"), days=30, incidents_per_day=150, seed=11)
    return _simulate_and_replay(tmp_path_factory.mktemp("month"), config)


def test_replay__finds_every_planted_breach_and_no_unplanted_one(month: Run):
    """The (rule, subject) set of breached alerts equals the generator's truth file."""
    planted = _planted(month.simulation)
    found = _breached(month.result)
    assert len(planted) > 500
    missing = sorted(planted[i] for i in set(planted) - found)
    unplanted = sorted(
        (a.rule_id, a.subject.model_dump_json(exclude_none=True))
        for a in month.result.alerts
        if a.stage is Stage.BREACHED and a.obligation_id not in planted
    )
    assert missing == []
    assert unplanted == []


@pytest.mark.parametrize(
    ("profile", "start"),
    [
        ("cheshire-2016", "2015-03-20"),  # 72 h and no N100 before 1 April 2015, 24 h after
        ("cheshire-2016", "2016-12-12"),  # Christmas and New Year bank holidays
        ("cheshire-2016", "2024-04-20"),  # one rape crime per victim from May 2024
        ("improved", "2016-06-01"),
    ],
)
def test_replay__matches_the_truth_across_rulesets_holidays_and_profiles(
    tmp_path: Path, profile: str, start: str
):
    """Planted and found breaches agree whichever ruleset and calendar judge them."""
    config = SimConfig(
        load_profile(profile),
        days=20,
        incidents_per_day=100,
        seed=4,
        start=datetime.fromisoformat(start).replace(tzinfo=UTC),
    )
    run = _simulate_and_replay(tmp_path, config)
    assert _breached(run.result) == set(_planted(run.simulation))


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(min_value=0, max_value=2**31), per_day=st.integers(20, 80))
def test_replay__matches_the_truth_for_any_seed(tmp_path: Path, seed: int, per_day: int):
    """Whatever the seed and volume, replay announces exactly the planted breaches."""
    config = SimConfig(load_profile("cheshire-2016"), days=4, incidents_per_day=per_day, seed=seed)
    run = _simulate_and_replay(tmp_path, config, name=f"events-{seed}-{per_day}.ndjson")
    assert _breached(run.result) == set(_planted(run.simulation))


def test_replay__breached_alerts_name_the_planted_rules(month: Run):
    """Each breached alert's rule is the rule the truth file planted for that obligation."""
    planted = _planted(month.simulation)
    for alert in month.result.alerts:
        if alert.stage is Stage.BREACHED:
            assert planted[alert.obligation_id][0] == alert.rule_id


def test_replay__malformed_lines_are_dead_lettered_with_file_and_line(month: Run):
    """Every malformed line becomes a dead letter naming its file and line; the run goes on."""
    letters = month.result.dead_letters
    assert [d.origin.line for d in letters] == list(month.simulation.truth.malformed_lines)
    assert {d.origin.file for d in letters} == {str(month.path)}
    assert month.result.events == month.simulation.truth.lines - len(letters)


def test_replay__gzip_input_gives_the_same_alerts(month: Run, tmp_path: Path):
    """A .gz file is decompressed by its extension."""
    gz = tmp_path / "events.ndjson.gz"
    gz.write_bytes(gzip.compress(month.path.read_bytes()))
    lateness = timedelta(seconds=month.simulation.truth.lateness_seconds)
    again = replay_files([gz], lateness=lateness)
    assert [a.alert_id for a in again.alerts] == [a.alert_id for a in month.result.alerts]


def test_replay_events__equals_the_file_replay(month: Run):
    """The in-memory entry point (for the live golden test) gives the file replay's alerts."""
    events = []
    for line in month.path.read_bytes().splitlines():
        try:
            events.append(decode_event(line))
        except DecodeError:
            continue
    lateness = timedelta(seconds=month.simulation.truth.lateness_seconds)
    alerts = replay_events(events, lateness=lateness)
    assert [a.model_dump_json() for a in alerts] == [
        a.model_dump_json() for a in month.result.alerts
    ]


def test_replay__sample_file_matches_its_truth():
    """The bundled sample's breaches are exactly those its truth file lists."""
    truth = load_truth_breaches(SAMPLE_TRUTH)
    result = replay_files([SAMPLE])
    assert _breached(result) == {obligation_id(rule, subject) for rule, subject in truth}


def test_replay_command__twice_gives_byte_identical_alerts(tmp_path: Path):
    """Replay output is a function of the input alone."""
    outputs = []
    for run in ("a", "b"):
        alerts = tmp_path / f"{run}.ndjson"
        result = CliRunner().invoke(app, ["replay", str(SAMPLE), "--alerts", str(alerts)])
        assert result.exit_code == 3, result.output
        outputs.append(alerts.read_bytes())
    assert outputs[0] == outputs[1]
    assert outputs[0].count(b"\n") > 50


def test_replay_command__writes_dead_letters_and_report(tmp_path: Path):
    """--dead-letters and --report write NDJSON and a report with measures and open work."""
    letters, report = tmp_path / "dl.ndjson", tmp_path / "report.json"
    result = CliRunner().invoke(
        app, ["replay", str(SAMPLE), "--dead-letters", str(letters), "--report", str(report)]
    )
    assert result.exit_code == 3
    malformed = json.loads(SAMPLE_TRUTH.read_text())["malformed_lines"]
    lines = [json.loads(x) for x in letters.read_text().splitlines()]
    assert [x["origin"]["line"] for x in lines] == malformed
    document = json.loads(report.read_text())
    assert document["measures"]["overall"]["recording"]["expected_proxy"] > 0
    assert document["open_work_items"]["total"] >= document["open_breaches"] > 0
    assert len(document["open_work_items"]["most_severe"]) == 10


def test_replay_command__exit_0_when_no_breach_is_open(tmp_path: Path):
    """A history whose duties were all met exits 0."""
    clean = tmp_path / "clean.ndjson"
    clean.write_bytes(
        b'{"specversion":"1.0","id":"e1","source":"urn:t","type":"incident.reported",'
        b'"time":"2016-06-01T10:00:00+00:00","force_code":"CHE","incident_ref":"I1",'
        b'"data":{"received_at":"2016-06-01T10:00:00+00:00","channel":"emergency_999",'
        b'"reporter_type":"victim","opening_category":"transport","area":"CH-WAR"}}\n'
    )
    result = CliRunner().invoke(app, ["replay", str(clean)])
    assert result.exit_code == 0, result.output
    # Only incidents in the file: the auditor is told which topics the history lacks.
    assert (
        "warning: no event of ncrs.crime-records.v1, ncrs.cancellations.v1, "
        "ncrs.victim-contact.v1 in the input" in result.output
    )


def test_replay_command__no_warning_when_every_input_topic_has_events(month: Run):
    """A simulated month holds every input topic: no absent-topic warning."""
    assert month.result.absent_sources == []
    result = CliRunner().invoke(app, ["replay", str(month.path)])
    assert result.exit_code in (0, 3), result.output
    assert "warning: no event of" not in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["replay", "/no/such/file.ndjson"],
        ["replay", str(SAMPLE), "--as-of", "yesterday"],
    ],
)
def test_replay_command__usage_and_io_errors_exit_2_without_traceback(args: list[str]):
    """Usage and I/O problems are one clear line and exit code 2."""
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "error" in result.output
    assert "Traceback" not in result.output


def test_replay_command__corrupt_gzip_is_an_io_error(tmp_path: Path):
    """A file that claims to be gzip but is not is reported, not raised."""
    bad = tmp_path / "bad.ndjson.gz"
    bad.write_bytes(b"this is not gzip\n")
    result = CliRunner().invoke(app, ["replay", str(bad)])
    assert result.exit_code == 2
    assert "cannot read input" in result.output


# --- calibration against the inspection (large runs) ---------------------------------------


def _rate(section: dict[str, object]) -> float:
    recording = section["recording"]
    assert isinstance(recording, dict)
    rate = recording["rate"]["rate"]
    assert isinstance(rate, float)
    return rate


def _sexual_only(profile: Profile) -> Profile:
    """The same force with only sexual offences (in the profile's rape : other-sexual ratio)."""
    rape = profile.offence_mix[OffenceGroup.RAPE]
    other = profile.offence_mix[OffenceGroup.OTHER_SEXUAL]
    mix = dict.fromkeys(OffenceGroup, 0.0)
    mix[OffenceGroup.RAPE] = rape / (rape + other)
    mix[OffenceGroup.OTHER_SEXUAL] = other / (rape + other)
    return profile.model_copy(update={"offence_mix": mix})


@pytest.mark.slow
def test_replay__cheshire_recording_rates_fall_inside_the_published_intervals(tmp_path: Path):
    """Overall 83.6% ±1.79, violence 80.9% ±3.00 and sexual 84.8% ±3.10 (HMIC 2017)."""
    profile = load_profile("cheshire-2016")
    run = _simulate_and_replay(
        tmp_path, SimConfig(profile, days=90, incidents_per_day=150, seed=2016, crime_share=1.0)
    )
    measures = run.result.measures.to_dict()
    assert 0.836 - 0.0179 <= _rate(measures["overall"]) <= 0.836 + 0.0179
    assert 0.809 - 0.030 <= _rate(measures["by_offence_group"]["VIOLENCE"]) <= 0.809 + 0.030

    sexual = _simulate_and_replay(
        tmp_path,
        SimConfig(
            _sexual_only(profile), days=30, incidents_per_day=100, seed=2016, crime_share=1.0
        ),
        name="sexual.ndjson",
    )
    assert 0.848 - 0.031 <= _rate(sexual.result.measures.to_dict()["overall"]) <= 0.848 + 0.031


@pytest.mark.slow
def test_replay__improved_force_records_near_96_4_percent(tmp_path: Path):
    """The 2018 re-inspection's 96.4% comes out of the improved profile's replay."""
    run = _simulate_and_replay(
        tmp_path,
        SimConfig(
            load_profile("improved"), days=30, incidents_per_day=150, seed=2018, crime_share=1.0
        ),
    )
    assert _rate(run.result.measures.to_dict()["overall"]) == pytest.approx(0.964, abs=0.01)


# --- produce: topic, key and pace -----------------------------------------------------------


def test_produce_messages__route_each_event_to_its_topic_and_key():
    """Each valid line goes to its type's topic, keyed by that topic's key field."""
    plan = Plan()
    found = list(messages([SAMPLE], plan, suffix=".t"))
    assert plan.skipped == len(json.loads(SAMPLE_TRUTH.read_text())["malformed_lines"])
    for message in found:
        event = decode_event(message.value)
        spec = TOPIC_OF_TYPE[event.type]
        assert message.topic == f"{spec.name}.t"
        assert message.key.decode() == getattr(event, spec.key)


def test_pacer__scales_event_time_and_never_runs_backwards():
    """At speed 3600 an hour of event time is a second; an earlier event waits for nothing."""
    now = [100.0]
    pacer = Pacer(3600.0, clock=lambda: now[0])
    t0 = datetime(2016, 6, 1, tzinfo=UTC)
    assert pacer.delay(t0) == 0.0
    assert pacer.delay(t0 + timedelta(hours=2)) == pytest.approx(2.0)
    now[0] = 102.5
    assert pacer.delay(t0 + timedelta(minutes=30)) == 0.0
    assert Pacer(None).delay(t0 + timedelta(days=9)) == 0.0
