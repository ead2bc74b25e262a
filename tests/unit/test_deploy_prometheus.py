"""Prometheus alert rules and Alertmanager routing: well formed, tested, and each with a runbook."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROM = ROOT / "deploy" / "prometheus"
RULES = PROM / "rules" / "ncrs.rules.yml"
RUNBOOKS = ROOT / "docs" / "runbooks.md"
QUEUES = {"omu", "fcr", "victim_care", "ppu", "control_room", "data_quality", "platform"}
SEVERITIES = {"S1", "S2", "S3", "S4"}


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is required in CI (Debian package `{package}`)")
        pytest.skip(f"{name} not installed (apt-get install {package})")
    return path


def _alerts() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def _alert_tests() -> list[dict[str, Any]]:
    cases = []
    for path in sorted((PROM / "tests").glob("*.test.yml")):
        for test in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]:
            cases += test.get("alert_rule_test", [])
    return cases


def _anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_alert_rules_pass_promtool_unit_tests() -> None:
    """`promtool test rules` passes for every test file."""
    promtool = _tool("promtool", "prometheus")
    files = sorted(str(p.relative_to(ROOT)) for p in (PROM / "tests").glob("*.test.yml"))
    result = subprocess.run(
        [promtool, "test", "rules", *files], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_files_pass_promtool_check() -> None:
    """`promtool check rules` accepts the rules file."""
    promtool = _tool("promtool", "prometheus")
    result = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("alert", _alerts(), ids=lambda a: a["alert"])
def test_alert_has_for_severity_queue_and_annotations(alert: dict[str, Any]) -> None:
    """Each alert waits (`for`), has a known severity and owning queue, and full annotations."""
    assert alert.get("for"), "every alert needs a `for` duration"
    assert alert["labels"]["severity"] in SEVERITIES
    queue = alert["labels"].get("queue")
    if queue is None:  # the owning queue comes from the series itself
        assert "queue" in alert["expr"], "no queue label and the expr does not carry one"
    else:
        assert queue in QUEUES
    assert {"summary", "description", "runbook_url"} <= set(alert["annotations"])


def test_every_runbook_link_points_at_a_runbooks_section() -> None:
    """Every runbook_url is docs/runbooks.md#<anchor of a heading> named after the alert."""
    headings = re.findall(r"^#{2,3} (.+)$", RUNBOOKS.read_text(encoding="utf-8"), re.MULTILINE)
    anchors = {_anchor(h) for h in headings}
    for alert in _alerts():
        url = alert["annotations"]["runbook_url"]
        path, _, anchor = url.partition("#")
        assert path == "docs/runbooks.md", url
        assert anchor == alert["alert"].lower(), url
        assert anchor in anchors, f"docs/runbooks.md has no section for {alert['alert']}"


def test_every_alert_is_tested_firing_and_not_firing() -> None:
    """Each alert has a promtool case expecting it to fire and one expecting silence."""
    cases = _alert_tests()
    for alert in _alerts():
        name = alert["alert"]
        mine = [c for c in cases if c["alertname"] == name]
        assert any(c.get("exp_alerts") for c in mine), f"{name} never tested firing"
        assert any(not c.get("exp_alerts") for c in mine), f"{name} never tested silent"


def test_alertmanager_config_passes_amtool() -> None:
    """`amtool check-config` accepts the Alertmanager configuration."""
    amtool = _tool("amtool", "prometheus-alertmanager")
    config = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
    result = subprocess.run(
        [amtool, "check-config", str(config)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        ({"severity": "S1", "queue": "fcr"}, "control-room,fcr"),
        ({"severity": "S1", "queue": "ppu"}, "control-room,ppu"),
        ({"severity": "S2", "queue": "omu"}, "omu"),
        ({"severity": "S4", "queue": "data_quality"}, "omu"),
        ({"severity": "S3", "queue": "victim_care"}, "victim-care"),
        ({"severity": "S2", "queue": "control_room"}, "control-room"),
        ({"severity": "S2", "queue": "platform", "alertname": "NcrsWorkerDown"}, "platform"),
    ],
)
def test_alertmanager_routes_by_severity_and_queue(labels: dict[str, str], receivers: str) -> None:
    """An alert reaches its owning queue's receiver, and every S1 also the control room."""
    amtool = _tool("amtool", "prometheus-alertmanager")
    config = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
    result = subprocess.run(
        [
            amtool,
            "config",
            "routes",
            "test",
            f"--config.file={config}",
            f"--verify.receivers={receivers}",
            *(f"{k}={v}" for k, v in labels.items()),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_worker_down_inhibits_source_staleness_alerts() -> None:
    """An inhibit rule lets NcrsWorkerDown silence both source-staleness alerts."""
    config = yaml.safe_load(
        (ROOT / "deploy" / "alertmanager" / "alertmanager.yml").read_text(encoding="utf-8")
    )
    for target in ("NcrsSourceStale", "NcrsSourceTopicSilent"):
        assert any(
            re.search(r"NcrsWorkerDown", " ".join(rule["source_matchers"]))
            and re.search(target, " ".join(rule["target_matchers"]))
            for rule in config["inhibit_rules"]
        ), target


def test_source_stale_inhibits_topic_silent_only_for_the_same_source() -> None:
    """NcrsSourceStale hides Prometheus's silence backstop for its own source only (the
    backstop's `source` label, a copy of `topic`, is checked by the promtool cases)."""
    config = yaml.safe_load(
        (ROOT / "deploy" / "alertmanager" / "alertmanager.yml").read_text(encoding="utf-8")
    )
    scoped = [
        rule
        for rule in config["inhibit_rules"]
        if re.search(r"NcrsSourceStale", " ".join(rule["source_matchers"]))
        and re.search(r"NcrsSourceTopicSilent", " ".join(rule["target_matchers"]))
        and "NcrsWorker" not in " ".join(rule["source_matchers"])
    ]
    assert scoped, "no NcrsSourceStale -> NcrsSourceTopicSilent inhibit rule"
    assert all("source" in rule.get("equal", []) for rule in scoped), scoped
