"""A hub as its own process (``station-hub run``), and its SQLite history read from outside.

Used by the crash tests: the hub must be a real process so that SIGKILL and SIGTERM do
to it exactly what they do in production. Readiness is the hub's retained ``online``
status on the broker; counts are read from the database file with the stdlib sqlite3,
polled against a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import orjson
import yaml

from hub.db.database import DATABASE_FILE
from tests.mqtt_devices.helpers import STATION, device_client, topic

WAIT = 60.0
ROOT = str(Path(__file__).resolve().parents[2])
POLL = 0.05
SLOW_HUB = Path(__file__).with_name("slow_hub.py")
# The installed console script, as an operator runs it.
STATION_HUB = str(Path(sys.executable).with_name("station-hub"))


def write_config(config_dir: Path, broker_url: str) -> None:
    config_dir.mkdir(parents=True, exist_ok=True)
    config = {
        "hub": {"station_id": STATION, "http": {"host": "127.0.0.1", "port": 0}},
        "mqtt_devices": {
            "broker": broker_url,
            "device_identities": "off",
            "reconnect": {"initial": 0.05, "maximum": 0.5, "jitter": 0.1},
        },
    }
    (config_dir / "configuration.yaml").write_text(yaml.safe_dump(config))


class HubProcess:
    """``station-hub run -c CONFIG`` (or the slowed variant), started and signalled."""

    def __init__(self, config_dir: Path, *, slow_history: float | None = None) -> None:
        self.config_dir = config_dir
        self.slow_history = slow_history
        self.process: asyncio.subprocess.Process | None = None
        self.flushing = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        self.output: list[str] = []

    async def start(self) -> None:
        if self.slow_history is None:
            command = [STATION_HUB, "run", "-c", str(self.config_dir)]
        else:
            command = [sys.executable, str(SLOW_HUB), str(self.slow_history), str(self.config_dir)]
        self.process = await asyncio.create_subprocess_exec(
            *command,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": ROOT},
        )
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        async for raw in self.process.stdout:
            line = raw.decode(errors="replace").rstrip()
            self.output.append(line)
            if "SLOW HISTORY INSERT" in line:
                self.flushing.set()

    def signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    async def wait(self, within: float = WAIT) -> int:
        assert self.process is not None
        code = await asyncio.wait_for(self.process.wait(), within)
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._reader, within)
        return code

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await self.wait()


@contextlib.asynccontextmanager
async def running_hub(config_dir: Path, **options: Any) -> AsyncIterator[HubProcess]:
    hub = HubProcess(config_dir, **options)
    await hub.start()
    try:
        yield hub
    finally:
        await hub.kill()


async def wait_online(broker_url: str, within: float = WAIT) -> None:
    """Until the hub's retained status says ``online`` (it is subscribed by then)."""
    status = f"station/{STATION}/hub/status"
    async with asyncio.timeout(within), device_client(broker_url) as watcher:
        await watcher.subscribe(status)
        while True:
            name, payload, _qos, _retain = await watcher.next_message(within)
            if name == status and payload == b"online":
                return


async def handshake_all(broker_url: str, devices: list[str]) -> None:
    async with device_client(broker_url) as device:
        for external_id in devices:
            await device.handshake(external_id)


async def publish_states(broker_url: str, devices: list[str], count: int) -> None:
    """``count`` distinct QoS 1 states; message ``n`` carries ``n`` and its device's ``seq``."""
    async with device_client(broker_url, max_inflight_messages=1000) as device:
        device.client.pending_calls_threshold = 1_000_000
        window = []
        for number in range(count):
            external_id = devices[number % len(devices)]
            body = {"n": number, "seq": number // len(devices), "relay": number % 2 == 0}
            window.append(
                device.client.publish(topic(external_id, "state"), orjson.dumps(body), qos=1)
            )
            if len(window) >= 500:
                await asyncio.gather(*window)
                window.clear()
        await asyncio.gather(*window)


def history_numbers(config_dir: Path) -> Counter[int]:
    """How many history rows each message number has (read-only, beside the running hub)."""
    path = config_dir / DATABASE_FILE
    if not path.exists():
        return Counter()
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        try:
            rows = db.execute("SELECT state FROM device_state_history").fetchall()
        except sqlite3.OperationalError:
            return Counter()  # the schema is not there yet
    return Counter(orjson.loads(state)["n"] for (state,) in rows)


async def wait_for_rows(config_dir: Path, at_least: int, within: float = WAIT) -> Counter[int]:
    """Poll the history until ``at_least`` distinct messages have rows, or the deadline."""
    deadline = time.monotonic() + within
    while True:
        numbers = history_numbers(config_dir)
        if len(numbers) >= at_least or time.monotonic() > deadline:
            return numbers
        await asyncio.sleep(POLL)


async def until(predicate: Callable[[], bool], within: float = WAIT) -> None:
    """Poll ``predicate`` until it holds; TimeoutError after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        if predicate():
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"still false after {within:g} s")
        await asyncio.sleep(POLL)
