"""A case's state is on its changelog before the input that changed it is committed (issue 8).

faust commits offsets after `producer.flush()`, but the flush of its producer buffer gives up as
soon as no record has left the buffer for 0.1 s (faust/transport/producer.py, `flush_atmost`),
and table writes reach the changelog through that buffer. A worker that relies on it can commit
input whose new state is still queued: killed then, the state is gone and the input is never
read again, so an obligation closed after the crash is unknown and its open work item stays open
for ever. That was the crash test's defect (docs/reliability.md).

Here the hand-off is slow on purpose (tests/integration/faults/slow_changelog.py: every changelog
record waits in faust's buffer, as under a busy event loop or a full aiokafka batch), so a commit
taken before the changelog records are acknowledged is caught every time, not once in a loaded
CI run. The worker uses the memory store, so the restarted worker knows only what the
changelog holds, as a replacement pod on another node would.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from schemas.events import Disclosure, Envelope
from tests.factories import at, make_crime_recording, make_disclosure, make_incident_reported
from tests.integration.faults.slow_changelog import slow_changelog_env
from tests.integration.kit import (
    Fleet,
    Reader,
    Worker,
    produce_events,
    unique,
    wait_committed,
)

REC = "REC-24H"
INCIDENTS = 30
DELAY_S = 0.15
"""Per changelog record: more than `flush_atmost`'s 0.1 s, so faust's flush returns early."""
pytestmark = pytest.mark.slow


def _reported(refs: list[str], disclosures: list[Disclosure]) -> list[tuple[str, Envelope]]:
    """One never-recorded violence incident per ref (2016: REC-24H is breached at once)."""
    return [
        (ref, make_incident_reported(incident_ref=ref, received_at=at(i / 60), disclosures=[d]))
        for i, (ref, d) in enumerate(zip(refs, disclosures, strict=True))
    ]


def _recorded(refs: list[str], disclosures: list[Disclosure]) -> list[tuple[str, Envelope]]:
    """A late crime record for each incident: closes its REC-24H obligation and work item."""
    out: list[tuple[str, Envelope]] = []
    for i, (ref, disclosure) in enumerate(zip(refs, disclosures, strict=True)):
        crime_ref = unique("CRI")
        crime = make_crime_recording(
            disclosure,
            incident_ref=ref,
            crime_ref=crime_ref,
            reported_at=at(i / 60),
            recorded_at=at(i / 60 + 30),
        )
        out.append((crime_ref, crime))
    return out


def _rec_items(reader: Reader, topic: str, *, ever: bool = False) -> set[str]:
    """Incident refs of the open REC-24H items on a queue topic (`ever`: open at any time)."""
    items = reader.values(topic) if ever else reader.open_items(topic).values()
    return {item["subject"]["incident_ref"] for item in items if item["rule_id"] == REC}


async def test_killed_right_after_a_commit_the_state_of_committed_input_survives(
    bootstrap: str, tmp_path: Path
) -> None:
    """Slow changelog hand-off, kill -9 as soon as the input is committed, restart on an empty
    store: late crime records still close every REC-24H work item the first worker opened."""
    fleet = Fleet(bootstrap, unique("lcl"))
    await asyncio.to_thread(fleet.create_topics)
    slow = slow_changelog_env(tmp_path / "hooks", delay_s=DELAY_S)
    # Static membership: the replacement takes the killed worker's place at once.
    first = Worker(fleet, tmp_path / "w1", "w1", extra_env=slow, static=True)
    # Same instance id (the label) and web address: faust's assignor refuses a static member
    # whose address changed (a StatefulSet pod keeps both). Its own, empty, working directory.
    second = Worker(fleet, tmp_path / "w2", "w1", static=True, port=first.port)
    refs = [unique("INC") for _ in range(INCIDENTS)]
    disclosures = [make_disclosure() for _ in refs]
    omu = fleet.queue_topic("omu")
    try:
        await asyncio.to_thread(first.start)
        await produce_events(fleet, _reported(refs, disclosures))
        async with Reader(bootstrap, [omu]) as out:
            await out.until(lambda r: _rec_items(r, omu) == set(refs), what="every REC-24H item")
        await wait_committed(fleet, [fleet.topic("ncrs.incidents.v1")])
        await asyncio.to_thread(first.kill)
        await asyncio.to_thread(second.start)
        await produce_events(fleet, _recorded(refs, disclosures))
        async with Reader(bootstrap, [omu]) as out:
            # Read from the start: every item is seen opened, then none may stay open.
            await out.until(
                lambda r: _rec_items(r, omu, ever=True) == set(refs) and not _rec_items(r, omu),
                what="every REC-24H item closed by its record",
            )
    finally:
        first.stop_quietly()
        second.stop_quietly()
