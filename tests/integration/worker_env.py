"""What every test worker subprocess shares: its NCRS_* environment and its topics.

Used by the worker kit (kit.py) and by faults/slow_changelog.py, so a setting a test worker
needs is added in one place.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable
from pathlib import Path

from streams import admin
from streams.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]


def worker_env(
    *,
    bootstrap: str,
    app_id: str,
    suffix: str,
    partitions: int,
    port: int,
    store: str | None = None,
    overrides: Iterable[tuple[str, str]] = (),
) -> dict[str, str]:
    """NCRS_* variables of one test worker (inherited NCRS_* variables are dropped).

    Grace 0 and a 1 s tick make decisions prompt; a long staleness limit keeps a slow CI machine
    from holding breaches undecided (a replayed backlog is never "silent" on the wall clock).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("NCRS_")}
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "NCRS_BOOTSTRAP_SERVERS": bootstrap,
            "NCRS_APP_ID": app_id,
            "NCRS_TOPIC_SUFFIX": suffix,
            "NCRS_TOPIC_PARTITIONS": str(partitions),
            "NCRS_GRACE_SECONDS": "0",
            "NCRS_TICK_INTERVAL_SECONDS": "1",
            "NCRS_STALENESS_SECONDS": "3600",
            "NCRS_LOG_FORMAT": "json",
            "NCRS_WEB_HOST": "127.0.0.1",
            "NCRS_WEB_PORT": str(port),
        }
    )
    if store is not None:
        env["NCRS_STORE_URL"] = store
    env.update(dict(overrides))
    return env


def create_worker_topics(bootstrap: str, partitions: int, suffix: str) -> None:
    """Every input and output topic, suffixed, with the given partition count (blocking)."""
    settings = load_settings(
        bootstrap_servers=bootstrap, topic_partitions=partitions, topic_suffix=suffix
    )
    report = asyncio.run(
        admin.ensure_topics(settings, admin.resolve_specs(settings, suffix=suffix))
    )
    admin.raise_on_mismatch(report)
