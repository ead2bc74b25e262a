"""Runs the selected measurements, prints the table and writes bench/results.json.

`ncrs-monitor bench` calls `main`; `python -m bench.suite` does the same without the CLI.
Measurements that need Kafka share one broker of the benchmark's own (bench/kit.py), started
fresh at the beginning and stopped at the end whatever happens.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import latency_bench, live_bench, memory_bench, recovery_bench, replay_bench
from bench.kit import ROOT, RUNNING, Broker, kafka_version, log

MEASUREMENTS = ("replay", "live", "latency", "memory", "recovery", "catchup")
NEEDS_BROKER = {"live", "latency", "memory", "recovery", "catchup"}
DEFAULT_OUT = ROOT / "bench" / "results.json"
WORKDIR = Path("/tmp/ncrs-bench-work")
LOGDIR = Path("/tmp/ncrs-bench-logs")


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])

    def version(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    return {
        "nproc": os.cpu_count(),
        "ram_gib": round(mem_kib / 2**20, 1),
        "cpu_model": cpu,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "faust_streaming": version("faust-streaming"),
        "aiokafka": version("aiokafka"),
        "pydantic": version("pydantic"),
        "rocksdict": version("rocksdict"),
        "kafka": kafka_version(),
    }


def source_version() -> dict[str, Any]:
    """The commit measured, and whether the code under test had uncommitted changes."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "streams", "schemas"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None}
    return {"commit": commit, "uncommitted_changes": [line[3:] for line in dirty if line]}


def _run_one(name: str, broker: Broker, quick: bool, profile: bool) -> dict[str, Any]:
    work = WORKDIR / name
    work.mkdir(parents=True, exist_ok=True)
    runners: dict[str, Callable[[], dict[str, Any]]] = {
        "replay": lambda: replay_bench.run(work, quick=quick),
        "live": lambda: live_bench.run_throughput(
            broker, work, quick=quick, profile=profile and not quick
        ),
        "latency": lambda: latency_bench.run(broker, work, quick=quick),
        "memory": lambda: memory_bench.run(broker, work, quick=quick),
        "recovery": lambda: recovery_bench.run(broker, work, quick=quick),
        "catchup": lambda: live_bench.run_catchup(broker, work, quick=quick),
    }
    started = time.monotonic()
    try:
        result = runners[name]()
    except Exception as exc:  # one failed measurement must not lose the others' figures
        log(f"{name} failed: {exc!r}")
        result = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
    finally:
        # Worker logs are kept (they explain odd figures); data directories are not.
        logs = LOGDIR / name
        for log_file in work.rglob("worker.log"):
            target = logs / log_file.relative_to(work)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(log_file, target)
        shutil.rmtree(work, ignore_errors=True)
    result["wall_seconds"] = round(time.monotonic() - started, 1)
    return result


def _n(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}" if isinstance(value, (int, float)) else str(value)


def _met(value: Any) -> str:
    return {True: "yes", False: "NO"}.get(value, "-")


def _stalled(*runs: dict[str, Any]) -> str:
    left = sum(sum(r.get("never_committed", {}).values()) for r in runs)
    return f"; {left} records never committed (see JSON)" if left else ""


