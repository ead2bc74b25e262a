"""Where a worker's time goes: py-spy samples of a running worker, summarised.

`py-spy record --format raw` writes folded stacks (`frame;frame;... count`); this module records
them for a live process and summarises them three ways: by area (the rules core, the live
adapter, faust, aiokafka, pydantic, JSON, logging, metrics, the event loop), by the project
functions that include the most time, and by the functions with the most samples of their own.

    python -m bench.profile FOLDED_FILE      # summarise an existing recording
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

# Checked in order: the first pattern that matches a frame's file names the frame's area.
AREAS: tuple[tuple[str, str], ...] = (
    ("rules core (streams/rules)", "streams/rules/"),
    ("contracts decode/encode (schemas, pydantic)", "schemas/|pydantic"),
    ("JSON (json module, faust codecs)", r"json/|faust/serializers|faust/utils/json"),
    ("logging (structlog, logging)", "structlog|logging/"),
    ("metrics (prometheus_client)", "prometheus_client"),
    ("faust tables and changelog", "faust/tables|faust/stores"),
    ("faust streams/agents/consumer", "faust/|mode/"),
    ("aiokafka client", "aiokafka/|kafka/"),
    ("live adapter (streams/live)", "streams/live/"),
    ("event loop and other", ""),
)
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^():]*):(?P<line>\d+)\)$")


def record(pid: int, seconds: float, out: Path, rate: int = 50) -> Path | None:
    """Run py-spy against `pid` for `seconds`; None when py-spy is not installed."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        return None
    subprocess.run(
        [
            spy,
            "record",
            "-d",
            str(int(seconds)),
            "-r",
            str(rate),
            "--nonblocking",
            "-f",
            "raw",
            "-o",
            str(out),
            "--pid",
            str(pid),
        ],
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return out if out.exists() else None


def _frames(stack: str) -> list[tuple[str, str]]:
    out = []
    for frame in stack.split(";"):
        found = _FRAME.match(frame)
        out.append((found["func"], found["file"]) if found else (frame, ""))
    return out


def _area(file: str) -> str:
    for name, pattern in AREAS:
        if not pattern or re.search(pattern, file):
            return name
    return AREAS[-1][0]


def summarise(folded: Path, top: int = 15) -> dict[str, object]:
    """Shares of samples by area (of the leaf frame), inclusive project functions, and self."""
    areas: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in folded.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = _frames(stack)
        func, file = frames[-1]
        areas[_area(file)] += count
        own[f"{func} ({file})"] += count
        seen = set()
        for f, fl in frames:
            if fl.startswith(("streams/", "schemas/")) or "faust/tables" in fl:
                name = f"{f} ({fl})"
                if name not in seen:
                    seen.add(name)
                    inclusive[name] += count
    if not total:
        return {"samples": 0}

    def share(counter: Counter[str], n: int) -> list[tuple[str, float]]:
        return [(name, round(100 * c / total, 1)) for name, c in counter.most_common(n)]

    return {
        "samples": total,
        "by_area_percent": dict(share(areas, len(AREAS))),
        "project_inclusive_percent": dict(share(inclusive, top)),
        "self_percent": dict(share(own, top)),
    }


def format_summary(summary: dict[str, object]) -> str:
    lines = [f"samples: {summary.get('samples', 0)}"]
    for title in ("by_area_percent", "project_inclusive_percent", "self_percent"):
        part = summary.get(title)
        if isinstance(part, dict):
            lines.append(f"{title}:")
            lines.extend(f"  {pct:5.1f}%  {name}" for name, pct in part.items())
    return "\n".join(lines)


if __name__ == "__main__":
    print(format_summary(summarise(Path(sys.argv[1]))))
