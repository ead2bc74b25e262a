"""The input of a scenario: a `ncrs-monitor simulate` file, and a producer that feeds it.

Each line of the file goes to the topic its event type belongs on (streams/topics.py), keyed by
the aggregate that topic is keyed by (`incident_ref` or `crime_ref`), as the force's systems are
required to send it. The simulator's deliberately malformed lines go where their text says they
belong, or to the incident topic, so they are dead-lettered by a worker as they are by replay.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from streams.topics import INCIDENTS, TOPIC_OF_TYPE
from tests.integration.kit import CLI
from tests.integration.worker_env import ROOT

_TYPE = re.compile(rb'"type"\s*:\s*"([a-z_.]+)"')
_REF = {
    name: re.compile(rb'"%s"\s*:\s*"([^"]+)"' % name.encode())
    for name in ("incident_ref", "crime_ref")
}
SEND_CHUNK = 500
"""Records sent before their delivery is awaited: keeps the producer fast and bounded."""


@dataclass(frozen=True, slots=True)
class Record:
    """One input message: the base topic name (unsuffixed), its key and the raw line."""

    topic: str
    key: bytes
    value: bytes


def simulate(out: Path, *, start: date, days: int, incidents_per_day: int, seed: int) -> Path:
    """Write a simulated stream with `ncrs-monitor simulate` (the same command a user runs)."""
    subprocess.run(
        [
            CLI,
            "simulate",
            "--out",
            str(out),
            "--start",
            start.isoformat(),
            "--days",
            str(days),
            "--incidents-per-day",
            str(incidents_per_day),
            "--seed",
            str(seed),
        ],
        check=True,
        cwd=ROOT,
        capture_output=True,
        timeout=300,
    )
    return out


def route(line: bytes) -> Record:
    """Topic and key of one line, also for a malformed one (best effort from its text)."""
    try:
        obj = json.loads(line)
        spec = TOPIC_OF_TYPE[obj["type"]]
        key = str(obj[spec.key]).encode()
    except (ValueError, KeyError, TypeError, RecursionError):
        found = _TYPE.search(line)
        spec = TOPIC_OF_TYPE.get(found.group(1).decode(), INCIDENTS) if found else INCIDENTS
        ref = _REF.get(spec.key, _REF["incident_ref"]).search(line)
        key = ref.group(1) if ref else b"malformed"
        return Record(spec.name, key, line)
    return Record(spec.name, key, line)


def load(path: Path) -> list[Record]:
    """Every non-blank line of a simulate file, routed."""
    return [route(line) for line in path.read_bytes().splitlines() if line.strip()]


@dataclass
class Feeder:
    """Produces records to a fleet's topics, paced or at full speed, surviving broker outages.

    `sent` counts records acknowledged by the broker, so a test can inject a fault "after n
    events". A chunk whose delivery fails (broker down) is sent again after a pause: a record may
    then reach Kafka twice, which the monitor absorbs (events are deduplicated by source and id).
    """

    bootstrap: str
    topic_of: Callable[[str], str]
    sent: int = 0
    resends: int = 0
    started_at: float | None = None
    finished_at: float | None = None
    errors: list[str] = field(default_factory=list)

    async def run(self, records: Sequence[Record], rate: float | None = None) -> None:
        """Send every record in order; `rate` is records per second (None: as fast as possible)."""
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            acks="all",
            linger_ms=5,
            request_timeout_ms=15_000,
            retry_backoff_ms=250,
        )
        await _start_with_retry(producer)
        self.started_at = time.monotonic()
        try:
            for begin in range(0, len(records), SEND_CHUNK):
                chunk = records[begin : begin + SEND_CHUNK]
                if rate is not None:
                    due = self.started_at + begin / rate
                    await asyncio.sleep(max(0.0, due - time.monotonic()))
                await self._send_chunk(producer, chunk)
                self.sent += len(chunk)
        finally:
            self.finished_at = time.monotonic()
            await producer.stop()

    async def _send_chunk(self, producer: AIOKafkaProducer, chunk: Sequence[Record]) -> None:
        while True:
            futures: list[asyncio.Future[object]] = []
            failure: BaseException | None = None
            try:
                for r in chunk:
                    futures.append(await producer.send(self.topic_of(r.topic), r.value, key=r.key))
            except KafkaError as exc:  # broker unreachable: a real producer retries too
                failure = exc
            # Every future's outcome is collected, so none is left unretrieved on failure.
            results = await asyncio.gather(*futures, return_exceptions=True)
            failure = failure or next((r for r in results if isinstance(r, BaseException)), None)
            if failure is None:
                return
            self.errors.append(type(failure).__name__)
            self.resends += 1
            await asyncio.sleep(1.0)

    async def wait_sent(self, count: int, timeout: float = 300.0) -> None:
        """Until at least `count` records are acknowledged."""
        async with asyncio.timeout(timeout):
            while self.sent < count:
                await asyncio.sleep(0.05)


async def _start_with_retry(producer: AIOKafkaProducer, attempts: int = 30) -> None:
    for attempt in range(attempts):
        try:
            await producer.start()
            return
        except KafkaError:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(1.0)
