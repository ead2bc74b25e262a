"""Rebuilding the due index from table values with due hints equals rebuilding from the cases.

The live worker writes each case with its due hint first (`processing.table_value`) and after a
restart indexes a case from the hint alone (`rebuild_add`, or `rebuild_add_encoded` on the raw
bytes of a RocksDB store). Values written before the hint existed are decoded instead. Either way
the index (every key and its due time), the partition's event-time horizon and the gauges'
counts must be what decoding every case gives, also on a partition whose clock is already known
(a rebalance keeps it), where retention and max age are widened by the clock's distance past
the horizon.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from faust.serializers import codecs

from streams.live.processing import DUE_HINT_KEY, SideProcessor, peek_hint, table_value
from streams.rules.model import CaseKind, CaseState
from tests.factories import make_disclosure, make_disclosure_added, make_incident_reported
from tests.unit.live.harness import NOW, PARTITIONS, Side, all_caught_up, on_topic


def _faust_json(value: dict[str, Any]) -> bytes:
    """A table value as the worker's tables and changelog encode it: faust's JSON codec."""
    encoded: bytes = codecs.dumps("json", value)
    return encoded


def _loaded_side() -> Side:
    """A side holding cases in every lifecycle: open, warned, breached, purgeable, expired."""
    side = Side(CaseKind.INCIDENT, max_age=timedelta(days=3), retention=timedelta(days=2))
    start = NOW - timedelta(days=4)
    side.tick_all(all_caught_up(side.topo, start))
    events = [
        make_incident_reported(
            incident_ref=f"INC-{i}",
            received_at=start + timedelta(hours=7 * i),
            disclosures=[make_disclosure() for _ in range(1 + i % 3)],
        )
        for i in range(12)
    ]
    side.run([on_topic(side.topo, e, e.incident_ref or "", i) for i, e in enumerate(events)])
    side.tick_all(all_caught_up(side.topo, NOW - timedelta(days=1)))
    return side


def _state(proc: SideProcessor) -> tuple[Any, ...]:
    """Everything a rebuild derives: due times by key, horizons, tallies."""
    index = {p: dict(i._scheduled) for p, i in proc.index.items()}
    tally = {
        p: (dict(t.open_by_rule), dict(t.items_by_queue), t.keys) for p, t in proc.tally.items()
    }
    return index, dict(proc.horizon), tally


def _rebuild(side: Side, add: Any) -> tuple[Any, ...]:
    proc = side.proc
    proc.start_rebuild(range(PARTITIONS))
    proc.horizon.clear()  # as after a restart; the clocks stay known, as across a rebalance
    for key, value in side.table.items():
        add(proc, key, value)
    proc.finish_rebuild()
    return _state(proc)


def _without_hint(value: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in value.items() if k != DUE_HINT_KEY}


def test_rebuild__from_hints_equals_rebuild_from_decoded_cases() -> None:
    """Hinted values (decoded or still encoded) index exactly as cases decoded in full do."""
    side = _loaded_side()
    assert all(DUE_HINT_KEY in v for v in side.table.values())
    decoded = _rebuild(side, lambda p, k, v: p.rebuild_add(k, _without_hint(v)))
    hinted = _rebuild(side, lambda p, k, v: p.rebuild_add(k, v))
    encoded = _rebuild(side, lambda p, k, v: p.rebuild_add_encoded(k, _faust_json(v), json.loads))
    assert sum(len(i) for i in decoded[0].values()) == len(side.table)
    assert hinted == decoded
    assert encoded == decoded


def test_rebuild__encoded_values_are_not_decoded_when_they_carry_a_hint() -> None:
    """Only a value without a hint (written before hints existed) is decoded in full."""
    side = _loaded_side()
    decoded: list[str] = []

    def decode(value: bytes) -> dict[str, Any]:
        raw: dict[str, Any] = json.loads(value)
        decoded.append(raw["key"])
        return raw

    old_key = next(iter(side.table))
    side.proc.start_rebuild(range(PARTITIONS))
    for key, value in side.table.items():
        stored = _without_hint(value) if key == old_key else value
        side.proc.rebuild_add_encoded(key, _faust_json(stored), decode)
    assert decoded == [old_key]


def test_table_value__loads_as_the_case_it_was_made_from() -> None:
    """The extra top-level key round-trips: `CaseState.from_dict` reads the case unchanged."""
    side = _loaded_side()
    for value in side.table.values():
        case = CaseState.from_dict(json.loads(_faust_json(value)))
        assert table_value(case) == value


@pytest.mark.parametrize(
    "value",
    [
        b'{"kind":"incident","key":"INC-1"}',
        b'{"due_hint": {"v": 1}, "kind": "incident"}',
        b'{"due_hint":{"v":99,"at":null},"kind":"incident"}',
        b'{"due_hint":{"v":1,',
    ],
    ids=["no hint", "spaced encoding", "other version", "truncated"],
)
def test_peek_hint__gives_none_for_anything_but_a_current_leading_hint(value: bytes) -> None:
    """Whatever `peek_hint` cannot read for certain makes the caller decode the whole case."""
    assert peek_hint(value) is None


# --- batches and ticks while the rebuild is still reading -----------------------------------

REFS = [f"INC-R{i}" for i in range(8)]


def _side_before_restart() -> tuple[Side, Any, dict[str, Any]]:
    """Eight incidents received at `start`, none due yet at the clock; (side, start, events)."""
    side = Side(CaseKind.INCIDENT)
    start = NOW - timedelta(days=3)
    side.tick_all(all_caught_up(side.topo, start + timedelta(hours=1)))
    events = {
        ref: make_incident_reported(
            incident_ref=ref, received_at=start, disclosures=[make_disclosure()]
        )
        for ref in REFS
    }
    side.run([on_topic(side.topo, e, ref, i) for i, (ref, e) in enumerate(events.items())])
    return side, start, events


def _breached(outputs: list[Any]) -> list[str]:
    return [
        alert.subject.incident_ref or ""
        for out in outputs
        for alert, _ in out.alerts
        if alert.stage.value == "breached"
    ]


@pytest.mark.parametrize("reads_current", [False, True], ids=["snapshot", "current"])
@pytest.mark.parametrize("reached_first", [0, 3, 6, 8])
def test_rebuild__ticks_during_it_announce_indexed_cases_and_the_rest_once_reached(
    reached_first: int, reads_current: bool
) -> None:
    """A case not yet indexed is announced later, never missed nor twice; a batch touching
    cases the rebuild has or has not reached leaves the index and counts of a full rebuild,
    whether the rest is read as it was when the rebuild began (one RocksDB iterator) or as it
    is now (a database whose iterator starts later)."""
    side, start, events = _side_before_restart()
    snapshot = dict(side.table)  # what the rebuild reads: values as they were when it began
    side.proc.start_rebuild(range(PARTITIONS))
    for ref in REFS[:reached_first]:
        side.proc.rebuild_add(ref, snapshot[ref])
    outputs = [side.tick_all(all_caught_up(side.topo, start + timedelta(hours=30)))]
    assert sorted(_breached(outputs)) == sorted(REFS[:reached_first])
    # A batch meanwhile: a new disclosure on one case, a duplicate of another's first event.
    added = make_disclosure_added(incident_ref=REFS[5], disclosed_at=start + timedelta(hours=2))
    duplicate = events[REFS[6]]
    outputs.append(
        side.run([on_topic(side.topo, added, REFS[5], 20), on_topic(side.topo, duplicate, REFS[6])])
    )
    for ref in REFS[reached_first:]:
        side.proc.rebuild_add(ref, side.table[ref] if reads_current else snapshot[ref])
    side.proc.finish_rebuild()
    after_interleaving = _state(side.proc)
    assert after_interleaving == _rebuild(side, lambda p, k, v: p.rebuild_add(k, v))
    outputs.append(side.tick_all(all_caught_up(side.topo, start + timedelta(hours=31))))
    breached = _breached(outputs)
    assert sorted(set(breached)) == sorted(REFS)
    assert len(breached) == len(REFS) + 1  # REFS[5] twice: its second disclosure's obligation
