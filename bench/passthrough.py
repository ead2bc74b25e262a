"""The baseline beside the worker: raw aiokafka consume -> decode -> produce, nothing else.

Consumes the input topics with its own consumer group, decodes every value with the same
`decode_event` the worker uses (pydantic validation of the contract), produces the raw value to
one output topic, awaits delivery of the batch and only then commits, the same ordering the
worker keeps. No rules, no state, no alerts: the ceiling a worker on this client could reach.

    python -m bench.passthrough --bootstrap H:P --group G --out TOPIC --expect N TOPIC...

Prints one JSON object: events, seconds (first fetched batch to last commit), events_per_s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from schemas.registry import DecodeError, decode_event


async def run(bootstrap: str, group: str, topics: list[str], out: str, expect: int) -> dict:
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=5)
    await consumer.start()
    await producer.start()
    done = 0
    bad = 0
    first: float | None = None
    try:
        while done < expect:
            batches = await consumer.getmany(timeout_ms=1000, max_records=2000)
            if not batches:
                continue
            first = first or time.perf_counter()
            pending = []
            for msgs in batches.values():
                for msg in msgs:
                    try:
                        decode_event(msg.value)
                    except DecodeError:
                        bad += 1
                    pending.append(await producer.send(out, msg.value, key=msg.key))
                    done += 1
            await asyncio.gather(*pending)
            await consumer.commit()
        elapsed = time.perf_counter() - (first or time.perf_counter())
    finally:
        await producer.stop()
        await consumer.stop()
    return {
        "events": done,
        "undecodable": bad,
        "seconds": round(elapsed, 3),
        "events_per_s": round(done / elapsed) if elapsed else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--expect", type=int, required=True)
    parser.add_argument("topics", nargs="+")
    args = parser.parse_args()
    result = asyncio.run(run(args.bootstrap, args.group, args.topics, args.out, args.expect))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
