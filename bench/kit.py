"""What every benchmark shares: its own Kafka broker, worker subprocesses, Kafka I/O, input data.

The benchmarks run against a broker of their own (deploy/local-kafka/kafka.sh on other ports and
another directory), so the shared development broker's users neither slow the figures down nor
are slowed down by them. Workers run as `ncrs-monitor worker` subprocesses, configured only by
NCRS_* variables as in production; each measurement gets its own app id and topic suffix and
deletes its topics afterwards.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streams import admin
from streams.settings import load_settings
from streams.sim.generator import TAIL_DAYS, SimConfig, generate
from streams.sim.profile import load_profile
from streams.topics import ALERTS, INCIDENTS, INPUT_TOPICS, TOPIC_OF_TYPE

ROOT = Path(__file__).resolve().parents[1]
KAFKA_SH = ROOT / "deploy" / "local-kafka" / "kafka.sh"
KAFKA_LIB = ROOT / "deploy" / "local-kafka" / ".cache" / "lib"
NCRS = Path(sys.executable).parent / "ncrs-monitor"

BENCH_PORT = 29092
BENCH_CONTROLLER_PORT = 29093
BENCH_KAFKA_DIR = Path("/tmp/ncrs-bench-kafka")
PARTITIONS = 6
STALL_SECONDS = 45.0
"""A drain whose committed offsets have not moved for this long is over (see `Progress`)."""
"""Partitions of every topic: the production default (NCRS_TOPIC_PARTITIONS)."""


def log(message: str) -> None:
    """Progress on stderr (the table goes to stdout)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def now() -> datetime:
    return datetime.now(UTC)


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


# --- the broker ----------------------------------------------------------------------------


@dataclass
class Broker:
    """The benchmark's own Kafka broker (or an existing one when `external` is given)."""

    port: int = BENCH_PORT
    controller_port: int = BENCH_CONTROLLER_PORT
    directory: Path = BENCH_KAFKA_DIR
    heap: str = "1G"
    external: str | None = None
    started: bool = False

    @property
    def bootstrap(self) -> str:
        return self.external or f"127.0.0.1:{self.port}"

    def _env(self) -> dict[str, str]:
        return {
            **os.environ,
            "NCRS_KAFKA_PORT": str(self.port),
            "NCRS_KAFKA_CONTROLLER_PORT": str(self.controller_port),
            "NCRS_KAFKA_DIR": str(self.directory),
            "NCRS_KAFKA_HEAP": self.heap,
        }

    def start(self) -> None:
        """Start a fresh (wiped) broker unless an external one was named."""
        if self.external:
            log(f"using the broker at {self.external}")
            return
        log(f"starting the benchmark's own broker on {self.bootstrap} ({self.directory})")
        subprocess.run(
            [str(KAFKA_SH), "start", "--fresh"], env=self._env(), check=True, stdout=sys.stderr
        )
        self.started = True

    def stop(self) -> None:
        """Stop the broker this object started (never an external one)."""
        if self.started:
            subprocess.run([str(KAFKA_SH), "stop"], env=self._env(), check=False)
            self.started = False


def kafka_version() -> str | None:
    """The broker version, from the jar deploy/local-kafka resolved (kafka_2.13-X.jar)."""
    for jar in sorted(KAFKA_LIB.glob("kafka_2.13-*.jar")):
        found = re.fullmatch(r"kafka_2\.13-([0-9.]+)\.jar", jar.name)
        if found:
            return found.group(1)
    return None


# --- workers -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_get(port: int, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def rss_bytes(pid: int) -> int:
    """Resident set size of a process (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text to {metric name: sum over its label sets}."""
    sums: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name_part, _, value = line.rpartition(" ")
        name = name_part.split("{", 1)[0]
        try:
            sums[name] = sums.get(name, 0.0) + float(value)
        except ValueError:
            continue
    return sums


