"""Live drain rate of two revisions of the worker, side by side on one backlog (A/B).

A change to the live path (an awaited write, a codec) is judged by a ratio measured in one run,
not by figures from different days on a shared machine. Both revisions are exported with
`git archive` into a temporary directory; each drain starts one `ncrs-monitor worker` whose
PYTHONPATH puts that revision first (a `sitecustomize` drops the project's editable-install
finder, which would otherwise win over PYTHONPATH). The drains alternate A B, B A, ... on the
same pre-loaded backlog, each with its own consumer group, and are timed from ready to the
group's committed offsets reaching the end of the inputs and side topics, as in live_bench.py.

    python -m bench.ab_live --a 5db9b81 --b HEAD --bootstrap 127.0.0.1:19092 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bench.kit import ROOT, Fleet, input_topics, log, start_workers, stop_workers, wait_drained
from bench.live_bench import _backlog

DROP_EDITABLE_FINDER = """\
import sys

sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
"""


def export(revision: str, into: Path) -> Path:
    """The tree of `revision` under `into` (a git archive, no work-tree changes)."""
    into.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", revision], check=True, capture_output=True
    )
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def drain(base: Fleet, tree: Path, hooks: Path, run: str, events: int) -> dict[str, Any]:
    """One worker of the revision in `tree` drains the backlog of `base` from the start."""
    fleet = Fleet(
        base.bootstrap,
        base.label,
        uid=base.uid,
        run=run,
        workdir=base.workdir,
        extra_env={"PYTHONPATH": f"{hooks}:{tree}"},
    )
    worker = fleet.worker("w1")
    try:
        ready = max(start_workers([worker]))
        progress = wait_drained(fleet, input_topics(fleet), 1800)
    finally:
        stop_workers([worker])
    steady = progress.rate_between(0.1, 0.9, events)
    return {
        "events_per_s": round(events / (progress.done_at - ready)),
        "steady_events_per_s": round(steady) if steady else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a", required=True, help="git revision A (e.g. the parent commit)")
    parser.add_argument("--b", required=True, help="git revision B (e.g. HEAD)")
    parser.add_argument("--bootstrap", default="127.0.0.1:19092")
    parser.add_argument("--incidents", type=int, default=20_000, help="incidents in the backlog")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ncrs-ab-") as tmp:
        work = Path(tmp)
        hooks = work / "hooks"
        hooks.mkdir()
        (hooks / "sitecustomize.py").write_text(DROP_EDITABLE_FINDER)
        trees = {"a": export(args.a, work / "a"), "b": export(args.b, work / "b")}
        base = Fleet(args.bootstrap, "ab", workdir=work / "workers")
        base.create_topics()
        runs: dict[str, list[dict[str, Any]]] = {"a": [], "b": []}
        try:
            events = _backlog(base, args.incidents, 1, seed=21)
            for n in range(args.rounds):
                for side in ("a", "b") if n % 2 == 0 else ("b", "a"):
                    figures = drain(base, trees[side], hooks, f"-{side}{n}", events)
                    runs[side].append(figures)
                    log(f"{side} round {n}: {figures}")
        finally:
            base.delete_topics()
    mean = {s: statistics.mean(r["events_per_s"] for r in runs[s]) for s in runs}
    print(
        json.dumps(
            {
                "a": args.a,
                "b": args.b,
                "events": events,
                "runs": runs,
                "mean_events_per_s": {s: round(v) for s, v in mean.items()},
                "ratio_b_to_a": round(mean["b"] / mean["a"], 3),
            }
        )
    )


if __name__ == "__main__":
    main()
