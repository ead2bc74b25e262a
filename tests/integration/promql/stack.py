"""The monitor side of the PromQL check: a simulated history, its topics, a worker and a feed.

Everything runs through the real `ncrs-monitor` commands (simulate, topics create, worker) so the
metrics Prometheus scrapes are the ones production exports. The history starts 8 days before
the wall clock and has 5 days of incidents, so most deadlines have passed (breaches of several
rules, decided at once on the wall clock) while later follow-ups are still to come (open
obligations). Events timed after "now" have not happened yet and are left out of the feed.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from streams.topics import INCIDENTS, TOPIC_OF_TYPE

ROOT = Path(__file__).resolve().parents[3]
PARTITIONS = 3
HISTORY_STARTS_DAYS_AGO = 8
HISTORY_DAYS = 5
INCIDENTS_PER_DAY = 400
SEED = 7
READY_TIMEOUT_S = 60.0

T = TypeVar("T")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(probe: Callable[[], T | None], timeout: float, what: str, interval: float = 0.2) -> T:
    """Poll `probe` until it returns something other than None (or fail naming `what`)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            msg = f"timed out after {timeout}s waiting for {what}"
            raise TimeoutError(msg)
        time.sleep(interval)


def http_get(url: str) -> tuple[int, bytes]:
    """Status and body of a GET; connection errors raise OSError."""
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def ncrs_monitor() -> str:
    """The venv's console script, so the subprocess runs the same installation as the tests."""
    return str(Path(sys.executable).parent / "ncrs-monitor")


def monitor_env(bootstrap: str, name: str, web_port: int) -> dict[str, str]:
    """NCRS_* settings of this run: own topics and group, memory store, 1 s ticks, no grace."""
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "NCRS_BOOTSTRAP_SERVERS": bootstrap,
        "NCRS_APP_ID": f"promql-{name}",
        "NCRS_TOPIC_SUFFIX": f".{name}",
        "NCRS_TOPIC_PARTITIONS": str(PARTITIONS),
        "NCRS_STORE_URL": "memory://",
        "NCRS_GRACE_SECONDS": "0",
        "NCRS_TICK_INTERVAL_SECONDS": "1",
        "NCRS_LOG_FORMAT": "json",
        "NCRS_WEB_HOST": "127.0.0.1",
        "NCRS_WEB_PORT": str(web_port),
    }


def run_command(args: Sequence[str], env: dict[str, str], cwd: Path, timeout: float) -> str:
    """Run an `ncrs-monitor` command to completion; its output, or an error that shows it."""
    done = subprocess.run(
        [ncrs_monitor(), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        msg = f"ncrs-monitor {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}"
        raise RuntimeError(msg)
    return done.stdout


def simulate(out: Path, env: dict[str, str], now: datetime) -> Path:
    """`ncrs-monitor simulate` of the history described in the module docstring."""
    start = (now - timedelta(days=HISTORY_STARTS_DAYS_AGO)).date().isoformat()
    run_command(
        [
            "simulate",
            f"--out={out}",
            f"--days={HISTORY_DAYS}",
            f"--incidents-per-day={INCIDENTS_PER_DAY}",
            f"--seed={SEED}",
            f"--start={start}",
        ],
        env,
        out.parent,
        timeout=120,
    )
    return out


def create_topics(env: dict[str, str], cwd: Path) -> None:
    """`ncrs-monitor topics create` for this run's suffix.

    The command takes the suffix as `--suffix` (it does not read NCRS_TOPIC_SUFFIX), so it is
    passed both ways.
    """
    run_command(["topics", "create", f"--suffix={env['NCRS_TOPIC_SUFFIX']}"], env, cwd, 60)


@dataclass(frozen=True)
class Message:
    """One record to produce."""

    topic: str
    key: bytes | None
    value: bytes


def feed_messages(ndjson: Path, suffix: str, now: datetime) -> list[Message]:
    """The simulated lines up to `now`, each on its type's topic keyed as streams/topics.py says.

    What a faulty source would send is kept: a line that is not JSON, or of an unknown type, goes
    to the incidents topic without a key, and the worker dead-letters it.
    """
    messages = []
    for line in ndjson.read_bytes().splitlines():
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            spec = TOPIC_OF_TYPE[obj["type"]]
        except (ValueError, KeyError, TypeError):
            messages.append(Message(f"{INCIDENTS.name}{suffix}", None, line))
            continue
        try:
            at = datetime.fromisoformat(obj["time"])
        except (KeyError, TypeError, ValueError):
            at = None
        if at is not None and at.tzinfo is not None and at > now:
            continue  # not happened yet
        key = obj.get(spec.key)
        messages.append(
            Message(f"{spec.name}{suffix}", key.encode() if isinstance(key, str) else None, line)
        )
    return messages


async def produce_paced(
    bootstrap: str, messages: Sequence[Message], chunks: int, pause_s: float
) -> None:
    """Send the messages in order, in `chunks` slices `pause_s` apart.

    Pacing spreads the history over several scrapes, so counters rise between samples and
    rate()/increase() have something to measure, as with a live feed.
    """
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        size = -(-len(messages) // chunks)
        for first in range(0, len(messages), size):
            for m in messages[first : first + size]:
                await producer.send(m.topic, m.value, key=m.key)
            await producer.flush()
            await asyncio.sleep(pause_s)
    finally:
        await producer.stop()


class WorkerProcess:
    """`ncrs-monitor worker` as a subprocess; its /metrics is what Prometheus scrapes."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env = env
        self.cwd = cwd
        self.port = int(env["NCRS_WEB_PORT"])
        self.log_path = cwd / "worker.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start it (faust writes its data directory under `cwd`) and wait for /readyz 200."""
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [ncrs_monitor(), "worker"],
                env=self.env,
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for(self._ready, READY_TIMEOUT_S, "the worker's /readyz to answer 200")

    def _ready(self) -> bool | None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            msg = f"worker exited {self.proc.returncode}:\n{self.log_tail()}"
            raise RuntimeError(msg)
        try:
            status, _ = http_get(f"http://{self.address}/readyz")
        except OSError:
            return None
        return True if status == 200 else None

    def metrics_text(self) -> str:
        status, body = http_get(f"http://{self.address}/metrics")
        if status != 200:
            msg = f"/metrics answered {status}"
            raise RuntimeError(msg)
        return body.decode()

    def totals(self) -> dict[str, float]:
        """Each sample name on /metrics with its values summed over all label sets."""
        sums: dict[str, float] = {}
        for family in text_string_to_metric_families(self.metrics_text()):
            for sample in family.samples:
                sums[sample.name] = sums.get(sample.name, 0.0) + sample.value
        return sums

    def stop(self) -> None:
        """SIGTERM (graceful: flush and commit), SIGKILL after 30 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def log_tail(self, chars: int = 3000) -> str:
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]


def utc_now() -> datetime:
    return datetime.now(UTC)
