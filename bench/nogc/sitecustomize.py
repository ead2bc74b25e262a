"""Measurement aid: with this directory on PYTHONPATH, `streams.runtime.tune_gc` does nothing.

Python imports `sitecustomize` at start-up, so any driver run with `PYTHONPATH=bench/nogc`
(`ncrs-monitor demo`, `replay`, `worker`) keeps CPython's collector defaults: the "before" of a
side-by-side comparison (docs/benchmarks.md). It says so once on stderr when the driver calls
it. Never on the path of a deployment.
"""

from __future__ import annotations

import gc
import sys

from streams import runtime


def _untuned(*args: object, **kwargs: object) -> runtime.GcSettings:
    """The collector's settings, left as they are."""
    print("bench/nogc: garbage-collector tuning disabled", file=sys.stderr, flush=True)
    return runtime.GcSettings(thresholds=gc.get_threshold(), enabled=gc.isenabled())


runtime.tune_gc = _untuned
