"""`ncrs-monitor queue tail`: folding a compacted work-queue topic and the table it prints."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from streams.commands.queue import OpenItems, queue_topic, render
from streams.errors import ConfigError
from streams.settings import load_settings
from tests.factories import make_work_item


def _value(**overrides: object) -> bytes:
    return make_work_item(**overrides).model_dump_json().encode()


def test_open_items__value_opens_update_replaces_tombstone_closes() -> None:
    """Folding by key: the latest value per item, gone after a tombstone."""
    items = OpenItems()
    assert items.apply(b"a", _value(stage="due_soon"))
    assert items.apply(b"a", _value(stage="breached"))
    assert items.apply(b"b", _value())
    assert items.apply(b"a", None)
    assert set(items.items) == {"b"}
    assert not items.apply(b"a", None)  # closing an unknown item changes nothing


def test_open_items__same_value_again_is_no_change() -> None:
    """A raw duplicate (re-emitted after a restart) does not count as a change."""
    items = OpenItems()
    value = _value()
    assert items.apply(b"a", value)
    assert not items.apply(b"a", value)


@pytest.mark.parametrize(("key", "value"), [(None, b"{}"), (b"k", b"{nope"), (b"k", b"[1]")])
def test_open_items__records_that_are_not_items_are_skipped(
    key: bytes | None, value: bytes
) -> None:
    """A keyless or non-object record is skipped, not shown and not fatal."""
    items = OpenItems()
    assert not items.apply(key, value)
    assert items.items == {}


def test_open_items__most_severe_first_then_earliest_deadline() -> None:
    """S1 before S2; within a severity the earliest deadline first."""
    items = OpenItems()
    items.apply(b"late", _value(severity="S1", deadline="2024-06-02T00:00:00Z"))
    items.apply(b"s2", _value(severity="S2", deadline="2024-06-01T00:00:00Z"))
    items.apply(b"early", _value(severity="S1", deadline="2024-06-01T00:00:00Z"))
    assert [i["deadline"][:10] + i["severity"] for i in items.ordered()] == [
        "2024-06-01S1",
        "2024-06-02S1",
        "2024-06-01S2",
    ]


def test_render__shows_codes_and_refs_only() -> None:
    """The table has severity, rule, stage, deadline, refs and area; nothing else of the item."""
    items = OpenItems()
    item = json.loads(_value(subject={"incident_ref": "INC-77", "crime_ref": "CRI-9"}))
    items.apply(b"x", json.dumps(item).encode())
    console = Console(width=200, record=True)
    console.print(render("omu", items))
    text = console.export_text()
    assert "omu: 1 open work items" in text
    assert "incident_ref=INC-77" in text
    assert "crime_ref=CRI-9" in text
    assert item["rule_id"] in text
    assert item["item_id"] not in text
    assert item["alert_id"] not in text


@pytest.mark.parametrize(
    ("queue", "topic"),
    [
        ("omu", "ncrs.workqueue.omu.v1.t"),
        ("victim_care", "ncrs.workqueue.victim-care.v1.t"),
        ("victim-care", "ncrs.workqueue.victim-care.v1.t"),
    ],
)
def test_queue_topic__names_the_queue_topic_with_the_suffix(queue: str, topic: str) -> None:
    """Queue names map to their topics; `--suffix` (here .t) is appended."""
    assert queue_topic(load_settings(), queue, ".t") == topic


def test_queue_topic__unknown_queue_is_a_config_error_listing_the_queues() -> None:
    """A typo says which queues exist."""
    with pytest.raises(ConfigError, match="choose one of omu, fcr"):
        queue_topic(load_settings(), "omv", None)
