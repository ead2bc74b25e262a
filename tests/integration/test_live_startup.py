"""A worker refuses to start, fast and in one line, when its topics or settings are wrong.

faust would otherwise ignore a missing topic, or crash-loop on `PartitionsMismatch` while
reporting "Ready" (../shared/notes/faust-and-kafka.md); the check runs before faust starts.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.integration.kit import CLI, Fleet, unique

START_TIMEOUT_S = 60


def _run(fleet: Fleet, cwd: Path, **env: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [CLI, "worker"],
        env=fleet.env(port=6066, **env),
        cwd=cwd,
        capture_output=True,
        timeout=START_TIMEOUT_S,
        check=False,
    )


def _error_lines(done: subprocess.CompletedProcess[bytes]) -> list[str]:
    return [
        line
        for line in done.stderr.decode().splitlines()
        if line.startswith("ncrs-monitor: error:")
    ]


def test_startup__missing_topics_refuse_to_start(bootstrap: str, tmp_path: Path) -> None:
    """No topics for this suffix: exit 2 with one line naming them and the command to run."""
    fleet = Fleet(bootstrap, unique("lsmissing"))
    done = _run(fleet, tmp_path)
    assert done.returncode == 2
    [line] = _error_lines(done)
    assert "topics missing:" in line
    assert fleet.topic("ncrs.incidents.v1") in line
    assert "ncrs-monitor topics create" in line


def test_startup__partition_count_mismatch_refuses_to_start(bootstrap: str, tmp_path: Path) -> None:
    """Topics with 3 partitions and NCRS_TOPIC_PARTITIONS=2: exit 2, not a crash loop."""
    fleet = Fleet(bootstrap, unique("lsmismatch"))
    fleet.create_topics()
    done = _run(fleet, tmp_path, NCRS_TOPIC_PARTITIONS="2")
    assert done.returncode == 2
    [line] = _error_lines(done)
    assert "not co-partitioned" in line
    assert "NCRS_TOPIC_PARTITIONS" in line


def test_startup__bad_setting_names_the_variable(bootstrap: str, tmp_path: Path) -> None:
    """A wrong setting fails at once with the variable's name."""
    fleet = Fleet(bootstrap, unique("lsbad"))
    done = _run(fleet, tmp_path, NCRS_GRACE_SECONDS="-5")
    assert done.returncode == 2
    [line] = _error_lines(done)
    assert "NCRS_GRACE_SECONDS" in line
