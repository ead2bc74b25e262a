"""ncrs-monitor: real-time NCRS compliance monitoring for police crime recording.

`streams.rules` is the pure rules core; `streams.live` runs it on Kafka with faust and
`streams.replay` runs it over files for audits. `streams.topics` declares every topic and
`streams.settings` every setting.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ncrs-monitor")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
