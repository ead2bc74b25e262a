"""The worker kit (helpers, no tests) of every integration test that runs `ncrs-monitor worker`.

Workers run as subprocesses: that is what production runs (settings from NCRS_* variables,
faust's Worker and its signal handling), and the only way to `kill -9` one. Each fleet has its
own topics (NCRS_TOPIC_SUFFIX) and consumer group (NCRS_APP_ID); each worker its own working
directory (faust keeps a `<app_id>-data` directory there, a RocksDB store among it, which two
workers on one machine must not share), web port and log file (its stdout and stderr, which the
personal-data checks search). Tests use a 1 s tick and no grace, and event times in the past,
so no test waits for a real deadline longer than a few seconds. The Kafka helpers below read
and write topics for the live-worker tests; the fault scenarios read theirs with faults/kafka.py.
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
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from prometheus_client.parser import text_string_to_metric_families

from schemas.codes import Queue
from schemas.events import Envelope
from schemas.registry import encode_event
from streams import admin
from streams.settings import load_settings
from streams.topics import TOPIC_OF_TYPE, WORKQUEUE_TOPICS
from tests.integration.worker_env import create_worker_topics, worker_env

CLI = str(Path(sys.executable).with_name("ncrs-monitor"))
PARTITIONS = 3
READY_TIMEOUT_S = 90.0
"""A worker recovering a few hundred thousand changelog records on 2 shared cores needs time."""
OUTPUT_TIMEOUT_S = 45.0

Record = tuple[bytes | None, bytes | None]


def free_port() -> int:
    """A port the kernel just handed out."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_get(port: int, path: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """(status, body) of a GET on a worker's web port; OSError when nothing listens."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as resp:
            return int(resp.status), resp.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()


