"""A private single-node Kafka broker that a test may stop and start (broker-outage scenario).

The shared test broker (NCRS_TEST_BOOTSTRAP) must never be stopped: other tests and engineers use
it. This one runs from the same `deploy/local-kafka/kafka.sh` with its own ports and run
directory, so `stop` and `start` act on it alone, and it keeps its data across a stop.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.integration.worker_env import ROOT

KAFKA_SH = ROOT / "deploy" / "local-kafka" / "kafka.sh"


def free_ports(count: int) -> list[int]:
    """Ports the kernel just handed out (held together so they differ)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@dataclass
class PrivateBroker:
    """kafka.sh with NCRS_KAFKA_PORT / NCRS_KAFKA_CONTROLLER_PORT / NCRS_KAFKA_DIR of its own."""

    run_dir: Path
    port: int
    controller_port: int

    @classmethod
    def allocate(cls, run_dir: Path) -> PrivateBroker:
        port, controller = free_ports(2)
        return cls(run_dir, port, controller)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NCRS_KAFKA")}
        env.update(
            NCRS_KAFKA_PORT=str(self.port),
            NCRS_KAFKA_CONTROLLER_PORT=str(self.controller_port),
            NCRS_KAFKA_DIR=str(self.run_dir),
            NCRS_KAFKA_HEAP="384M",
        )
        return env

    def _run(self, command: str) -> float:
        began = time.monotonic()
        done = subprocess.run(  # noqa: PLW1510 - our own script; status checked below
            [str(KAFKA_SH), command], env=self._env(), capture_output=True, text=True, timeout=180
        )
        if done.returncode != 0:
            raise AssertionError(f"kafka.sh {command} failed:\n{done.stderr[-3000:]}")
        return time.monotonic() - began

    def start(self) -> float:
        """Start (or restart, keeping its data); returns the seconds until it was ready."""
        return self._run("start")

    def stop(self) -> float:
        """Stop it (SIGTERM, a clean shutdown); returns the seconds it took."""
        return self._run("stop")
