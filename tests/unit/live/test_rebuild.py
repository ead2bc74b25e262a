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

from streams.live.processing import DUE_HINT_KEY, SideProcessor, peek_hint, table_value
from streams.rules.model import CaseKind, CaseState
from tests.factories import make_disclosure, make_incident_reported
from tests.unit.live.harness import NOW, PARTITIONS, Side, all_caught_up, on_topic


def _faust_json(value: dict[str, Any]) -> bytes:
    """A table value as faust's JSON codec encodes it (key order kept, no spaces)."""
    return json.dumps(value, separators=(",", ":")).encode()


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