def unique(prefix: str) -> str:
    """A short unique name: fleet names, refs."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass(frozen=True)
class Fleet:
    """The settings all workers of one app share: broker, topics, consumer group, store."""

    bootstrap: str
    name: str
    partitions: int = PARTITIONS
    extra_env: tuple[tuple[str, str], ...] = ()
    store: str = "memory://"

    @property
    def suffix(self) -> str:
        return f".{self.name}"

    @property
    def app_id(self) -> str:
        return f"it-{self.name}"

    def topic(self, base: str) -> str:
        """The suffixed name of a topic declared in streams/topics.py."""
        return f"{base}{self.suffix}"

    def queue_topic(self, queue: Queue | str) -> str:
        """The work-queue topic of `queue`."""
        return self.topic(WORKQUEUE_TOPICS[Queue(queue)].name)

    def input_topic(self, event: Envelope) -> str:
        """The input topic an event belongs on."""
        return self.topic(TOPIC_OF_TYPE[event.type].name)

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
class Worker:
    """One `ncrs-monitor worker` subprocess of a fleet; restartable (each start appends to its
    log and counts in `starts`).

    `static`: static group membership with the label as instance id, as deploy/ runs it (a
    StatefulSet pod keeps its name). A replacement for a killed static member is a new Worker
    with the same label and `port=` the old one's: faust's assignor refuses a static member
    whose web address changed.
    """

    fleet: Fleet
    workdir: Path
    label: str = "w1"
    extra_env: dict[str, str] = field(default_factory=dict)
    static: bool = False
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    readiness_seen: list[tuple[int, list[str]]] = field(default_factory=list)
    """(status, reasons) of every /readyz answer the last `wait_ready` saw."""

    @property
    def log(self) -> Path:
        return self.workdir / f"{self.label}.log"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def spawn(self) -> None:
        """Start the process without waiting for readiness."""
        assert not self.running, "already running"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        self.readiness_seen = []
        env = dict(self.extra_env)
        if self.static:
            env["NCRS_CONSUMER_GROUP_INSTANCE_ID"] = self.label
        with self.log.open("ab") as handle:
            # A JSON line, like the worker's own: tests parse the log line by line.
            mark = {"event": "kit_worker_start", "label": self.label, "start": self.starts}
            handle.write(json.dumps(mark).encode() + b"\n")
            handle.flush()
            self.proc = subprocess.Popen(
                [CLI, "worker"],
                env=self.fleet.env(self.port, **env),
                cwd=self.workdir,
                stdout=handle,
                stderr=subprocess.STDOUT,
            )

    def start(self, timeout: float = READY_TIMEOUT_S) -> float:
        """Start and wait until /readyz answers 200; returns the seconds it took."""
        self.spawn()
        return self.wait_ready(timeout)

    def probe(self, path: str) -> tuple[int, dict[str, Any]] | None:
        """(status, JSON body) of a health endpoint; None while nothing listens."""
        try:
            status, body = http_get(self.port, path)
        except OSError:
            return None
        try:
            return status, json.loads(body)
        except ValueError:
            return status, {}

    def status(self, path: str) -> int | None:
        """HTTP status of a health endpoint; None while nothing listens."""
        try:
            return http_get(self.port, path)[0]
        except OSError:
            return None

    def wait_ready(self, timeout: float = READY_TIMEOUT_S, poll: float = 0.05) -> float:
        """Poll /readyz until 200, noting every answer seen on the way (fails if it dies)."""
        began = time.monotonic()
        while time.monotonic() - began < timeout:
            if not self.running:
                raise AssertionError(f"{self.label} exited early:\n{self.tail()}")
            answer = self.probe("/readyz")
            if answer is not None:
                status, body = answer
                self.readiness_seen.append((status, list(body.get("reasons", []))))
                if status == 200:
                    return time.monotonic() - began
            time.sleep(poll)
        raise AssertionError(f"{self.label} not ready in {timeout}s:\n{self.tail()}")

    def metrics(self) -> str:
        """The /metrics text."""
        status, body = http_get(self.port, "/metrics")
        assert status == 200, status
        return body.decode()

    def kill(self) -> None:
        """`kill -9`: no batch finished, nothing flushed, nothing committed."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def terminate(self, timeout: float = 60.0) -> tuple[int, float]:
        """SIGTERM and wait: (exit status, seconds it took); fails if it ignores the signal."""
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
    """Polls /readyz and /healthz of a worker from a task (each poll in a thread)."""

    worker: Worker
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
        ready = self.worker.probe("/readyz")
        status, body = ready if ready is not None else (None, {})
        reasons = tuple(body.get("reasons", ()))
        return HealthSample(now, status, self.worker.status("/healthz"), reasons)

    def stop(self) -> None:
        self._stop.set()

    def between(self, start: float, end: float) -> list[HealthSample]:
        return [s for s in self.samples if start <= s.at <= end]


