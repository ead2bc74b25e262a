"""Liveness and readiness of a worker, decided from facts the app reports (no faust import).

faust's own `/` answers OK through broker outages and agent crash loops, so orchestration uses
these instead: `/healthz` fails when an agent died, the event loop stalled, or committed offsets
stopped advancing while input is waiting (a restart is the cure); `/readyz` fails while the
worker rebalances or recovers its tables, or while the broker has acknowledged nothing it sent
for longer than a limit (a broker outage: traffic should wait, a restart would not help).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

DEFAULT_COMMIT_STALL_SECONDS = 300.0
DEFAULT_LOOP_STALL_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class Verdict:
    """A check's answer: ok, and the reasons it is not."""

    ok: bool
    reasons: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        """JSON body of the health endpoint."""
        return {"ok": self.ok, "reasons": list(self.reasons)}


@dataclass(frozen=True, slots=True)
class Progress:
    """Consumer position: the sum of committed offsets, and whether input is waiting."""

    committed: int
    pending: bool


@dataclass(slots=True)
class Health:
    """Tracks what liveness and readiness depend on; the app feeds it, the web views read it."""

    commit_stall_seconds: float = DEFAULT_COMMIT_STALL_SECONDS
    loop_stall_seconds: float = DEFAULT_LOOP_STALL_SECONDS
    clock: Callable[[], float] = time.monotonic
    crashed_agents: set[str] = field(default_factory=set)
    last_heartbeat: float | None = None
    last_broker_ack: float | None = None
    _last_committed: int | None = None
    _progress_at: float | None = None

    def agent_crashed(self, name: str) -> None:
        """An agent's body raised: the message was acked unprocessed, so restart the worker."""
        self.crashed_agents.add(name)

    def broker_acked(self) -> None:
        """The broker acknowledged something this worker sent (ticks go out every interval)."""
        self.last_broker_ack = self.clock()

    def broker_silent(self, limit: float) -> bool:
        """Whether nothing sent has been acknowledged for longer than `limit` seconds."""
        last = self.last_broker_ack
        return last is not None and self.clock() - last > limit

    def heartbeat(self) -> None:
        """Called by a periodic task: proves the event loop is turning."""
        self.last_heartbeat = self.clock()

    def liveness(self, progress: Progress | None, agents_running: dict[str, bool]) -> Verdict:
        """Alive unless an agent died, the loop stalled, or commits stopped with input waiting."""
        now = self.clock()
        reasons: list[str] = []
        reasons += [f"agent_crashed:{name}" for name in sorted(self.crashed_agents)]
        reasons += [
            f"agent_stopped:{n}" for n, running in sorted(agents_running.items()) if not running
        ]
        if self.last_heartbeat is not None and now - self.last_heartbeat > self.loop_stall_seconds:
            reasons.append("event_loop_stalled")
        if progress is not None:
            moved = progress.committed != self._last_committed
            if moved or not progress.pending or self._progress_at is None:
                self._last_committed = progress.committed
                self._progress_at = now  # the last time the consumer was seen keeping up
            elif now - self._progress_at > self.commit_stall_seconds:
                reasons.append("commits_not_advancing")
        return Verdict(not reasons, tuple(reasons))

    @staticmethod
    def readiness(
        *, started: bool, rebalancing: bool, recovered: bool, broker_unreachable: bool = False
    ) -> Verdict:
        """Ready once started, recovered, not in a rebalance, and the broker answering."""
        reasons = []
        if not started:
            reasons.append("starting")
        if rebalancing:
            reasons.append("rebalancing")
        if not recovered:
            reasons.append("recovering")
        if broker_unreachable:
            reasons.append("broker_unreachable")
        return Verdict(not reasons, tuple(reasons))
