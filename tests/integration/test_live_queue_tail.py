"""`ncrs-monitor queue tail` against the real broker: the open items of a compacted queue topic.

Items are written straight to the queue topics (the worker's side of this is covered by the
family tests), so the command's own behaviour is what is checked: fold by key, tombstones
close, other queues are not shown, no consumer group is joined, and `--follow` redraws.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from tests.factories import make_work_item
from tests.integration.kit import CLI, Fleet, produce, unique
from tests.integration.worker_env import ROOT


def _item(fleet: Fleet, queue: str, ref: str) -> tuple[str, bytes]:
    item = make_work_item(queue=queue, subject={"incident_ref": ref})
    return item.item_id, item.model_dump_json().encode()


def _command(fleet: Fleet, *args: str) -> list[str]:
    return [CLI, "queue", "tail", *args, "--bootstrap", fleet.bootstrap, "--suffix", fleet.suffix]


def _env(fleet: Fleet) -> dict[str, str]:
    return fleet.env(port=6066)  # the port is not used: no worker here


async def _groups(bootstrap: str) -> set[str]:
    client = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await client.start()
    try:
        return {group for group, *_ in await client.list_consumer_groups()}
    finally:
        await client.close()


@pytest.fixture
async def fleet(bootstrap: str) -> Fleet:
    """Topics of one deployment (no worker)."""
    created = Fleet(bootstrap, unique("lq"))
    await asyncio.to_thread(created.create_topics)
    return created


async def test_queue_tail__shows_open_items_of_its_queue_only_and_joins_no_group(
    fleet: Fleet,
) -> None:
    """Two open items are listed by ref; the tombstoned one and another queue's are not; the
    reader leaves no consumer group behind."""
    refs = [unique("INC") for _ in range(4)]
    items = [_item(fleet, "omu", ref) for ref in refs[:3]]
    other = _item(fleet, "fcr", refs[3])
    await produce(
        fleet.bootstrap,
        fleet.queue_topic("omu"),
        [(item_id.encode(), value) for item_id, value in items] + [(items[1][0].encode(), None)],
    )
    await produce(fleet.bootstrap, fleet.queue_topic("fcr"), [(other[0].encode(), other[1])])
    done = await asyncio.to_thread(
        subprocess.run,
        _command(fleet, "omu"),
        env=_env(fleet),
        cwd=ROOT,
        capture_output=True,
        timeout=60,
        check=False,
    )
    out = done.stdout.decode()
    assert done.returncode == 0, done.stderr.decode()
    assert "omu: 2 open work items" in out
    assert f"incident_ref={refs[0]}" in out
    assert f"incident_ref={refs[2]}" in out
    assert refs[1] not in out
    assert refs[3] not in out
    assert fleet.app_id not in await _groups(fleet.bootstrap)


class _Output:
    """A subprocess's stdout collected by a thread, so the test can wait on it."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.text = ""
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for line in iter(proc.stdout.readline, b""):
            with self._lock:
                self.text += line.decode(errors="replace")

    def wait_for(self, needle: str, after: int = 0, timeout: float = 30.0) -> int:
        """Wait until `needle` appears at or after `after`; returns the position past it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                found = self.text.find(needle, after)
            if found >= 0:
                return found + len(needle)
            time.sleep(0.1)
        raise AssertionError(f"{needle!r} not printed in {timeout}s:\n{self.text[-2000:]}")


async def test_queue_tail__follow_redraws_when_an_item_opens_and_closes(fleet: Fleet) -> None:
    """With --follow a new item appears in the next table and disappears after its tombstone."""
    ref = unique("INC")
    item_id, value = _item(fleet, "ppu", ref)
    proc = subprocess.Popen(
        _command(fleet, "ppu", "--follow"),
        env=_env(fleet),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        out = _Output(proc)
        seen = await asyncio.to_thread(out.wait_for, "ppu: 0 open work items")
        await produce(fleet.bootstrap, fleet.queue_topic("ppu"), [(item_id.encode(), value)])
        seen = await asyncio.to_thread(out.wait_for, f"incident_ref={ref}", seen)
        await produce(fleet.bootstrap, fleet.queue_topic("ppu"), [(item_id.encode(), None)])
        await asyncio.to_thread(out.wait_for, "ppu: 0 open work items", seen)
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0


def test_queue_tail__missing_topic_fails_with_one_line(tmp_path: Path, bootstrap: str) -> None:
    """A queue whose topic does not exist is a one-line error and exit status 2."""
    fleet = Fleet(bootstrap, unique("lqmissing"))
    done = subprocess.run(
        _command(fleet, "omu"),
        env=_env(fleet),
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.decode().strip().splitlines() == [
        f"ncrs-monitor: error: topic {fleet.queue_topic('omu')} does not exist; "
        "create it with `ncrs-monitor topics create`"
    ]
