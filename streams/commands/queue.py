"""`ncrs-monitor queue tail <queue>`: the open work items of one work queue, read from its topic.

A work-queue topic is compacted and keyed by item id: the open item is the value and a
tombstone closes it (docs/live.md), so folding the topic from the start by key gives exactly the
open work, which is what a queue's own consumer does too. The reader assigns every partition
itself and never commits: it joins no consumer group, so it can never take partitions from a
worker or from another reader, and any number of operators may tail a queue at once.

Only ids and codes are shown (severity, rule, stage, deadline, record references, area), as on
the topic itself (rules file §5). `--follow` keeps reading and redraws the table on every change
(on a terminal in place; otherwise it prints a new table per change, for logs and tests).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from streams.settings import Settings

app = typer.Typer(help="Inspect the work queues (compacted topics of open work items).")

SEVERITY_ORDER = {"S1": 0, "S2": 1, "S3": 2, "S4": 3}
POLL_MS = 500
PIPE_WIDTH = 200
"""Table width when stdout is not a terminal (rich would otherwise wrap at 80 columns)."""


@dataclass
class OpenItems:
    """The open items of one queue: the fold of its compacted topic by key."""

    items: dict[str, dict[str, Any]] = field(default_factory=dict)

    def apply(self, key: bytes | None, value: bytes | None) -> bool:
        """One record: a value opens or updates its item, a tombstone closes it.

        Returns whether the open set changed. A record that is not a work item (no key, bad
        JSON) is skipped: the reader shows the queue, it does not police it.
        """
        if key is None:
            return False
        item_id = key.decode("utf-8", "replace")
        if value is None:
            return self.items.pop(item_id, None) is not None
        try:
            item = json.loads(value)
        except ValueError:
            return False
        if not isinstance(item, dict):
            return False
        changed = self.items.get(item_id) != item
        self.items[item_id] = item
        return changed

    def ordered(self) -> list[dict[str, Any]]:
        """Most severe first, then the earliest deadline."""
        return sorted(
            self.items.values(),
            key=lambda i: (SEVERITY_ORDER.get(str(i.get("severity")), 9), str(i.get("deadline"))),
        )


def _refs(subject: Any) -> str:
    if not isinstance(subject, dict):
        return ""
    parts = [
        f"{name}={subject[name]}"
        for name in ("incident_ref", "disclosure_id", "crime_ref", "n100_ref", "source_topic")
        if subject.get(name)
    ]
    return " ".join(parts)


def render(queue: str, open_items: OpenItems) -> Table:
    """The open items as a table (ids and codes only)."""
    from rich.table import Table

    table = Table(title=f"{queue}: {len(open_items.items)} open work items")
    for column in ("severity", "rule", "stage", "deadline", "refs", "area"):
        table.add_column(column, no_wrap=column != "refs")
    for item in open_items.ordered():
        table.add_row(
            str(item.get("severity", "")),
            str(item.get("rule_id", "")),
            str(item.get("stage", "")),
            str(item.get("deadline", "")),
            _refs(item.get("subject")),
            str(item.get("area") or ""),
        )
    return table


def queue_topic(settings: Settings, queue: str, suffix: str | None) -> str:
    """The topic of `queue` (a `Queue` value such as `omu` or `victim_care`)."""
    from schemas.codes import Queue
    from streams.errors import ConfigError
    from streams.topics import WORKQUEUE_TOPICS

    try:
        spec = WORKQUEUE_TOPICS[Queue(queue.replace("-", "_"))]
    except ValueError as exc:
        names = ", ".join(q.value for q in Queue)
        msg = f"unknown queue {queue!r}: choose one of {names}"
        raise ConfigError(msg) from exc
    return spec.name + (settings.topic_suffix if suffix is None else suffix)


async def read_queue(
    settings: Settings,
    topic: str,
    on_change: Callable[[OpenItems], None],
    *,
    follow: bool,
    timeout: float,
) -> OpenItems:
    """Fold `topic` from the start; report the open set once caught up, then on every change."""
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.errors import KafkaError

    from streams import admin
    from streams.errors import BrokerError
    from streams.kafka_client import client_kwargs

    count = (await admin.describe_partitions(settings, [topic], timeout=timeout))[topic]
    if count is None:
        msg = f"topic {topic} does not exist; create it with `ncrs-monitor topics create`"
        raise BrokerError(msg)
    consumer = AIOKafkaConsumer(
        **client_kwargs(settings),
        group_id=None,  # no group: nothing is committed, no worker's partitions are taken
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        request_timeout_ms=int(timeout * 1000),
    )
    try:
        async with asyncio.timeout(timeout):
            await consumer.start()
    except (KafkaError, TimeoutError, OSError) as exc:
        await consumer.stop()
        msg = f"cannot read {topic} from {settings.bootstrap_servers}: broker unreachable"
        raise BrokerError(msg) from exc
    open_items = OpenItems()
    try:
        tps = [TopicPartition(topic, p) for p in range(count)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        while [tp for tp in tps if await consumer.position(tp) < end[tp]]:
            _fold(open_items, await consumer.getmany(*tps, timeout_ms=POLL_MS))
        on_change(open_items)
        while follow:
            if _fold(open_items, await consumer.getmany(*tps, timeout_ms=POLL_MS)):
                on_change(open_items)
    finally:
        await consumer.stop()
    return open_items


def _fold(open_items: OpenItems, batches: dict[Any, Iterable[Any]]) -> bool:
    changed = False
    for records in batches.values():
        for record in records:
            changed = open_items.apply(record.key, record.value) or changed
    return changed


def _console() -> Console:
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=PIPE_WIDTH)


@app.command("tail")
def tail(
    queue: Annotated[str, typer.Argument(help="Queue: omu, fcr, victim_care, ppu, ...")],
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep reading and redraw on every change.")
    ] = False,
    bootstrap: Annotated[
        str | None,
        typer.Option(
            "--bootstrap", help="Kafka bootstrap servers (default NCRS_BOOTSTRAP_SERVERS)."
        ),
    ] = None,
    suffix: Annotated[
        str | None,
        typer.Option("--suffix", help="Topic-name suffix (default NCRS_TOPIC_SUFFIX)."),
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds before the broker counts as unreachable.")
    ] = 15.0,
) -> None:
    """Show the open work items of QUEUE, read from its compacted topic."""
    from streams.settings import load_settings

    settings = load_settings(**({"bootstrap_servers": bootstrap} if bootstrap else {}))
    topic = queue_topic(settings, queue, suffix)
    console = _console()
    name = queue.replace("-", "_")
    if follow and console.is_terminal:
        from rich.live import Live

        with Live(console=console, auto_refresh=False) as live:

            def redraw(items: OpenItems) -> None:
                live.update(render(name, items), refresh=True)

            _run(settings, topic, redraw, follow=True, timeout=timeout)
        return

    def show(items: OpenItems) -> None:
        console.print(render(name, items))
        console.file.flush()

    _run(settings, topic, show, follow=follow, timeout=timeout)


def _run(
    settings: Settings,
    topic: str,
    on_change: Callable[[OpenItems], None],
    *,
    follow: bool,
    timeout: float,
) -> None:
    try:
        asyncio.run(read_queue(settings, topic, on_change, follow=follow, timeout=timeout))
    except KeyboardInterrupt:  # Ctrl-C ends --follow; the table on screen is the last state
        return