@dataclass
class Fleet:
    """One deployment under test: its app id, topic suffix and settings."""

    bootstrap: str
    label: str
    partitions: int = PARTITIONS
    store: str = "memory://"
    grace_seconds: int = 0
    tick_seconds: float = 10.0
    extra_env: dict[str, str] = field(default_factory=dict)
    workdir: Path = field(default_factory=lambda: Path("/tmp/ncrs-bench-work"))
    uid: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    run: str = ""
    """Distinguishes deployments that read the same topics (own consumer group, side topics)."""

    @property
    def app_id(self) -> str:
        return f"bench-{self.label}-{self.uid}{self.run}"

    @property
    def suffix(self) -> str:
        return f".bench-{self.label}-{self.uid}"

    def topic(self, base: str) -> str:
        return f"{base}{self.suffix}"

    @property
    def group(self) -> str:
        return self.app_id

    @property
    def side_topics(self) -> tuple[str, str]:
        return (f"{self.app_id}-incident-side", f"{self.app_id}-crime-side")

    def env(self, port: int) -> dict[str, str]:
        return {
            **os.environ,
            "NCRS_BOOTSTRAP_SERVERS": self.bootstrap,
            "NCRS_APP_ID": self.app_id,
            "NCRS_TOPIC_SUFFIX": self.suffix,
            "NCRS_TOPIC_PARTITIONS": str(self.partitions),
            "NCRS_STORE_URL": self.store,
            "NCRS_GRACE_SECONDS": str(self.grace_seconds),
            "NCRS_TICK_INTERVAL_SECONDS": str(self.tick_seconds),
            "NCRS_LOG_FORMAT": "json",
            "NCRS_WEB_HOST": "127.0.0.1",
            "NCRS_WEB_PORT": str(port),
            **self.extra_env,
        }

    def worker(self, name: str = "w1") -> Worker:
        """A worker of this fleet; its directory (RocksDB data, log) survives restarts."""
        directory = self.workdir / self.app_id / name
        directory.mkdir(parents=True, exist_ok=True)
        port = free_port()
        return Worker(name, self.env(port), directory, port)

    def create_topics(self) -> None:
        asyncio.run(_create_topics(self))

    def delete_topics(self) -> None:
        asyncio.run(_delete_topics(self))


RUNNING: set[Worker] = set()
"""Workers started and not yet stopped (stopped by the suite if a measurement is interrupted)."""


@dataclass(eq=False)
class Worker:
    """An `ncrs-monitor worker` subprocess."""

    name: str
    env: dict[str, str]
    directory: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    ready_at: float = 0.0

    @property
    def log_path(self) -> Path:
        return self.directory / "worker.log"

    def start(self) -> float:
        """Start the process (cwd = its own directory, where faust keeps RocksDB data)."""
        handle = self.log_path.open("ab")
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(
            [str(NCRS), "worker"],
            env=self.env,
            cwd=self.directory,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
        handle.close()
        RUNNING.add(self)
        return self.started_at

    def wait_ready(self, timeout: float = 600.0) -> float:
        """Poll /readyz until 200; the monotonic time it first answered 200."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-3000:]
                msg = f"worker {self.name} exited ({self.proc.returncode}):\n{tail}"
                raise RuntimeError(msg)
            try:
                status, _ = http_get(self.port, "/readyz", timeout=2.0)
            except OSError:
                status = 0
            if status == 200:
                self.ready_at = time.monotonic()
                return self.ready_at
            time.sleep(0.1)
        msg = f"worker {self.name} not ready within {timeout:.0f} s"
        raise RuntimeError(msg)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def rss(self) -> int:
        return rss_bytes(self.pid)

    def metrics(self) -> dict[str, float]:
        status, body = http_get(self.port, "/metrics", timeout=30.0)
        return parse_metrics(body.decode()) if status == 200 else {}

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 120.0) -> int | None:
        RUNNING.discard(self)
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout=30)


def start_workers(workers: Sequence[Worker], timeout: float = 600.0) -> list[float]:
    """Start all, then wait for each to be ready; their ready times (monotonic)."""
    for w in workers:
        w.start()
    return [w.wait_ready(timeout) for w in workers]


def stop_workers(workers: Iterable[Worker]) -> None:
    for w in workers:
        w.stop()


# --- topics ----------------------------------------------------------------------------------


async def _create_topics(fleet: Fleet) -> None:
    """Inputs and outputs as `ncrs-monitor topics create` makes them; alerts with the broker's
    append time as record timestamp, so a record's timestamp is when it was published."""

    settings = load_settings(
        bootstrap_servers=fleet.bootstrap,
        topic_partitions=fleet.partitions,
        topic_suffix=fleet.suffix,
    )
    client = AIOKafkaAdminClient(bootstrap_servers=fleet.bootstrap)
    await client.start()
    try:
        configs = {**ALERTS.configs, "message.timestamp.type": "LogAppendTime"}
        await client.create_topics(
            [NewTopic(fleet.topic(ALERTS.name), fleet.partitions, 1, topic_configs=configs)]
        )
    finally:
        await client.close()
    report = await admin.ensure_topics(settings, admin.resolve_specs(settings, suffix=fleet.suffix))
    admin.raise_on_mismatch(report)


async def _delete_topics(fleet: Fleet) -> None:
    client = AIOKafkaAdminClient(bootstrap_servers=fleet.bootstrap)
    await client.start()
    try:
        stem = f"bench-{fleet.label}-{fleet.uid}"
        names = [t for t in await client.list_topics() if stem in t]
        if names:
            await client.delete_topics(names)
    finally:
        await client.close()


async def _create_named(
    bootstrap: str, names: Sequence[str], partitions: int, configs: dict[str, str]
) -> None:
    client = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await client.start()
    try:
        await client.create_topics(
            [NewTopic(n, partitions, 1, topic_configs=configs) for n in names]
        )
    finally:
        await client.close()


def create_topics_named(
    bootstrap: str, names: Sequence[str], partitions: int, configs: dict[str, str] | None = None
) -> None:
    """Plain topics the benchmark itself uses (pass-through output, pre-made changelogs)."""
    asyncio.run(_create_named(bootstrap, names, partitions, configs or {}))


# --- Kafka I/O -------------------------------------------------------------------------------

Record = tuple[str, bytes | None, bytes] | tuple[str, bytes | None, bytes, int]
"""(topic, key, value) to produce, or (topic, key, value, partition)."""


async def _produce(bootstrap: str, records: Iterable[Record]) -> int:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks=1,
        linger_ms=20,
        max_batch_size=512 * 1024,
        max_request_size=8 * 1024 * 1024,
    )
    await producer.start()
    count = 0
    try:
        pending = []
        for record in records:
            topic, key, value = record[:3]
            partition = record[3] if len(record) == 4 else None
            pending.append(await producer.send(topic, value, key=key, partition=partition))
            count += 1
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return count


