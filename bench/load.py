"""Background plant traffic from its own process: sensor readings to Kafka at a steady rate.

`python -m bench.load --bootstrap HOST:PORT --sensor-topic T --equipment-topic T --rate 1000`
prints `STARTED`, produces until `--duration` passes or a line `quit` arrives on stdin, then prints
one JSON line: how many events it sent and at what achieved rate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

from shopfloor.events.codec import encode_structured
from shopfloor.simulator.sensors import SENSORS, SensorTraffic

TICK = 0.01


async def produce(args: argparse.Namespace) -> dict[str, float]:
    from aiokafka import AIOKafkaProducer

    traffic = SensorTraffic(args.equipment_topic, args.sensor_topic, rate=args.rate, seed=7)
    producer = AIOKafkaProducer(
        bootstrap_servers=args.bootstrap, linger_ms=5, acks=1, max_batch_size=256 * 1024
    )
    await producer.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_reader(sys.stdin.fileno(), lambda: stop.set() if "quit" in sys.stdin.readline() else None)
    print("STARTED", flush=True)
    sent, credit = 0, 0.0
    started = last = time.monotonic()
    from datetime import UTC, datetime

    try:
        while not stop.is_set() and time.monotonic() - started < args.duration:
            now_mono = time.monotonic()
            credit += args.rate * (now_mono - last)
            last = now_mono
            now = datetime.now(UTC)
            while credit >= len(SENSORS):
                credit -= len(SENSORS)
                for item in traffic.step(now):
                    value, headers = encode_structured(item.event)
                    await producer.send(item.topic, value, key=item.key.encode(), headers=headers)
                    sent += 1
            await asyncio.sleep(TICK)
        await producer.flush()
    finally:
        await producer.stop()
    elapsed = time.monotonic() - started
    return {"sent": sent, "elapsed_s": round(elapsed, 2), "rate": round(sent / elapsed, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--sensor-topic", required=True)
    parser.add_argument("--equipment-topic", required=True)
    parser.add_argument("--rate", type=float, required=True, help="events per second")
    parser.add_argument("--duration", type=float, default=3600, help="seconds (upper bound)")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(produce(args))), flush=True)


if __name__ == "__main__":
    main()
