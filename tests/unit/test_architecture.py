"""The pure core stays pure: `schemas/` and `streams/rules/` do no I/O and read no clock.

Parsed with `ast`, not imported, so a forbidden import is caught even in a module no test loads.
Deterministic rules are what make replay equal live and alert ids stable (docs/architecture.md).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PURE_PACKAGES = ("schemas", "streams/rules")

FORBIDDEN_MODULES = frozenset(
    {"faust", "mode", "aiokafka", "kafka", "prometheus_client", "structlog", "asyncio"}
)
FORBIDDEN_NAMES = frozenset(
    {
        "datetime.datetime.now",
        "datetime.datetime.utcnow",
        "datetime.datetime.today",
        "datetime.date.today",
        "uuid.uuid1",
        "uuid.uuid4",
        "time.time",
        "time.time_ns",
        "os.environ",
        "os.getenv",
        "os.putenv",
    }
)
"""Fully qualified names whose mere reference is forbidden (so `default_factory=datetime.now`
is caught as well as a call)."""


def _qualify(node: ast.expr, aliases: dict[str, str]) -> str | None:
    """`dt.datetime.now` -> `datetime.datetime.now` using the module's import aliases."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(aliases.get(node.id, node.id))
    return ".".join(reversed(parts))


def find_violations(source: str, filename: str = "<string>") -> list[str]:
    """Every forbidden import or reference in `source`, as `file:line: what`."""
    tree = ast.parse(source, filename)
    aliases: dict[str, str] = {}
    found: list[str] = []

    def flag(node: ast.AST, what: str) -> None:
        found.append(f"{filename}:{getattr(node, 'lineno', 0)}: {what}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in FORBIDDEN_MODULES:
                    flag(node, f"import {alias.name}")
                aliases[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] in FORBIDDEN_MODULES:
                flag(node, f"from {node.module} import ...")
            for alias in node.names:
                qualified = f"{node.module}.{alias.name}"
                if qualified in FORBIDDEN_NAMES:
                    flag(node, f"from {node.module} import {alias.name}")
                aliases[alias.asname or alias.name] = qualified

    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            qualified = _qualify(node, aliases)
            # an unresolved `datetime.now` (no import seen) still names the forbidden clock
            bare = {"datetime.now", "datetime.utcnow", "date.today"}
            if qualified in FORBIDDEN_NAMES or qualified in bare:
                flag(node, qualified)
    return sorted(set(found))


def _pure_modules() -> list[Path]:
    return sorted(p for pkg in PURE_PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def test_pure_packages_have_modules_to_check():
    """Guard against a vacuous pass: both packages are found and hold modules."""
    modules = _pure_modules()
    assert any(p.is_relative_to(ROOT / "schemas") for p in modules)
    assert any(p.is_relative_to(ROOT / "streams" / "rules") for p in modules)


@pytest.mark.parametrize("path", _pure_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_pure_module_imports_no_io_and_reads_no_clock(path):
    """No faust/aiokafka/prometheus/structlog/asyncio, no wall clock, uuid4 or environment."""
    assert find_violations(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT))) == []


BAD_SOURCES = [
    "import faust",
    "import aiokafka.admin",
    "from aiokafka import AIOKafkaProducer",
    "import prometheus_client as prom",
    "from structlog import get_logger",
    "import asyncio",
    "from mode import Service",
    "from datetime import datetime\nx = datetime.now()",
    "from datetime import datetime\nx = datetime.utcnow()",
    "import datetime\nx = datetime.datetime.now(tz=datetime.UTC)",
    "import datetime as dt\nx = dt.datetime.now()",
    "from datetime import date\nx = date.today()",
    "from datetime import datetime as D\nf = D.now",
    "import uuid\nx = uuid.uuid4()",
    "from uuid import uuid4",
    "import time\nx = time.time()",
    "from time import time",
    "import os\nx = os.environ['NCRS_X']",
    "import os\nx = os.environ.get('NCRS_X')",
    "import os\nx = os.getenv('NCRS_X')",
    "from os import environ",
]


@pytest.mark.parametrize("source", BAD_SOURCES)
def test_checker_flags_forbidden_source(source):
    """The checker can fail: each forbidden pattern in a snippet is reported."""
    assert find_violations(source) != []


GOOD_SOURCES = [
    "from datetime import UTC, datetime, timedelta\ndef f(now: datetime) -> datetime:\n"
    "    return now + timedelta(hours=24)",
    "import uuid\nx = uuid.uuid5(uuid.NAMESPACE_URL, 'a')",
    "def f(clock):\n    return clock.now()",
    "import os.path\nx = os.path.join('a', 'b')",
    "from schemas.codes import OffenceGroup",
    "import holidays",
]


@pytest.mark.parametrize("source", GOOD_SOURCES)
def test_checker_accepts_pure_source(source):
    """Explicit clocks, uuid5 and plain imports are not flagged."""
    assert find_violations(source) == []