def produce(bootstrap: str, records: Iterable[Record]) -> tuple[int, float]:
    """Produce records with the default (murmur2) partitioner; (count, seconds)."""
    started = time.perf_counter()
    count = asyncio.run(_produce(bootstrap, records))
    return count, time.perf_counter() - started


async def _partitions_of(bootstrap: str, topics: Sequence[str]) -> list[TopicPartition]:
    client = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await client.start()
    try:
        described = await client.describe_topics(list(topics))
    finally:
        await client.close()
    return [TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]]


async def _stop(consumer: AIOKafkaConsumer) -> None:
    """Stop a consumer; aiokafka 0.14 may re-raise the CancelledError of its own internal
    committed-offsets task from stop(), which is not a cancellation of ours."""
    try:
        await consumer.stop()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise


async def _end_offsets(bootstrap: str, topics: Sequence[str]) -> dict[TopicPartition, int]:
    tps = await _partitions_of(bootstrap, topics)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        ends: dict[TopicPartition, int] = await consumer.end_offsets(tps)
    finally:
        await _stop(consumer)
    return ends


def end_offsets(bootstrap: str, topics: Sequence[str]) -> dict[TopicPartition, int]:
    return asyncio.run(_end_offsets(bootstrap, topics))


@dataclass
class Progress:
    """Committed-offset samples of a consumer group while it drains a backlog."""

    samples: list[tuple[float, int]] = field(default_factory=list)
    done_at: float = 0.0
    stalled: dict[str, int] = field(default_factory=dict)
    """Partitions ("topic:partition") whose committed offset stopped short of the end, with the
    records left; the drain then counts as done when committing last progressed."""

    def rate_between(self, low: float, high: float, total: int) -> float | None:
        """Events/s between the moments `low` and `high` shares of `total` were committed
        (excludes start-up and the commit interval's granularity at the end)."""
        lo = next(((t, n) for t, n in self.samples if n >= low * total), None)
        hi = next(((t, n) for t, n in self.samples if n >= high * total), None)
        if lo is None or hi is None or hi[0] <= lo[0]:
            return None
        return (hi[1] - lo[1]) / (hi[0] - lo[0])


async def _wait_drained(
    bootstrap: str,
    group: str,
    inputs: Sequence[str],
    sides: Sequence[str],
    timeout: float,
    poll: float,
    on_sample: Any = None,
) -> Progress:
    """Until the group's committed offsets reach the inputs' end offsets, then the side topics'
    end offsets as they were at that moment (the forwarded events processed too)."""
    progress = Progress()
    client = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await client.start()
    try:
        targets = await _end_offsets(bootstrap, inputs)
        total = sum(targets.values())
        deadline = time.monotonic() + timeout
        stage = "inputs"
        last_sum, last_move = -1, time.monotonic()
        while time.monotonic() < deadline:
            committed = await client.list_consumer_group_offsets(group)
            done = {tp: (committed[tp].offset if tp in committed else 0) for tp in targets}
            stamp = time.monotonic()
            now_sum = sum(min(done[tp], targets[tp]) for tp in targets)
            if now_sum != last_sum:
                last_sum, last_move = now_sum, stamp
            if stage == "inputs":
                progress.samples.append((stamp, now_sum))
                if on_sample is not None:
                    on_sample(now_sum, total)
            finished = all(done[tp] >= end for tp, end in targets.items())
            if not finished and stamp - last_move > STALL_SECONDS:
                # Seen with two workers started together: a partition's records processed
                # (counted by the workers) but its offset never committed. Reported, not hidden.
                progress.stalled.update(
                    {f"{tp.topic}:{tp.partition}": end - done[tp]
                     for tp, end in targets.items() if done[tp] < end}
                )  # fmt: skip
                stamp = last_move
                finished = True
            if finished:
                if stage == "sides" or not sides:
                    progress.done_at = stamp
                    return progress
                stage = "sides"
                targets = await _end_offsets(bootstrap, sides)
                last_sum, last_move = -1, time.monotonic()
                continue
            await asyncio.sleep(poll)
        msg = f"group {group} did not drain within {timeout:.0f} s"
        raise TimeoutError(msg)
    finally:
        await client.close()


