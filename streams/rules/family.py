"""The shape of a rule family: one module per family, each exporting `FAMILY`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from streams.rules.duties import RuleContext
from streams.rules.model import CaseKind, CaseState

Reconcile = Callable[[CaseState, RuleContext], CaseState]


@dataclass(frozen=True, slots=True)
class RuleFamily:
    """Rules that share facts; `reconcile` opens and closes their obligations from the facts.

    `reconcile` runs after every event absorbed into a case of one of `kinds` that changed one of
    the facts it `reads`. It must be idempotent (running it twice changes nothing the second
    time) and depend only on the facts, never on arrival order: that is what lets either-order
    arrival and duplicates be harmless, and what lets the engine skip it when nothing it reads
    has changed.
    """

    name: str
    rule_ids: tuple[str, ...]
    kinds: frozenset[CaseKind]
    reconcile: Reconcile
    citation: str
    reads: frozenset[str] | None = None
    """Every top-level fact `reconcile` reads. When given, the engine skips `reconcile` after an
    event that changed none of them: the facts it depends on are those it saw last time, and
    being idempotent it would change nothing. None runs it after every event."""
