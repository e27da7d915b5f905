"""Nothing acknowledged is lost: crashes, stops mid-flush, a slow database (issue #17).

Real parts throughout: Mosquitto with config/mosquitto.conf's queue and in-flight settings,
the hub as a ``station-hub run`` process for the signal tests, SQLite files. Every message
carries its number ``n``; the history is counted per number, so a loss or a double row
shows as exactly which message.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import create_async_engine

from hub.db import tables
from hub.db.batch_writer import BatchWriter
from plugins.mqtt_devices import runtime_for
from plugins.mqtt_devices.testing import RecommendedMosquitto, shipped_settings
from tests.mqtt_devices.helpers import device_client, topic
from tests.mqtt_devices.hub_process import (
    handshake_all,
    publish_states,
    running_hub,
    until,
    wait_for_rows,
    wait_online,
    write_config,
)
from tests.mqtt_devices.slow_hub import slow_rows

DEVICES = [f"crash-{index}" for index in range(10)]


@pytest.fixture
def recommended(tmp_path: Path):
    broker = RecommendedMosquitto(tmp_path / "broker")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def shipped_inflight() -> int:
    for line in shipped_settings().splitlines():
        if line.startswith("max_inflight_messages"):
            return int(line.split()[1])
    raise AssertionError("config/mosquitto.conf sets no max_inflight_messages")


def assert_each_once(numbers: dict[int, int], count: int) -> None:
    missing = [n for n in range(count) if n not in numbers]
    doubled = {n: rows for n, rows in numbers.items() if rows != 1}
    assert not missing, (
        f"{len(missing)} acknowledged messages never reached history: {missing[:10]}"
    )
    assert not doubled, f"{len(doubled)} messages have more than one history row"


async def prepare(recommended: RecommendedMosquitto, config_dir: Path) -> None:
    """The hub's persistent session and the devices exist; then the hub is gone."""
    write_config(config_dir, recommended.url)
    async with running_hub(config_dir) as hub:
        try:
            await wait_online(recommended.url)
        except TimeoutError:
            raise AssertionError("hub not online:\n" + "\n".join(hub.output[-30:])) from None
        await handshake_all(recommended.url, DEVICES)
        hub.signal(signal.SIGTERM)
        assert await hub.wait() == 0


async def test_kill_9_in_the_middle_of_a_drain_loses_no_acknowledged_message(
    recommended: RecommendedMosquitto, tmp_path: Path
) -> None:
    count = 40_000
    config_dir = tmp_path / "hub"
    await prepare(recommended, config_dir)
    # Queued at the broker while the hub is away, then drained: kill -9 at its first commit.
    await publish_states(recommended.url, DEVICES, count)
    async with running_hub(config_dir) as hub:
        partial = await wait_for_rows(config_dir, 1)
        assert len(partial) < count, "the drain finished before the kill; use more messages"
        await hub.kill()
    async with running_hub(config_dir):
        numbers = await wait_for_rows(config_dir, count)
    assert_each_once(numbers, count)


async def test_sigterm_in_the_middle_of_a_flush_loses_no_batch(
    recommended: RecommendedMosquitto, tmp_path: Path
) -> None:
    count = 6_000
    config_dir = tmp_path / "hub"
    await prepare(recommended, config_dir)
    await publish_states(recommended.url, DEVICES, count)
    # Every history row takes 1 ms longer: the signal lands inside a flush.
    async with running_hub(config_dir, slow_history=0.001) as hub:
        await asyncio.wait_for(hub.flushing.wait(), 60)
        hub.signal(signal.SIGTERM)
        assert await hub.wait() == 0, "\n".join(hub.output[-20:])
    async with running_hub(config_dir):
        numbers = await wait_for_rows(config_dir, count)
    assert_each_once(numbers, count)


async def test_a_slow_database_holds_the_broker_back_instead_of_dropping(
    start_hub, recommended: RecommendedMosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    count = 3_000
    hub = await start_hub(recommended.url, device_identities="off")
    runtime = runtime_for(hub)
    assert runtime is not None
    async with device_client(recommended.url) as device:
        await device.handshake("slow-1")
    # History rows wait at this gate, in SQLite's thread, until the test opens it.
    gate = threading.Event()
    engine = hub.db.require_engine()
    slow_rows(engine.sync_engine, lambda: gate.wait(60))
    await engine.dispose()  # pooled connections reopen with the slow trigger
    caplog.set_level(logging.WARNING, logger="plugins.mqtt_devices.pump")
    before = runtime.router.received
    try:
        async with device_client(recommended.url, max_inflight_messages=1000) as device:
            for number in range(count):
                await device.client.publish(
                    topic("slow-1", "state"), f'{{"n": {number}, "seq": {number}}}', qos=1
                )
        # Every message is at the broker now; the hub must have stopped taking them.
        await until(lambda: runtime.pump.held > 0)
        taken = runtime.router.received - before
        assert taken <= shipped_inflight() < count, runtime.pump.snapshot()
        assert runtime.drops.total == 0
        assert any("MQTT intake paused" in record.message for record in caplog.records)
    finally:
        gate.set()
    async with asyncio.timeout(60):
        while True:
            await hub.devices.flush()
            async with hub.db.require_engine().connect() as connection:
                states = (
                    await connection.execute(sa.select(tables.device_state_history.c.state))
                ).scalars()
                numbers = Counter(state["n"] for state in states)
            if len(numbers) >= count:
                break
            await asyncio.sleep(0.05)
    assert_each_once(numbers, count)
    assert runtime.drops.total == 0


async def test_stopping_the_writer_in_the_middle_of_a_large_flush_writes_every_row(
    tmp_path: Path,
) -> None:
    rows = 100_000
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'writer.db'}")
    async with engine.begin() as connection:
        await connection.run_sync(tables.metadata.create_all)
    loop = asyncio.get_running_loop()
    inserting = asyncio.Event()

    def first_insert(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("INSERT INTO device_state_history"):
            loop.call_soon_threadsafe(inserting.set)

    event.listen(engine.sync_engine, "before_cursor_execute", first_insert)
    writer = BatchWriter(engine, interval=60)
    writer.start()
    try:
        for number in range(rows):
            writer.insert(
                tables.device_state_history,
                {"device_id": "d", "state": {"n": number}, "recorded_at": 1.0},
            )
        await asyncio.wait_for(inserting.wait(), 30)
        await writer.stop()
        async with engine.connect() as connection:
            written = (
                await connection.execute(
                    sa.select(sa.func.count()).select_from(tables.device_state_history)
                )
            ).scalar_one()
        assert written == rows
    finally:
        await engine.dispose()


async def test_a_commit_callback_runs_only_after_its_rows_are_committed(tmp_path: Path) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'writer.db'}")
    async with engine.begin() as connection:
        await connection.run_sync(tables.metadata.create_all)
    writer = BatchWriter(engine, interval=60, ack_delay=60, ack_batch=1000)
    seen: list[int] = []

    async def committed_rows() -> int:
        async with engine.connect() as connection:
            query = sa.select(sa.func.count()).select_from(tables.device_state_history)
            return (await connection.execute(query)).scalar_one()

    try:
        writer.after_commit(lambda: seen.append(-1))
        assert seen == [-1], "nothing buffered: at once"
        row = {"device_id": "d", "state": {"n": 1}, "recorded_at": 1.0}
        writer.insert(tables.device_state_history, row)
        done = asyncio.Event()
        writer.after_commit(done.set)
        assert not done.is_set()
        await writer.flush()
        assert done.is_set()
        assert await committed_rows() == 1
    finally:
        await engine.dispose()
