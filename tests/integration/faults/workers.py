"""`ncrs-monitor worker` subprocesses for fault injection: start, kill -9, SIGTERM, poll health.

A subprocess is what production runs (settings from NCRS_* variables, faust's Worker and its
signal handling) and the only way to inject a real `kill -9`. Each worker gets its own working
directory (faust puts a RocksDB store under `<app_id>-data` in the working directory, and two
workers on one machine must not share it), its own web port, and a log file holding its stdout
and stderr, which the personal-data scenario searches.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from tests.integration.worker_env import create_worker_topics, worker_env

ROOT = Path(__file__).resolve().parents[3]
CLI = str(Path(sys.executable).with_name("ncrs-monitor"))
READY_TIMEOUT_S = 90.0
"""A worker recovering a few hundred thousand changelog records on 2 shared cores needs time."""


def free_port() -> int:
    """A port the kernel just handed out."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_get(port: int, path: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """(status, body) of a GET on the worker's web port; raises OSError when nothing listens."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as resp:
            return int(resp.status), resp.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()


@dataclass(frozen=True)
class Fleet:
    """The settings every worker of one app shares: broker, topics, consumer group."""

    bootstrap: str
    name: str
    partitions: int = 3
    extra_env: tuple[tuple[str, str], ...] = ()
    store: str = "memory://"

    @property
    def suffix(self) -> str:
        return f".{self.name}"

    @property
    def app_id(self) -> str:
        return f"faults-{self.name}"

    def topic(self, base: str) -> str:
        """The suffixed name of a topic declared in streams/topics.py."""
        return f"{base}{self.suffix}"

    def env(self, port: int, **extra: str) -> dict[str, str]:
        """NCRS_* variables of one worker (inherited NCRS_* variables are dropped)."""
        return worker_env(
            bootstrap=self.bootstrap,
            app_id=self.app_id,
            suffix=self.suffix,
            partitions=self.partitions,
            port=port,
            store=self.store,
            overrides=(*self.extra_env, *extra.items()),
        )

    def create_topics(self) -> None:
        """Every input and output topic with this fleet's partition count (blocking)."""
        create_worker_topics(self.bootstrap, self.partitions, self.suffix)

    async def delete_topics(self) -> None:
        """Best effort after a test, to keep a long-lived broker small: its topics and faust's
        internal ones (changelogs, side topics, leader topic)."""
        client = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=10_000)
        prefix = f"{self.app_id}-"
        try:
            await client.start()
            names = [
                t
                for t in await client.list_topics()
                if t.endswith(self.suffix) or t.startswith(prefix)
            ]
            if names:
                await client.delete_topics(names)
        except KafkaError:
            pass  # the broker is the test's own, or already gone
        finally:
            await client.close()


@dataclass
class WorkerProcess:
    """One `ncrs-monitor worker` subprocess of a fleet; restartable."""

    fleet: Fleet
    workdir: Path
    label: str = "w1"
    static: bool = False
    """Static group membership (NCRS_CONSUMER_GROUP_INSTANCE_ID = label), as deploy/ runs it."""
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def log(self) -> Path:
        return self.workdir / f"{self.label}.log"

    def start(self) -> None:
        """Start the process (does not wait for readiness)."""
        assert not self.running, "already running"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        with self.log.open("ab") as handle:
            handle.write(f"\n=== start {self.starts} of {self.label} ===\n".encode())
            handle.flush()
            self.proc = subprocess.Popen(
                [CLI, "worker"],
                env=self.fleet.env(self.port, **self._own_env()),
                cwd=self.workdir,
                stdout=handle,
                stderr=subprocess.STDOUT,
            )

    def _own_env(self) -> dict[str, str]:
        return {"NCRS_CONSUMER_GROUP_INSTANCE_ID": self.label} if self.static else {}

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def status(self, path: str) -> int | None:
        """HTTP status of a health endpoint, None when the web server does not answer."""
        try:
            return http_get(self.port, path)[0]
        except OSError:
            return None

    def metrics(self) -> str:
        """The /metrics text."""
        status, body = http_get(self.port, "/metrics")
        assert status == 200, status
        return body.decode()

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> float:
        """Block until /readyz answers 200; returns the seconds waited (fails if it dies)."""
        began = time.monotonic()
        while time.monotonic() - began < timeout:
            if not self.running:
                raise AssertionError(f"{self.label} exited early:\n{self.tail()}")
            if self.status("/readyz") == 200:
                return time.monotonic() - began
            time.sleep(0.1)
        raise AssertionError(f"{self.label} not ready in {timeout}s:\n{self.tail()}")

    def kill(self) -> None:
        """`kill -9`: no batch finished, nothing flushed, nothing committed."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def terminate(self, timeout: float = 60.0) -> tuple[int, float]:
        """SIGTERM and wait: (exit status, seconds it took)."""
        assert self.proc is not None
        began = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise AssertionError(f"{self.label} ignored SIGTERM for {timeout}s") from None
        return code, time.monotonic() - began

    def stop_quietly(self) -> None:
        """Teardown: SIGTERM, then SIGKILL if it does not go within 30 s."""
        if not self.running:
            return
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def tail(self, chars: int = 4000) -> str:
        """The end of the log, for assertion messages."""
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


@dataclass
class HealthSample:
    """One poll of a worker's health endpoints (None: nothing answered)."""

    at: float
    ready: int | None
    alive: int | None
    reasons: tuple[str, ...]


@dataclass
class HealthLog:
    """Polls /readyz and /healthz of a worker in a background thread-backed task."""

    worker: WorkerProcess
    interval: float = 0.25
    samples: list[HealthSample] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        """Poll until `stop`."""
        while not self._stop.is_set():
            self.samples.append(await asyncio.to_thread(self._sample))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval)

    def _sample(self) -> HealthSample:
        now = time.monotonic()
        try:
            ready, body = http_get(self.worker.port, "/readyz")
            reasons = tuple(json.loads(body).get("reasons", ()))
        except (OSError, ValueError):
            ready, reasons = None, ()
        return HealthSample(now, ready, self.worker.status("/healthz"), reasons)

    def stop(self) -> None:
        self._stop.set()

    def between(self, start: float, end: float) -> list[HealthSample]:
        return [s for s in self.samples if start <= s.at <= end]


def metric_sum(metrics: str, name: str, **labels: str) -> float:
    """Sum of the samples of `name` in /metrics text whose labels include `labels`."""
    total = 0.0
    for line in metrics.splitlines():
        if not line.startswith(name) or line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        metric, _, label_text = series.partition("{")
        if metric != name:
            continue
        if all(f'{k}="{v}"' in label_text for k, v in labels.items()):
            total += float(value)
    return total
