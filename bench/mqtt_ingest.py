"""Ingest rate of the hub's MQTT path against a bare aiomqtt subscriber (docs/performance.md).

    .venv/bin/python -m bench.mqtt_ingest [--messages 50000] [--devices 50] [--rounds 3]

Both subscribers drain the same burst from the same Mosquitto (started here with
config/mosquitto.conf) in the same run:

1. Each subscriber opens its persistent session once (the hub also handshakes the devices)
   and goes away.
2. A publisher sends N distinct QoS 1 state messages; Mosquitto queues them for both.
3. The bare subscriber (aiomqtt ``async for message in client.messages`` + ``orjson.loads``)
   connects and drains them: rate = messages / (last - first arrival).
4. The hub (started in-process, SQLite in a scratch dir) connects and drains them:
   state → memory → ``device_state_changed`` → batched history rows; the clock stops when
   the last message changed a device *and* every history row is in SQLite.

The order of 3 and 4 alternates between rounds; the median of the rounds is reported,
together with a zero-loss check (every message arrived, every history row written).
``--defaults`` runs the same burst against Mosquitto's default queue settings instead;
``--postgres URL`` gives the hub a fresh database on that server (created and dropped here,
e.g. ``postgresql+asyncpg://postgres@127.0.0.1:5432/``) instead of SQLite.

The hub acknowledges each QoS 1 message only after its history row is committed (the bare
subscriber acknowledges on receipt), so the hub's rate includes its commits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiomqtt
import orjson
import sqlalchemy as sa
import yaml

from hub.core import Hub
from hub.db import tables
from hub.testing import static_auth
from plugins.mqtt_devices import runtime_for
from plugins.mqtt_devices.testing import RecommendedMosquitto

STATION = "bench"
STATE_FILTER = "station/+/device/+/state"
BARE_ID = "bench-bare-subscriber"
QUIET_AFTER = 5.0


def device_ids(count: int) -> list[str]:
    return [f"dev-{index:04d}" for index in range(count)]


def state_topic(external_id: str) -> str:
    return f"station/{STATION}/device/{external_id}/state"


def write_hub_config(config_dir: Path, broker_url: str, database_url: str | None = None) -> None:
    config_dir.mkdir(parents=True, exist_ok=True)
    database = {"url": database_url} if database_url else {}
    config = {
        "hub": {
            "station_id": STATION,
            "http": {"host": "127.0.0.1", "port": 0},
            "log_level": "warning",
            "database": database,
        },
        "static_auth": {"users": {"bench": "owner"}},
        # Every bench device handshakes at once: lift the new-device rate limit.
        "mqtt_devices": {"broker": broker_url, "new_devices_per_minute": 100_000},
    }
    (config_dir / "configuration.yaml").write_text(yaml.safe_dump(config))


async def start_hub(config_dir: Path) -> Hub:
    hub = Hub(config_dir, extra_integrations={"static_auth": static_auth})
    await hub.start()
    runtime = runtime_for(hub)
    if runtime is None or runtime.connection is None:
        raise RuntimeError(f"mqtt_devices did not start: {hub.integrations['mqtt_devices'].error}")
    await asyncio.wait_for(runtime.connection.wait_for_session(1), 10)
    return hub


def connect(port: int, identifier: str | None = None, **options: Any) -> aiomqtt.Client:
    client = aiomqtt.Client(
        "127.0.0.1", port, identifier=identifier, max_inflight_messages=1000, **options
    )
    client.pending_calls_threshold = 1_000_000
    return client


async def prepare(port: int, config_dir: Path, devices: list[str]) -> None:
    """Create both persistent sessions and the hub's devices, then leave."""
    async with connect(port, BARE_ID, clean_session=False) as bare:
        await bare.subscribe(STATE_FILTER, qos=1)
    hub = await start_hub(config_dir)
    try:
        async with connect(port) as device:
            await device.subscribe(f"station/{STATION}/device/+/handshake/ack", qos=1)
            for external_id in devices:
                await device.publish(
                    f"station/{STATION}/device/{external_id}/handshake",
                    orjson.dumps({"deviceType": "bench", "firmware": "1"}),
                    qos=1,
                )
            acked = 0
            async for _message in device.messages:
                acked += 1
                if acked == len(devices):
                    break
    finally:
        await hub.stop()