def wait_drained(
    fleet: Fleet,
    inputs: Sequence[str],
    timeout: float,
    poll: float = 0.25,
    on_sample: Any = None,
) -> Progress:
    return asyncio.run(
        _wait_drained(
            fleet.bootstrap, fleet.group, inputs, fleet.side_topics, timeout, poll, on_sample
        )
    )


async def _read_all(bootstrap: str, topic: str) -> list[tuple[bytes | None, bytes | None, int]]:
    """Every record now on `topic`: (key, value, timestamp ms)."""
    ends = await _end_offsets(bootstrap, [topic])
    out: list[tuple[bytes | None, bytes | None, int]] = []
    tps = [tp for tp, end in ends.items() if end > 0]
    if not tps:
        return out
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        remaining = {tp: ends[tp] for tp in tps}
        while remaining:
            batches = await consumer.getmany(timeout_ms=500, max_records=10_000)
            for tp, msgs in batches.items():
                out.extend((m.key, m.value, m.timestamp) for m in msgs)
                if msgs and msgs[-1].offset + 1 >= remaining.get(tp, 0):
                    remaining.pop(tp, None)
    finally:
        await _stop(consumer)
    return out


def read_all(bootstrap: str, topic: str) -> list[tuple[bytes | None, bytes | None, int]]:
    return asyncio.run(_read_all(bootstrap, topic))


# --- input data ----------------------------------------------------------------------------


def simulated_lines(
    incidents_per_day: int, days: int, seed: int, *, end: datetime | None = None
) -> list[bytes]:
    """Well-formed lines of `ncrs-monitor simulate` (profile cheshire-2016), in arrival order.

    With `end`, the simulated period is shifted so that its last event is no later than `end`
    (a live backlog of recent events); without it, it starts on the simulator's default date.
    """

    profile = load_profile("cheshire-2016")
    kwargs: dict[str, Any] = {}
    if end is not None:
        start = end - timedelta(days=days + TAIL_DAYS, minutes=1)
        kwargs["start"] = start.replace(microsecond=0)
    sim = generate(
        SimConfig(profile, days=days, incidents_per_day=incidents_per_day, seed=seed, **kwargs)
    )
    bad = set(sim.truth.malformed_lines)
    return [line for number, line in enumerate(sim.lines, 1) if number not in bad]


def route_lines(lines: Iterable[bytes], fleet: Fleet) -> list[Record]:
    """Each line to its input topic, keyed by its aggregate as producers must (streams/topics)."""

    names: dict[str, str] = {}
    out: list[Record] = []
    for line in lines:
        obj = json.loads(line)
        spec = TOPIC_OF_TYPE[obj["type"]]
        name = names.setdefault(spec.name, fleet.topic(spec.name))
        key = obj.get("incident_ref") if spec.name == INCIDENTS.name else obj.get("crime_ref")
        out.append((name, key.encode() if key else None, line))
    return out


def input_topics(fleet: Fleet) -> list[str]:

    return [fleet.topic(spec.name) for spec in INPUT_TOPICS]


def incident_reported(ref: str, received: datetime, *, area: str = "CH-WAR") -> bytes:
    """One `incident.reported` with a single THEFT disclosure: opens one REC-24H obligation
    (and nothing else) whose 24 h deadline is `received` + 24 h."""
    event = {
        "specversion": "1.0",
        "id": f"{ref}:1",
        "source": "urn:ncrs:bench:command-and-control",
        "type": "incident.reported",
        "time": iso(received),
        "force_code": "CHE",
        "schema_version": 1,
        "incident_ref": ref,
        "data": {
            "received_at": iso(received),
            "channel": "online",
            "reporter_type": "victim",
            "opening_category": "crime",
            "flags": {},
            "disclosures": [
                {
                    "disclosure_id": f"{ref}-D1",
                    "offence_group": "THEFT",
                    "victim_pseudo_ids": [f"{ref}-V1"],
                    "offender_count": 1,
                }
            ],
            "enhanced_entitlement": [],
            "area": area,
        },
    }
    return json.dumps(event, separators=(",", ":")).encode()
