"""End-to-end latency: a device publishes state → a WebSocket API client sees the event.

    .venv/bin/python -m bench.mqtt_latency [--messages 3000] [--rate 500] [--devices 20]
        [--subscribers 1] [--coalesce]

Mosquitto runs with config/mosquitto.conf, the hub in its own process (bench/run_hub.py),
the publisher and the WebSocket subscribers here (``--subscribers``, each its own
connection, all counted). Each state carries its send time
(``time.time_ns()``, one clock for all processes on the machine); the latency is the
WebSocket arrival time minus that. Messages are paced at ``--rate`` per second.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import aiomqtt
import orjson

from bench.mqtt_ingest import STATION, device_ids, state_topic, write_hub_config
from plugins.mqtt_devices.testing import RecommendedMosquitto

TOKEN = "bench"


async def start_hub_process(config_dir: Path) -> tuple[asyncio.subprocess.Process, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.run_hub", str(config_dir), stdout=subprocess.PIPE
    )
    assert process.stdout is not None
    async with asyncio.timeout(30):
        while True:
            line = (await process.stdout.readline()).decode()
            if not line:
                raise RuntimeError("the hub process exited before it was ready")
            if line.startswith("READY "):
                return process, line.split()[1]


async def handshake_all(client: aiomqtt.Client, devices: list[str]) -> None:
    await client.subscribe(f"station/{STATION}/device/+/handshake/ack", qos=1)
    for external_id in devices:
        await client.publish(
            f"station/{STATION}/device/{external_id}/handshake",
            orjson.dumps({"deviceType": "bench"}),
            qos=1,
        )
    acked = 0
    async with asyncio.timeout(30):
        async for _message in client.messages:
            acked += 1
            if acked == len(devices):
                return


async def subscribe(
    session: aiohttp.ClientSession, http_url: str, coalesce: bool
) -> aiohttp.ClientWebSocketResponse:
    """One WebSocket API client subscribed to device_state_changed (coalescing if asked,
    as home-assistant-js-websocket always asks)."""
    socket = await session.ws_connect(f"{http_url}/api/websocket")
    assert (await socket.receive_json())["type"] == "auth_required"
    await socket.send_json({"type": "auth", "access_token": TOKEN})
    assert (await socket.receive_json())["type"] == "auth_ok"
    if coalesce:
        await socket.send_json(
            {"id": 1, "type": "supported_features", "features": {"coalesce_messages": 1}}
        )
        assert (await socket.receive_json())["success"] is True
    await socket.send_json(
        {"id": 2, "type": "subscribe_events", "event_type": "device_state_changed"}
    )
    assert (await socket.receive_json())["success"] is True
    return socket


async def measure(args: argparse.Namespace, port: int, http_url: str) -> list[float]:
    devices = device_ids(args.devices)
    latencies: list[float] = []
    expected = args.messages * args.subscribers
    done = asyncio.Event()
    async with aiohttp.ClientSession() as session:
        sockets = [
            await subscribe(session, http_url, args.coalesce) for _ in range(args.subscribers)
        ]

        async def listen(socket: aiohttp.ClientWebSocketResponse) -> None:
            async for message in socket:
                arrived = time.time_ns()
                frames = orjson.loads(message.data)
                for frame in frames if isinstance(frames, list) else (frames,):
                    sent = frame["event"]["data"]["state"].get("sentAt")
                    if sent is not None:
                        latencies.append((arrived - sent) / 1e6)
                if len(latencies) >= expected:
                    done.set()

        listeners = [asyncio.ensure_future(listen(socket)) for socket in sockets]
        async with aiomqtt.Client("127.0.0.1", port) as publisher:
            await handshake_all(publisher, devices)
            period = 1 / args.rate
            start = time.perf_counter()
            for index in range(args.messages):
                # Pace against the schedule, not the previous send, so delays do not add up.
                delay = start + index * period - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                body = {"seq": index, "sentAt": time.time_ns()}
                await publisher.publish(
                    state_topic(devices[index % len(devices)]), orjson.dumps(body), qos=1
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), 10)
        for listener in listeners:
            listener.cancel()
        for socket in sockets:
            await socket.close()
    return latencies


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def main(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="hub-latency-") as scratch:
        broker = RecommendedMosquitto(Path(scratch) / "broker")
        broker.start()
        process = None
        try:
            config_dir = Path(scratch) / "hub"
            write_hub_config(config_dir, broker.url)
            process, http_url = await start_hub_process(config_dir)
            latencies = await measure(args, broker.port, http_url)
        finally:
            if process is not None:
                process.terminate()
                await process.wait()
            broker.stop()
    if not latencies:
        print("no events arrived")
        return 1
    print(
        f"{len(latencies)}/{args.messages * args.subscribers} events ({args.messages} state "
        f"messages at {args.rate:g}/s over {args.devices} devices, {args.subscribers} "
        f"WebSocket subscribers{', coalescing' if args.coalesce else ''}): publish -> event p50 {statistics.median(latencies):.2f} ms, "
        f"p90 {percentile(latencies, 0.90):.2f} ms, p99 {percentile(latencies, 0.99):.2f} ms, "
        f"max {max(latencies):.2f} ms"
    )
    return 0 if len(latencies) == args.messages * args.subscribers else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--devices", type=int, default=20)
    parser.add_argument("--subscribers", type=int, default=1, help="WebSocket API clients")
    parser.add_argument(
        "--coalesce", action="store_true", help="clients ask for coalesce_messages, as HA's do"
    )
    raise SystemExit(asyncio.run(main(parser.parse_args())))
