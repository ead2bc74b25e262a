"""Process-wide settings for the long-running drivers: the live worker, replay and benchmarks.

The rules engine keeps every open case in memory as many small, long-lived objects with almost
no reference cycles. CPython's cyclic garbage collector, left at its defaults (a young
collection every 700 net allocations), rescans those survivors again and again: it was a third
to a half of the engine's time in `bench/engine_bench.py`. A driver calls `tune_gc()` once,
after start-up (imports, configuration, restored state) and before its main loop: start-up
objects are moved out of the collector's sight (`gc.freeze`) and collections become rarer.
Reference counting still frees everything acyclic at once; cyclic garbage (rare here) is still
collected, only in bigger batches.

The pure core (`streams.rules`) never touches the collector itself: it stays free of process
state, and whether to tune is the driver's decision.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass

YOUNG_THRESHOLD = 100_000
"""Net allocations between young collections (CPython's default is 700)."""
MIDDLE_THRESHOLD = 20
"""Young collections between middle-generation collections (default 10)."""
OLD_THRESHOLD = 10
"""Middle collections between full collections (default 10); CPython also waits until the
objects promoted since the last full collection are a quarter of the old generation."""


@dataclass(frozen=True, slots=True)
class GcSettings:
    """The collector's settings before `tune_gc`, so a caller (a test) can put them back."""

    thresholds: tuple[int, int, int]
    enabled: bool


def tune_gc(
    young: int = YOUNG_THRESHOLD,
    middle: int = MIDDLE_THRESHOLD,
    old: int = OLD_THRESHOLD,
    *,
    freeze: bool = True,
) -> GcSettings:
    """Collect once, freeze what is alive now, and raise the collection thresholds.

    Returns the previous settings. Freezing is for start-up state that lives for the whole
    process; call this after start-up, not per batch.
    """
    previous = GcSettings(thresholds=gc.get_threshold(), enabled=gc.isenabled())
    gc.collect()
    if freeze:
        gc.freeze()
    gc.set_threshold(young, middle, old)
    gc.enable()
    return previous


def restore_gc(settings: GcSettings) -> None:
    """Undo `tune_gc`: the previous thresholds, frozen objects back under collection."""
    gc.unfreeze()
    gc.set_threshold(*settings.thresholds)
    if settings.enabled:
        gc.enable()
    else:
        gc.disable()
