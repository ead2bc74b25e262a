"""The committed Grafana dashboards are what deploy/grafana/generate.py writes, and safe to show."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"

pytest.importorskip(
    "grafana_foundation_sdk",
    reason="grafana-foundation-sdk is not installed (it is in the `test` extras of pyproject.toml)",
)


@pytest.fixture(scope="module")
def generate() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ncrs_grafana_generate", GRAFANA / "generate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def queries() -> list[dict[str, Any]]:
    return json.loads((GRAFANA / "panel_queries.json").read_text(encoding="utf-8"))


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool is required in CI (Debian package `prometheus`)")
        pytest.skip("promtool not installed (apt-get install prometheus)")
    return path


def test_committed_dashboard_json_matches_the_generator(
    generate: ModuleType, tmp_path: Path
) -> None:
    """Re-running the generator reproduces every committed file byte for byte."""
    written = generate.write_all(tmp_path)
    assert len(written) == 3
    for path in written:
        committed = GRAFANA / path.relative_to(tmp_path)
        assert committed.read_text(encoding="utf-8") == path.read_text(encoding="utf-8"), (
            f"{committed.relative_to(ROOT)} is stale: run python deploy/grafana/generate.py"
        )


def test_every_panel_target_uses_the_provisioned_prometheus_datasource() -> None:
    """Each panel and target points at datasource uid `prometheus`, the provisioned one."""
    provisioned = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text(encoding="utf-8")
    )
    assert [d["uid"] for d in provisioned["datasources"]] == ["prometheus"]
    for name in ("compliance.json", "operations.json"):
        board = json.loads(
            (GRAFANA / "provisioning" / "dashboards" / "json" / name).read_text(encoding="utf-8")
        )
        panels = [p for p in board["panels"] if p["type"] != "row"]
        assert panels, name
        for panel in panels:
            assert panel["datasource"]["uid"] == "prometheus", panel["title"]
            assert panel["targets"], panel["title"]
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == "prometheus", panel["title"]
        assert len({p["id"] for p in board["panels"]}) == len(board["panels"]), name


def test_panel_query_inventory_covers_every_dashboard_target(queries: list[dict[str, Any]]) -> None:
    """panel_queries.json lists exactly the dashboards' targets, with key panels on both boards."""
    exprs: list[str] = []
    for name in ("compliance.json", "operations.json"):
        board = json.loads(
            (GRAFANA / "provisioning" / "dashboards" / "json" / name).read_text(encoding="utf-8")
        )
        exprs += [t["expr"] for p in board["panels"] if p["type"] != "row" for t in p["targets"]]
    assert sorted(exprs) == sorted(q["expr"] for q in queries)
    assert {q["dashboard"] for q in queries if q["key"]} == {"ncrs-compliance", "ncrs-operations"}


def test_panel_queries_use_no_grafana_variables_and_no_ids(queries: list[dict[str, Any]]) -> None:
    """Queries run as written against Prometheus, and never group by an identifying label."""
    for query in queries:
        assert "$" not in query["expr"], query["panel"]
        for label in ("incident_ref", "crime_ref", "victim_pseudo_id", "alert_id"):
            assert label not in query["expr"], query["panel"]


def test_every_panel_query_parses_as_promql(queries: list[dict[str, Any]], tmp_path: Path) -> None:
    """promtool accepts every panel expression."""
    promtool = _promtool()
    rules = [{"record": f"panel:q{i}", "expr": q["expr"]} for i, q in enumerate(queries)]
    path = tmp_path / "panels.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": rules}]}))
    result = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _series(group: str, area: str, recorded: int, within: int) -> list[dict[str, str]]:
    labels = f'job="ncrs-worker",instance="w1:6066",offence_group="{group}",area="{area}"'
    return [
        {"series": f"ncrs_crimes_recorded_total{{{labels}}}", "values": f"{recorded}x10"},
        {"series": f"ncrs_crimes_recorded_within_24h_total{{{labels}}}", "values": f"{within}x10"},
    ]


def test_sexual_offence_timeliness_is_hidden_under_five_crimes(
    queries: list[dict[str, Any]], tmp_path: Path
) -> None:
    """RAPE with 4 crimes is hidden; OTHER_SEXUAL with 5 and VIOLENCE with 2 are shown."""
    promtool = _promtool()
    (expr,) = [q["expr"] for q in queries if q["panel"] == "Recorded within 24 h by offence group"]
    series = (
        _series("RAPE", "LPU1", recorded=4, within=3)
        + _series("OTHER_SEXUAL", "LPU1", recorded=5, within=4)
        + _series("VIOLENCE", "LPU1", recorded=2, within=1)
    )
    empty_rules = tmp_path / "empty.rules.yml"
    empty_rules.write_text("groups: []\n")
    test = {
        "rule_files": [empty_rules.name],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": series,
                "promql_expr_test": [
                    {
                        "expr": expr,
                        "eval_time": "5m",
                        "exp_samples": [
                            {"labels": '{offence_group="OTHER_SEXUAL"}', "value": 0.8},
                            {"labels": '{offence_group="VIOLENCE"}', "value": 0.5},
                        ],
                    }
                ],
            }
        ],
    }
    path = tmp_path / "suppression.test.yml"
    path.write_text(yaml.safe_dump(test))
    result = subprocess.run(
        [promtool, "test", "rules", path.name],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
