"""The `ncrs-monitor` console script: fast help, version, and errors as one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from streams import __version__
from streams.cli import app

CLI = str(Path(sys.executable).with_name("ncrs-monitor"))


def test_version_option_prints_the_package_version():
    """`--version` answers without running a command."""
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"ncrs-monitor {__version__}"


def test_help_lists_the_command_groups():
    """`--help` names every registered command group."""
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for group in ("schemas", "topics"):
        assert group in result.output


def test_importing_the_cli_loads_no_kafka_client():
    """faust and aiokafka are imported inside commands, so `--help` stays fast."""
    code = (
        "import sys, streams.cli; "
        "print(sorted(m for m in ('faust', 'aiokafka', 'mode') if m in sys.modules))"
    )
    out = subprocess.run(  # noqa: PLW1510 - output is asserted
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert out.stdout.strip() == "[]", out.stderr


@pytest.mark.parametrize("command", [["topics", "create"], ["topics", "list"]])
def test_bad_configuration_is_one_line_on_stderr_with_exit_2(command):
    """A ConfigError reaches the operator as a message naming the variable, not a traceback."""
    env = {**os.environ, "NCRS_WEB_PORT": "eighty"}
    result = subprocess.run(  # noqa: PLW1510 - return code is asserted
        [CLI, *command], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr.startswith("ncrs-monitor: error: NCRS_WEB_PORT: ")
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