def rows(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(measurement, figure, target, met) lines of the table."""
    out: list[tuple[str, str, str, str]] = []
    for name, r in results.items():
        if "error" in r:
            out.append((name, f"FAILED: {r['error'][:70]}", "", "-"))
            continue
        if name == "replay":
            out.append((
                "1 replay throughput",
                f"{_n(r['full_replay_lines_per_s'])}/s full vs {_n(r['decode_only_lines_per_s'])}"
                f"/s decode-only ({_n(r['lines'])} lines): ratio {r['ratio_full_to_decode']:.2f}"
                + (
                    f" (GC tuned; default GC {_n(r['by_gc']['default']['lines_per_s'])}/s)"
                    if "by_gc" in r else ""
                ),
                ">= 0.50", _met(r["met"]),
            ))  # fmt: skip
        elif name == "live":
            one, two, raw = r["one_worker"], r["two_workers"], r["passthrough"]
            out.append((
                "2 live throughput",
                f"1 worker {_n(one['events_per_s'])}/s (steady {_n(one['steady_events_per_s'])}) "
                f"vs pass-through {_n(raw['events_per_s'])}/s: ratio "
                f"{r['ratio_one_worker_to_passthrough']:.3f}; 2 workers "
                f"{_n(two['events_per_s'])}/s ({_n(r['events'])} events){_stalled(one, two)}",
                ">= 15,000/s per worker", _met(r["met"]),
            ))  # fmt: skip
        elif name == "latency":
            out.append((
                "3 breach latency, idle feed",
                f"p50 {_n(r.get('p50_seconds'), 2)} s, p99 {_n(r.get('p99_seconds'), 2)} s, max "
                f"{_n(r.get('max_seconds'), 2)} s over {_n(r['breached_alerts'])} of "
                f"{_n(r['deadlines'])} deadlines (tick {r['tick_interval_seconds']:g} s, grace 0)",
                f"p99 <= {r['target_p99_seconds']:g} s", _met(r["met"]),
            ))  # fmt: skip
        elif name == "memory":
            for key, label in (
                ("engine", "engine"),
                ("worker_memory_store", "worker, memory store"),
                ("worker_rocksdb_store", "worker, RocksDB store"),
            ):
                m = r[key]
                out.append((
                    f"4 open obligations/GiB: {label}",
                    f"{_n(m['open_obligations_per_gib'])} per GiB "
                    f"({_n(m['bytes_per_open_obligation'])} B each, "
                    f"{_n(m['open_obligations'])} measured)",
                    ">= 1,000,000", _met(m["met"]),
                ))  # fmt: skip
        elif name == "recovery":
            for store in ("rocksdb", "memory"):
                m = r[store]
                restart = m["restart"]
                cold = m.get("cold_start")
                out.append((
                    f"5 recovery, {store} store",
                    f"{_n(m['open_obligations'])} open: ready in "
                    f"{_n(restart['seconds_to_ready'], 1)} s, first due alert "
                    f"{_n(restart.get('seconds_to_first_due_alert'), 1)} s, lost "
                    f"{m['lost_alerts']}, duplicated {m['duplicated_alerts']}"
                    + (f" (cold start: ready {_n(cold['seconds_to_ready'], 1)} s)" if cold else ""),
                    "<= 60 s to ready, 0 lost", _met(m["met"]),
                ))  # fmt: skip
        elif name == "catchup":
            for key in ("one_worker", "two_workers"):
                m = r[key]
                out.append((
                    f"6 catch-up, {m['workers']} worker(s)",
                    f"{_n(r['slice_events'])} events drained in "
                    f"{_n(m['seconds_restart_to_drained'])} s ({_n(m['events_per_s'])}/s); "
                    f"national day (1.7M) extrapolated ~"
                    f"{_n(m['extrapolated_minutes_for_national_day'], 1)} min{_stalled(m)}",
                    "(no target)", "-",
                ))  # fmt: skip
    return out


def render(table: Sequence[tuple[str, str, str, str]]) -> str:
    header = ("measurement", "result", "target", "met")
    widths = [max(len(row[i]) for row in (header, *table)) for i in range(4)]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join(
        [line.format(*header), line.format(*("-" * w for w in widths))]
        + [line.format(*row) for row in table]
    )


def markdown(table: Sequence[tuple[str, str, str, str]]) -> str:
    """The table as Markdown (for docs/benchmarks.md)."""
    lines = ["| measurement | result | target | met |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in table]
    return "\n".join(lines)


def main(
    selected: Sequence[str],
    *,
    quick: bool,
    out: Path = DEFAULT_OUT,
    bootstrap: str | None = None,
    profile: bool = True,
) -> dict[str, Any]:
    """Run `selected` measurements in the canonical order; return and write the results."""
    unknown = sorted(set(selected) - set(MEASUREMENTS))
    if unknown:
        msg = f"unknown measurement(s) {', '.join(unknown)}; choose from {', '.join(MEASUREMENTS)}"
        raise ValueError(msg)
    chosen = [m for m in MEASUREMENTS if m in selected] if selected else list(MEASUREMENTS)
    started = time.monotonic()
    document: dict[str, Any] = {
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "mode": "quick" if quick else "full",
        "command": "ncrs-monitor bench"
        + (" --quick" if quick else "")
        + "".join(f" --only {m}" for m in (chosen if selected else [])),
        "machine": machine(),
        "source": source_version(),
        "results": {},
    }
    # aiokafka retries NotLeaderForPartition right after a topic is created; not a finding.
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    broker = Broker(external=bootstrap)
    # SIGTERM ends the run through the `finally` below: workers and the broker are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        if NEEDS_BROKER & set(chosen):
            broker.start()
        for name in chosen:
            log(f"=== {name} ===")
            document["results"][name] = _run_one(name, broker, quick, profile)
    finally:
        for worker in list(RUNNING):
            worker.stop()
        broker.stop()
        document["wall_seconds"] = round(time.monotonic() - started, 1)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(document, indent=2) + "\n")
    print(render(rows(document["results"])))
    print(f"total {document['wall_seconds'] / 60:.1f} min; wrote {out}")
    return document


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", action="append", default=[], choices=MEASUREMENTS)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--bootstrap")
    parser.add_argument(
        "--markdown", type=Path, metavar="RESULTS", help="Only print RESULTS as a Markdown table."
    )
    args = parser.parse_args()
    if args.markdown:
        print(markdown(rows(json.loads(args.markdown.read_text())["results"])))
    else:
        main(args.only, quick=args.quick, out=args.out, bootstrap=args.bootstrap)
