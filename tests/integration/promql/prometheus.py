"""A real Prometheus server (Debian package `prometheus`) for one test run, and its HTTP API.

The server runs on 127.0.0.1 with a temporary storage directory and a config derived from the
committed `deploy/prometheus/prometheus.yml`: its `ncrs-worker` scrape job (the job name the rules
and dashboards match) with the test worker as the only target, every interval 1 s, and copies of
`deploy/prometheus/rules/*.yml`. The copies differ from the committed files in one way only:
a group-level `interval` (1m for the recording rules in production) is removed, so every group is
evaluated at the test's 1 s evaluation interval and has been evaluated within a short test.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

JOB = "ncrs-worker"
"""The scrape job name deploy/prometheus/rules and the dashboards assume."""

INTERVAL = "1s"
READY_TIMEOUT_S = 30.0
HTTP_TIMEOUT_S = 10.0


class PrometheusError(RuntimeError):
    """The server could not be configured, started or reached."""


@dataclass(frozen=True)
class QueryResult:
    """One answer of /api/v1/query or /api/v1/query_range."""

    status: str
    result_type: str = ""
    result: list[Any] = field(default_factory=list)
    """Series dicts for a vector or matrix; `[time, "value"]` for a scalar."""
    error: str = ""
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Prometheus evaluated the expression (status success)."""
        return self.status == "success"

    def finite_values(self) -> list[float]:
        """Every sample value that a panel would draw (NaN and infinities are no data)."""
        values: list[float] = []
        raw: list[Any]
        if self.result_type == "scalar" and self.result:
            raw = [self.result]
        elif self.result_type == "matrix":
            raw = [v for series in self.result for v in series.get("values", [])]
        else:
            raw = [series["value"] for series in self.result if "value" in series]
        for _, text in raw:
            value = float(text)
            if math.isfinite(value):
                values.append(value)
        return values

    @property
    def has_data(self) -> bool:
        """At least one series with a finite value: what a key panel must show."""
        return bool(self.finite_values())


def prometheus_binary() -> str | None:
    """The server binary: $NCRS_PROMETHEUS_BIN, else `prometheus` on PATH (/usr/bin on Debian)."""
    return os.environ.get("NCRS_PROMETHEUS_BIN") or shutil.which("prometheus")


def rules_for_test(rules_dir: Path, out_dir: Path) -> list[Path]:
    """Copy every rule file with group intervals removed (see the module docstring)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for source in sorted(rules_dir.glob("*.yml")):
        doc = yaml.safe_load(source.read_text(encoding="utf-8"))
        for group in doc.get("groups", []):
            group.pop("interval", None)
        target = out_dir / source.name
        target.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        written.append(target)
    if not written:
        msg = f"no rule files in {rules_dir}"
        raise PrometheusError(msg)
    return written


def config_for_test(committed: Path, target: str, rule_files: list[Path]) -> dict[str, Any]:
    """The committed config reduced to its ncrs-worker job, scraping `target` every second."""
    doc = yaml.safe_load(committed.read_text(encoding="utf-8"))
    jobs = [job for job in doc.get("scrape_configs", []) if job.get("job_name") == JOB]
    if len(jobs) != 1:
        msg = f"{committed} must have exactly one scrape job named {JOB!r}, found {len(jobs)}"
        raise PrometheusError(msg)
    job = {k: v for k, v in jobs[0].items() if k not in {"static_configs", "scrape_interval"}}
    job["static_configs"] = [{"targets": [target]}]
    global_ = dict(doc.get("global", {}))
    global_.update(scrape_interval=INTERVAL, scrape_timeout=INTERVAL, evaluation_interval=INTERVAL)
    return {
        "global": global_,
        "rule_files": [str(p) for p in rule_files],
        "scrape_configs": [job],
    }


class PrometheusServer:
    """A `prometheus` subprocess on 127.0.0.1:`port`, stopped by `stop()`."""

    def __init__(self, binary: str, workdir: Path, port: int, config: dict[str, Any]) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = port
        self.config_path = workdir / "prometheus.yml"
        self.log_path = workdir / "prometheus.log"
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def check_config(self) -> None:
        """`promtool check config` (rules included) for a clear error before the server starts."""
        promtool = shutil.which("promtool") or str(Path(self.binary).with_name("promtool"))
        done = subprocess.run(
            [promtool, "check", "config", str(self.config_path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            msg = f"promtool check config failed:\n{done.stdout}\n{done.stderr}"
            raise PrometheusError(msg)

    def start(self) -> None:
        """Start the server and wait until /-/ready answers 200."""
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    self.binary,
                    f"--config.file={self.config_path}",
                    f"--storage.tsdb.path={self.workdir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--storage.tsdb.retention.time=1d",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
            )
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                msg = f"prometheus exited {self.proc.returncode}:\n{self.log_tail()}"
                raise PrometheusError(msg)
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        msg = f"prometheus not ready in {READY_TIMEOUT_S}s:\n{self.log_tail()}"
        raise PrometheusError(msg)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not exited in 10 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def log_tail(self, chars: int = 3000) -> str:
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]

    # --- HTTP API ------------------------------------------------------------------------------

    def _call(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        """GET (no params) or form-POST `path`; an API error comes back as its JSON body."""
        data = urllib.parse.urlencode(params).encode() if params is not None else None
        request = urllib.request.Request(f"{self.url}{path}", data=data)
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as resp:
                body: dict[str, Any] = json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            payload = exc.read()
            try:
                body = json.loads(payload)
            except ValueError:
                body = {"status": "error", "error": f"HTTP {exc.code}: {payload[:500]!r}"}
        return body

    @staticmethod
    def _result(body: dict[str, Any]) -> QueryResult:
        data = body.get("data") or {}
        return QueryResult(
            status=str(body.get("status", "error")),
            result_type=str(data.get("resultType", "")),
            result=list(data.get("result") or []),
            error=f"{body.get('errorType', '')}: {body.get('error', '')}".strip(": "),
            warnings=tuple(body.get("warnings") or ()),
        )

    def query(self, expr: str, at: float) -> QueryResult:
        """An instant query evaluated at unix time `at` (what a Grafana instant target sends)."""
        return self._result(self._call("/api/v1/query", {"query": expr, "time": f"{at:.3f}"}))

    def query_range(self, expr: str, start: float, end: float, step: float) -> QueryResult:
        """A range query over [start, end] (what a Grafana time-series target sends)."""
        params = {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": str(step)}
        return self._result(self._call("/api/v1/query_range", params))

    def rule_groups(self) -> list[dict[str, Any]]:
        """/api/v1/rules: every loaded group with each rule's health and last error."""
        body = self._call("/api/v1/rules")
        if body.get("status") != "success":
            msg = f"/api/v1/rules failed: {body}"
            raise PrometheusError(msg)
        groups: list[dict[str, Any]] = body["data"]["groups"]
        return groups

    def targets(self) -> list[dict[str, Any]]:
        """/api/v1/targets: the active targets with health and last scrape error."""
        body = self._call("/api/v1/targets")
        active: list[dict[str, Any]] = body.get("data", {}).get("activeTargets", [])
        return active
