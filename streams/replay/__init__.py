"""Embedded audit mode: replay a history file through the rules engine, with no broker.

`replay_files` reads NDJSON (gzip by extension), dead-letters what cannot be decoded with its
file and line, and runs every event through the same `Engine` and `ALL_FAMILIES` as the live
workers, on the event-time watermark. `replay_events` is the same run over events already in
memory, for the golden "replay equals live" comparison.
"""

from __future__ import annotations

from streams.replay.runner import AuditReplay, ReplayResult, replay_events, replay_files

__all__ = ["AuditReplay", "ReplayResult", "replay_events", "replay_files"]
