"""A worker whose table writes reach the changelog late: the hand-off faust's commit races.

faust queues a table write's changelog record in its producer buffer, and its commit waits for
that buffer only until no record has left it for 0.1 s (faust/transport/producer.py,
`flush_atmost`). On a loaded machine a record can sit there longer (a busy event loop, a full
aiokafka batch); this makes it happen on purpose. A `sitecustomize` module on the worker's
PYTHONPATH delays every `every`-th changelog record by `delay_s` before faust hands it to
aiokafka, so any commit taken before a batch's state is on the changelog shows up as lost state.
"""

from __future__ import annotations

from pathlib import Path

from tests.integration.worker_env import ROOT

SITECUSTOMIZE = """\
import asyncio
import itertools
import os

from faust.transport import producer

_delay = float(os.environ["FAULT_CHANGELOG_DELAY_S"])
_every = int(os.environ["FAULT_CHANGELOG_EVERY"])
_count = itertools.count(1)
_send_pending = producer.ProducerBuffer._send_pending


async def _slow_send_pending(self, fut):
    topic = fut.message.channel.get_topic_name()
    if topic.endswith("-changelog") and next(_count) % _every == 0:
        await asyncio.sleep(_delay)
    await _send_pending(self, fut)


producer.ProducerBuffer._send_pending = _slow_send_pending
"""


def slow_changelog_env(directory: Path, *, delay_s: float, every: int = 1) -> dict[str, str]:
    """Write the hook into `directory`; the environment a worker needs to load it."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sitecustomize.py").write_text(SITECUSTOMIZE)
    return {
        "PYTHONPATH": f"{directory}:{ROOT}",
        "FAULT_CHANGELOG_DELAY_S": str(delay_s),
        "FAULT_CHANGELOG_EVERY": str(every),
    }