def metric_value(text: str, name: str, labels: dict[str, str]) -> float | None:
    """The sample of a /metrics text with exactly these labels, or None when it is absent."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return None


def metric_sum(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of `name` in a /metrics text whose labels include `labels`."""
    return sum(
        float(sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


# --- Kafka ---------------------------------------------------------------------------------


async def produce(bootstrap: str, topic: str, messages: Iterable[Record]) -> None:
    """Send (key, value) pairs to `topic` in order, each acknowledged by the broker."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        pending = [await producer.send(topic, value, key=key) for key, value in messages]
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def produce_events(fleet: Fleet, events: Sequence[tuple[str, Envelope]]) -> None:
    """Send (key, event) pairs, each to its type's topic, keyed as producers must, in order."""
    producer = AIOKafkaProducer(bootstrap_servers=fleet.bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        pending = [
            await producer.send(fleet.input_topic(event), encode_event(event), key=key.encode())
            for key, event in events
        ]
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


class Reader:
    """Everything on some topics from the start, read without joining a consumer group."""

    def __init__(self, bootstrap: str, topics: Sequence[str]) -> None:
        self.bootstrap = bootstrap
        self.topics = list(topics)
        self.records: dict[str, list[Record]] = {t: [] for t in topics}
        self._decoded: dict[str, list[dict[str, Any]]] = {t: [] for t in topics}
        self._consumer: AIOKafkaConsumer | None = None

    async def __aenter__(self) -> Reader:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, enable_auto_commit=False, group_id=None
        )
        await consumer.start()
        counts = await admin.describe_partitions(
            load_settings(bootstrap_servers=self.bootstrap), self.topics
        )
        tps = [TopicPartition(t, p) for t in self.topics for p in range(counts[t] or 0)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        self._consumer = consumer
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._consumer is not None:
            await self._consumer.stop()

    async def poll(self) -> None:
        """Take whatever has arrived."""
        assert self._consumer is not None
        batches = await self._consumer.getmany(timeout_ms=200)
        for tp, msgs in batches.items():
            self.records[tp.topic].extend((m.key, m.value) for m in msgs)
            self._decoded[tp.topic].extend(json.loads(m.value) for m in msgs if m.value is not None)

    async def until(
        self, done: Callable[[Reader], bool], timeout: float = OUTPUT_TIMEOUT_S, what: str = ""
    ) -> Reader:
        """Poll until `done(self)` holds, or fail the test."""
        deadline = time.monotonic() + timeout
        while not done(self):
            if time.monotonic() > deadline:
                counts = {t: len(r) for t, r in self.records.items()}
                pytest.fail(f"not seen in {timeout}s: {what or done}; records {counts}")
            await self.poll()
        return self

    async def settle(self, seconds: float) -> None:
        """Keep reading for a while (to see that nothing more arrives)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            await self.poll()

    def values(self, topic: str) -> list[dict[str, Any]]:
        """Decoded non-null values of a topic, in arrival order (decoded once, on arrival)."""
        return self._decoded[topic]

    def latest(self, topic: str) -> dict[bytes, bytes | None]:
        """The compacted view: the latest value per key (None: tombstone)."""
        folded: dict[bytes, bytes | None] = {}
        for key, value in self.records[topic]:
            if key is not None:
                folded[key] = value
        return folded

    def open_items(self, topic: str) -> dict[str, dict[str, Any]]:
        """Open work items of a queue topic: the fold without tombstoned keys."""
        return {
            key.decode(): json.loads(value)
            for key, value in self.latest(topic).items()
            if value is not None
        }


def about(alert: dict[str, Any], ref: str) -> bool:
    """Whether an alert's subject names `ref` (incident, crime or N100 ref)."""
    subject = alert["subject"]
    return ref in (subject.get("incident_ref"), subject.get("crime_ref"), subject.get("n100_ref"))


def stages(alerts: Iterable[dict[str, Any]], ref: str, rule: str) -> set[str]:
    """Stages of `rule` announced about `ref`."""
    return {a["stage"] for a in alerts if a["rule_id"] == rule and about(a, ref)}


async def wait_committed(
    fleet: Fleet, topics: Sequence[str], timeout: float = OUTPUT_TIMEOUT_S
) -> None:
    """Wait until the fleet's consumer group has committed every partition of `topics` up to
    the end offsets they have now (the worker writes its state before it commits)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=fleet.bootstrap, group_id=None)
    await consumer.start()
    client = AIOKafkaAdminClient(bootstrap_servers=fleet.bootstrap)
    await client.start()
    try:
        tps = [TopicPartition(t, p) for t in topics for p in range(fleet.partitions)]
        end = await consumer.end_offsets(tps)
        deadline = time.monotonic() + timeout
        while True:
            committed = await client.list_consumer_group_offsets(fleet.app_id)
            behind = {
                tp: (committed[tp].offset if tp in committed else 0, end[tp])
                for tp in tps
                if end[tp] > 0 and (tp not in committed or committed[tp].offset < end[tp])
            }
            if not behind:
                return
            if time.monotonic() > deadline:
                pytest.fail(f"not committed in {timeout}s: {behind}")
            await asyncio.sleep(0.3)
    finally:
        await client.close()
        await consumer.stop()
