"""One worker's load rate and RSS with and without garbage-collector tuning, side by side.

    python -m bench.gc_worker --bootstrap 127.0.0.1:19092 --count 150000 --pairs 2

Runs measurement 4's worker part (`memory_bench.worker`, memory store: `--count` incidents, each
an open REC-24H obligation, produced and processed by a fresh `ncrs-monitor worker`) alternately
with the worker as shipped (tuned) and with `bench/nogc` on its PYTHONPATH (CPython's defaults),
the order swapped in every other pair. Unique topics and app ids per run, so a shared broker will
do. Prints one JSON line per run.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from bench import memory_bench
from bench.kit import Broker

NOGC = Path(__file__).resolve().parent / "nogc"


def main() -> None:
    """Run the pairs and print their figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:19092")
    parser.add_argument("--count", type=int, default=150_000)
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/ncrs-bench-work/gc-worker"))
    args = parser.parse_args()
    broker = Broker(external=args.bootstrap)
    path = os.environ.get("PYTHONPATH", "")
    for pair in range(args.pairs):
        for mode in ("default", "tuned") if pair % 2 == 0 else ("tuned", "default"):
            nogc = [str(NOGC)] if mode == "default" else []
            os.environ["PYTHONPATH"] = os.pathsep.join([*nogc, *filter(None, [path])])
            result = memory_bench.worker(broker, args.workdir / mode, "memory://", args.count)
            print(json.dumps({"pair": pair, "gc": mode, "count": args.count, **result}), flush=True)
    os.environ["PYTHONPATH"] = path


if __name__ == "__main__":
    main()
