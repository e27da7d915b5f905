"""Where the hub's own CPU per state message goes, without a broker (docs/performance.md).

    .venv/bin/python -m bench.ingest_breakdown [--messages 100000] [--devices 50] [--postgres URL]

A real hub (SQLite in a scratch directory, or a scratch PostgreSQL database) with its
devices handshaken; prepared state messages are handed to the router the way the pump does
(``TopicRouter.deliver`` with an acknowledgement callback), 1000 at a time (the broker's
in-flight window), and each window is then committed. Process CPU time (all threads, so
SQLite's own thread counts) is measured for:

- **handle**: routing, payload checks, ``orjson.loads``, ``report_state`` (memory, seq
  check, queueing the history row and the latest state), firing ``device_state_changed``
  to the listeners a running hub has, and registering the ack for the commit;
- of which **listeners**: the same events fired alone to the hub's real listeners;
- **commit**: the batch writer's flush of that window (one transaction, executemany);
- **ack release**: calling the 1000 ack callbacks (here no-ops; paho's PUBACK write is in
  the broker benchmark's remainder).

The rest of the hub's CPU per message in ``bench.mqtt_ingest`` is paho, aiomqtt's socket
callbacks and the event loop, which the bare subscriber pays as well.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
from pathlib import Path

import orjson

from bench.mqtt_ingest import device_ids, scratch_database, write_hub_config
from hub import events
from hub.core import Hub
from hub.registrar import MqttMessage
from hub.testing import static_auth
from plugins.mqtt_devices import runtime_for

WINDOW = 1000


async def measure(args: argparse.Namespace, database_url: str | None) -> None:
    with tempfile.TemporaryDirectory(prefix="hub-breakdown-") as scratch:
        config_dir = Path(scratch) / "hub"
        # Nothing answers here: the hub runs with mqtt_devices waiting for its broker.
        write_hub_config(config_dir, "mqtt://127.0.0.1:9", database_url)
        hub = Hub(config_dir, extra_integrations={"static_auth": static_auth})
        await hub.start()
        try:
            runtime = runtime_for(hub)
            assert runtime is not None
            devices = []
            for external_id in device_ids(args.devices):
                devices.append(
                    await hub.devices.handshake(external_id, device_type="bench", transport="mqtt")
                )
            messages = [
                MqttMessage(
                    f"station/bench/device/{devices[n % len(devices)].external_id}/state",
                    orjson.dumps({"seq": n, "temperature": 20 + n % 100 / 10, "n": n}),
                    1,
                    False,
                )
                for n in range(args.messages)
            ]
            acks = 0

            def ack() -> None:
                nonlocal acks
                acks += 1

            handle = commit = 0.0
            for start in range(0, len(messages), WINDOW):
                began = time.process_time()
                for message in messages[start : start + WINDOW]:
                    runtime.router.deliver(message, ack)
                handled = time.process_time()
                await hub.devices.flush()
                handle += handled - began
                commit += time.process_time() - handled
            assert acks == len(messages), (acks, len(messages))
            # The listeners alone, with the same kind of data.
            device = devices[0]
            began = time.process_time()
            for n in range(args.messages):
                data: events.DeviceStateChangedData = {
                    "deviceId": device.id,
                    "externalId": device.external_id,
                    "state": {"n": n},
                    "oldState": {},
                }
                hub.bus.fire(events.DEVICE_STATE_CHANGED, data)
            listeners = time.process_time() - began
            began = time.process_time()
            for _ in range(args.messages):
                ack()
            release = time.process_time() - began
            await hub.bus.drain()
            count = hub.bus.listener_count(events.DEVICE_STATE_CHANGED)
        finally:
            await hub.stop()
    per = 1e6 / args.messages
    where = "PostgreSQL" if database_url else "SQLite"
    print(f"{args.messages} state messages, {args.devices} devices, {where}:")
    print(
        f"  handle (route, check, parse, report_state, events, ack registration): "
        f"{handle * per:5.1f} us"
    )
    print(
        f"    of which device_state_changed to the hub's {count} listeners: "
        f"{listeners * per:5.1f} us"
    )
    print(f"  commit (history row + latest state, batches of {WINDOW}): {commit * per:5.1f} us")
    print(f"  ack release (callbacks only): {release * per:5.1f} us")
    print(f"  total hub-side: {(handle + commit + release) * per:5.1f} us per message")


async def main(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.ERROR)
    async with scratch_database(args.postgres) as database_url:
        await measure(args, database_url)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument("--postgres", metavar="URL")
    asyncio.run(main(parser.parse_args()))
