"""The long-running drivers tune the garbage collector once, before their main loop.

`streams.runtime.tune_gc` (its thresholds are checked in rules/test_performance_equivalence.py)
only helps if the drivers call it: `ncrs-monitor replay` (and `demo`, through the same path)
before the replay loop, `ncrs-monitor worker` before faust runs. The autouse fixture in
conftest.py puts the collector back after each test.
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import faust
import pytest
from typer.testing import CliRunner

import streams.logs
from streams.cli import app
from streams.commands import worker as worker_command
from streams.replay import runner
from streams.runtime import MIDDLE_THRESHOLD, OLD_THRESHOLD, YOUNG_THRESHOLD

SAMPLE = Path(__file__).resolve().parents[2] / "streams" / "sample" / "sample.ndjson"
TUNED = (YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD)


def _assert_untuned() -> None:
    """The precondition: nothing before the test left the collector tuned."""
    assert gc.get_threshold() != TUNED
    assert gc.get_freeze_count() == 0


def test_replay_command__tunes_the_collector_before_replaying(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """By the time the replay loop starts, thresholds are raised and start-up is frozen."""
    _assert_untuned()
    seen: list[tuple[tuple[int, int, int], int]] = []
    replay_files = runner.replay_files

    def observed(*args: Any, **kwargs: Any) -> Any:
        seen.append((gc.get_threshold(), gc.get_freeze_count()))
        return replay_files(*args, **kwargs)

    monkeypatch.setattr(runner, "replay_files", observed)
    result = CliRunner().invoke(app, ["replay", str(SAMPLE)])
    assert result.exit_code in {0, 3}, result.output
    [(thresholds, frozen)] = seen
    assert thresholds == TUNED
    assert frozen > 0


def test_demo_command__replays_with_the_collector_tuned(tmp_path: Path) -> None:
    """`demo` replays through the same driver path, so it leaves the collector tuned."""
    _assert_untuned()
    result = CliRunner().invoke(
        app, ["demo", "--out-dir", str(tmp_path), "--days", "2", "--incidents-per-day", "20"]
    )
    assert result.exit_code == 0, result.output
    assert gc.get_threshold() == TUNED
    assert gc.get_freeze_count() > 0


def test_worker_command__tunes_the_collector_before_faust_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The worker is built, then the collector tuned, then faust's Worker runs."""
    _assert_untuned()
    seen: list[tuple[tuple[int, int, int], int]] = []

    async def no_broker_check(settings: object) -> None:
        return None

    class FakeFaustWorker:
        """Stands in for faust's Worker: records the collector's state when it would run."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self.spinner: object = object()

        def execute_from_commandline(self) -> None:
            seen.append((gc.get_threshold(), gc.get_freeze_count()))

    monkeypatch.setattr(worker_command, "check_broker", no_broker_check)
    monkeypatch.setattr(streams.logs, "configure_logging", lambda *args, **kwargs: None)
    monkeypatch.setattr(faust, "Worker", FakeFaustWorker)
    monkeypatch.setenv("NCRS_TOPIC_PARTITIONS", "3")
    result = CliRunner().invoke(app, ["worker"])
    assert result.exit_code == 0, result.output
    [(thresholds, frozen)] = seen
    assert thresholds == TUNED
    assert frozen > 0
