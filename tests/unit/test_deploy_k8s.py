"""Kubernetes manifests and docker-compose stack: valid, and configured only with real settings."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.settings import ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
SETTINGS_VARS = {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields}


def _check(target: str) -> None:
    """Run one target of deploy/check.sh without installing anything."""
    result = subprocess.run(
        ["bash", str(ROOT / "deploy" / "check.sh"), target],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NCRS_CHECK_NO_INSTALL": "1"},
    )
    if result.returncode != 0 and "not found" in result.stderr and os.environ.get("CI") != "true":
        pytest.skip(f"deploy/check.sh {target}: {result.stderr.strip()}")
    assert result.returncode == 0, result.stdout + result.stderr


def _doc(name: str) -> dict[str, Any]:
    return yaml.safe_load((K8S / name).read_text(encoding="utf-8"))


def test_kustomize_base_renders_and_passes_strict_schema_validation() -> None:
    """kustomize build | kubeconform -strict, and kubernetes-validate --strict, both pass."""
    _check("k8s")


def test_compose_file_validates_and_requires_a_grafana_password() -> None:
    """`docker compose config` passes with a password and refuses without one."""
    if shutil.which("docker-compose") is None and os.environ.get("CI") != "true":
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
        if probe.returncode != 0:
            pytest.skip("neither the docker compose plugin nor docker-compose is installed")
    _check("compose")


@pytest.mark.parametrize("name", ["configmap.yaml", "secret.yaml"])
def test_k8s_settings_are_all_known_ncrs_settings(name: str) -> None:
    """Every NCRS_ key in the ConfigMap and Secret names a field of streams.settings.Settings."""
    doc = _doc(name)
    keys = set((doc.get("data") or doc.get("stringData") or {}).keys())
    assert keys
    assert keys <= SETTINGS_VARS, keys - SETTINGS_VARS


def test_compose_worker_settings_are_all_known_ncrs_settings() -> None:
    """Every NCRS_ variable given to a compose service names a Settings field."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    seen: set[str] = set()
    for service in compose["services"].values():
        seen |= {k for k in (service.get("environment") or {}) if k.startswith(ENV_PREFIX)}
    assert "NCRS_CONSUMER_GROUP_INSTANCE_ID" in seen
    assert seen <= SETTINGS_VARS, seen - SETTINGS_VARS


def test_worker_statefulset_uses_pod_name_for_static_membership_and_probes() -> None:
    """Static group id from metadata.name, /healthz liveness, /readyz readiness, non-root, RO fs."""
    spec = _doc("statefulset.yaml")["spec"]
    (container,) = spec["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    instance = env["NCRS_CONSUMER_GROUP_INSTANCE_ID"]["valueFrom"]["fieldRef"]["fieldPath"]
    assert instance == "metadata.name"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert spec["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    assert spec["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    assert spec["template"]["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
