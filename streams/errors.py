"""The project's exceptions: one root, few leaves.

The CLI turns any `NcrsError` into a one-line message and exit code 2, so each message must say
what is wrong and what to do, without a traceback.
"""

from __future__ import annotations


class NcrsError(Exception):
    """Root of every error the monitor reports to an operator."""


class ConfigError(NcrsError):
    """Configuration is missing or invalid; the message names the variable to set."""


class BrokerError(NcrsError):
    """The Kafka broker is unreachable or its topics do not match `streams/topics.py`."""