async def publish_burst(port: int, devices: list[str], count: int, round_number: int) -> float:
    """Publish ``count`` distinct QoS 1 states; returns the publisher's own rate."""
    started = time.perf_counter()
    async with connect(port) as publisher:
        window: list[asyncio.Future[None]] = []
        for index in range(count):
            external_id = devices[index % len(devices)]
            payload = orjson.dumps(
                {
                    "round": round_number,
                    "seq": round_number * count + index,
                    "temperature": 20 + (index % 100) / 10,
                    "humidity": 40 + index % 7,
                    "relay": index % 2 == 0,
                }
            )
            window.append(
                asyncio.ensure_future(publisher.publish(state_topic(external_id), payload, qos=1))
            )
            if len(window) >= 500:
                await asyncio.gather(*window)
                window.clear()
        await asyncio.gather(*window)
    return count / (time.perf_counter() - started)


class Drain:
    """Wall-clock and process CPU time from the first message to the last."""

    def __init__(self) -> None:
        self.count = 0
        self.first = self.last = self.cpu_first = self.cpu_last = 0.0

    def start(self) -> None:
        self.first, self.cpu_first = time.perf_counter(), time.process_time()

    def stop(self) -> None:
        self.last, self.cpu_last = time.perf_counter(), time.process_time()

    @property
    def rate(self) -> float:
        """Messages per second; 0 when the drain did not complete (messages were lost)."""
        if self.count < 2 or self.last <= self.first:
            return 0.0
        return (self.count - 1) / (self.last - self.first)

    @property
    def cpu_per_message(self) -> float:
        """Microseconds of this process's CPU (all threads) per message."""
        if self.cpu_last <= self.cpu_first:
            return 0.0
        return (self.cpu_last - self.cpu_first) / max(1, self.count - 1) * 1e6


async def until_done_or_quiet(drain: Drain, finished: asyncio.Future[Any]) -> bool:
    """Wait for ``finished``; give up once no message arrived for QUIET_AFTER seconds.

    A watchdog instead of a per-message timer keeps both subscribers' loops untouched.
    """
    seen = -1
    while drain.count != seen:
        seen = drain.count
        await asyncio.wait({finished}, timeout=QUIET_AFTER)
        if finished.done():
            return True
    return False


async def drain_bare(port: int, count: int) -> Drain:
    """The reference: aiomqtt's message iterator and orjson, nothing else."""
    drain = Drain()

    async def consume(client: aiomqtt.Client) -> None:
        async for message in client.messages:
            orjson.loads(message.payload)
            drain.count += 1
            if drain.count == 1:
                drain.start()
            if drain.count == count:
                drain.stop()
                return

    async with connect(port, BARE_ID, clean_session=False) as client:
        consumer = asyncio.ensure_future(consume(client))
        if not await until_done_or_quiet(drain, consumer):
            consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await consumer
    return drain


async def drain_hub(config_dir: Path, count: int) -> tuple[Drain, int]:
    """The hub's path, until the last state is applied and its history row is in SQLite."""
    done = asyncio.Event()
    drain = Drain()

    def on_change(_event: Any) -> None:
        drain.count += 1
        if drain.count == 1:
            drain.start()
        if drain.count == count:
            done.set()

    async def run() -> Hub:
        hub = Hub(config_dir, extra_integrations={"static_auth": static_auth})
        hub.bus.listen("device_state_changed", on_change)
        await hub.start()
        return hub

    starting = asyncio.ensure_future(run())
    complete = await until_done_or_quiet(drain, asyncio.ensure_future(done.wait()))
    hub = await starting
    await hub.devices.flush()
    if complete:
        drain.stop()
    async with hub.db.require_engine().connect() as connection:
        rows = (
            await connection.execute(
                sa.select(sa.func.count()).select_from(tables.device_state_history)
            )
        ).scalar_one()
    runtime = runtime_for(hub)
    dropped = runtime.drops.total if runtime else -1
    await hub.stop()
    if dropped:
        print(f"  hub dropped {dropped} messages: {runtime.drops.counts if runtime else ''}")
    return drain, rows


