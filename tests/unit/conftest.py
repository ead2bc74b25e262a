"""Fixtures for every unit test."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from streams.runtime import GcSettings, restore_gc


@pytest.fixture(autouse=True)
def _collector_restored() -> Iterator[None]:
    """Put the garbage collector back as it was if a test ran a driver that tunes it.

    `ncrs-monitor replay`, `demo` and `worker` tune the collector for the rest of their process
    (`streams.runtime.tune_gc`); in the test process that would leak into every later test.
    """
    before = GcSettings(thresholds=gc.get_threshold(), enabled=gc.isenabled())
    frozen = gc.get_freeze_count()
    yield
    changed = gc.get_threshold() != before.thresholds or gc.isenabled() != before.enabled
    if changed or gc.get_freeze_count() != frozen:
        restore_gc(before)