def print_rates(
    args: argparse.Namespace,
    bare_rates: list[float],
    hub_rates: list[float],
    bare_cpu: list[float],
    hub_cpu: list[float],
) -> None:
    bare = statistics.median(bare_rates)
    hub = statistics.median(hub_rates)
    ratios = [h / b for h, b in zip(hub_rates, bare_rates, strict=True)]
    print(
        f"\nmedian of {args.rounds} rounds, {args.messages} messages, {args.devices} devices:"
        f"\n  wall clock: bare aiomqtt {bare:.0f} msg/s, hub {hub:.0f} msg/s, "
        f"ratio {hub / bare:.2f} (median of per-round ratios {statistics.median(ratios):.2f}; "
        f"target >= 0.90)"
        f"\n  cpu per message: bare {statistics.median(bare_cpu):.1f} us, "
        f"hub {statistics.median(hub_cpu):.1f} us (all threads, history writes included), "
        f"ratio {statistics.median(bare_cpu) / statistics.median(hub_cpu):.2f}"
    )


@contextlib.asynccontextmanager
async def scratch_database(server_url: str | None) -> AsyncIterator[str | None]:
    """A new, empty PostgreSQL database on ``server_url`` for one run, dropped afterwards."""
    if server_url is None:
        yield None
        return
    import asyncpg  # type: ignore[import-untyped]  # only for --postgres; asyncpg ships no types

    plain = server_url.replace("postgresql+asyncpg://", "postgresql://").rstrip("/")
    name = f"hub_bench_{os.getpid()}"
    admin = await asyncpg.connect(f"{plain}/postgres")
    try:
        await admin.execute(f"CREATE DATABASE {name}")
        try:
            yield f"{server_url.rstrip('/')}/{name}"
        finally:
            await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await admin.close()


async def main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING)
    async with scratch_database(args.postgres) as database_url:
        return await run(args, database_url)


async def run(args: argparse.Namespace, database_url: str | None) -> int:
    devices = device_ids(args.devices)
    with tempfile.TemporaryDirectory(prefix="hub-bench-") as scratch:
        broker = RecommendedMosquitto(Path(scratch) / "broker", defaults=args.defaults)
        broker.start()
        try:
            config_dir = Path(scratch) / "hub"
            write_hub_config(config_dir, broker.url, database_url)
            await prepare(broker.port, config_dir, devices)
            bare_rates: list[float] = []
            hub_rates: list[float] = []
            bare_cpu: list[float] = []
            hub_cpu: list[float] = []
            missing = {"bare": 0, "hub": 0, "history": 0}
            history_before = 0
            for round_number in range(args.rounds):
                published = await publish_burst(broker.port, devices, args.messages, round_number)
                order = ("bare", "hub") if round_number % 2 == 0 else ("hub", "bare")
                results: dict[str, str] = {}
                for which in order:
                    if which == "bare":
                        drain = await drain_bare(broker.port, args.messages)
                        bare_rates.append(drain.rate)
                        bare_cpu.append(drain.cpu_per_message)
                        missing["bare"] += args.messages - drain.count
                        results["bare"] = (
                            f"bare {drain.rate:6.0f} msg/s {drain.cpu_per_message:5.1f} us cpu/msg "
                            f"({drain.count} received)"
                        )
                    else:
                        drain, rows = await drain_hub(config_dir, args.messages)
                        hub_rates.append(drain.rate)
                        hub_cpu.append(drain.cpu_per_message)
                        written = rows - history_before
                        history_before = rows
                        missing["hub"] += args.messages - drain.count
                        missing["history"] += args.messages - written
                        results["hub"] = (
                            f"hub {drain.rate:6.0f} msg/s {drain.cpu_per_message:5.1f} us cpu/msg "
                            f"({drain.count} applied, {written} history rows)"
                        )
                ratio = hub_rates[-1] / bare_rates[-1] if bare_rates[-1] else 0.0
                print(
                    f"round {round_number + 1}: publisher {published:7.0f} msg/s | "
                    f"{results['bare']} | {results['hub']} | ratio {ratio:.2f}"
                )
            if all(bare_rates) and all(hub_rates):
                print_rates(args, bare_rates, hub_rates, bare_cpu, hub_cpu)
            else:
                print("\nmessages were lost, so no rates are reported (see below)")
            config = "Mosquitto defaults for queues" if args.defaults else "config/mosquitto.conf"
            total = args.messages * args.rounds
            print(
                f"loss with {config}: bare subscriber missed {missing['bare']} of {total}, "
                f"hub missed {missing['hub']} of {total}, "
                f"history rows missing {missing['history']} of {total}"
            )
            lost = sum(missing.values())
            return 0 if (args.defaults or lost == 0) else 1
        finally:
            broker.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--defaults", action="store_true", help="use Mosquitto's default queue settings"
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="PostgreSQL server for the hub's database, e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/",
    )
    raise SystemExit(asyncio.run(main(parser.parse_args())))
