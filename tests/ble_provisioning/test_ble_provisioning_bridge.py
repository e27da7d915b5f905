"""``python -m plugins.ble_provisioning.bridge``: the seed's stdio protocol, event for event.

The bridge runs as a real subprocess and reaches the test's virtual radio over a bumble
HCI transport (``--hci tcp-client:...``), so its bleak code talks to simulated ESP32s.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest_asyncio

from plugins.ble_provisioning.const import (
    CUSTOM_CREDENTIALS_UUID,
    CUSTOM_SERVICE_UUID,
    IMPROV_SERVICE_UUID,
)
from plugins.ble_provisioning.testing import SimulatedImprovDevice, SimulatedProvisioningDevice
from tests.ble_provisioning.conftest import WAIT

REPO = Path(__file__).resolve().parents[2]
ADDRESS = "C4:DD:57:60:00:01"
SEED_DISCOVERED_FIELDS = {"event", "address", "name", "rssi", "service_uuids", "service_data"}


class Bridge:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.events: list[dict[str, Any]] = []

    def send(self, command: dict[str, Any] | bytes) -> None:
        line = command if isinstance(command, bytes) else json.dumps(command).encode()
        assert self.process.stdin is not None
        self.process.stdin.write(line + b"\n")

    async def next(
        self, predicate: Callable[[dict[str, Any]], bool], within: float = WAIT
    ) -> dict[str, Any]:
        """The next event matching ``predicate`` (earlier ones are kept in ``events``)."""
        assert self.process.stdout is not None
        async with asyncio.timeout(within):
            while True:
                line = await self.process.stdout.readline()
                assert line, "the bridge exited"
                event = json.loads(line)
                self.events.append(event)
                if predicate(event):
                    return event


@pytest_asyncio.fixture
async def bridge(hci_endpoint) -> AsyncIterator[Bridge]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "plugins.ble_provisioning.bridge",
        "--hci",
        hci_endpoint.spec,
        cwd=REPO,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    running = Bridge(process)
    try:
        assert await running.next(lambda e: True) == {"event": "ready"}
        yield running
    finally:
        if process.returncode is None:
            assert process.stdin is not None  # stdin=PIPE
            process.stdin.close()
            try:
                async with asyncio.timeout(WAIT):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()


async def test_scan_discover_write_and_stop_speak_exactly_the_seed_events(virtual_air, bridge):
    device = await SimulatedProvisioningDevice.start(virtual_air, ADDRESS, name="Valve")

    bridge.send({"event": "start_scan", "service_uuid": CUSTOM_SERVICE_UUID})
    assert await bridge.next(lambda e: e["event"] != "discovered") == {"event": "scan_started"}
    discovered = await bridge.next(lambda e: e["event"] == "discovered")
    assert set(discovered) == SEED_DISCOVERED_FIELDS
    assert discovered["address"] == ADDRESS
    assert discovered["name"] == "Valve"
    assert discovered["rssi"] == -50
    assert discovered["service_uuids"] == [CUSTOM_SERVICE_UUID]
    assert discovered["service_data"] == {}

    payload = json.dumps({"ssid": 'My "net"\nfloor 2', "password": "s3cret pass"})
    bridge.send(
        {
            "event": "connect_and_write",
            "address": ADDRESS,
            "service_uuid": CUSTOM_SERVICE_UUID,
            "characteristic_uuid": CUSTOM_CREDENTIALS_UUID,
            "payload": payload,
        }
    )
    result = await bridge.next(lambda e: e["event"] == "write_result")
    assert result == {"event": "write_result", "address": ADDRESS, "ok": True}
    assert device.raw_writes == [payload.encode()]
    assert device.prepared_parts > 1  # a long write at MTU 23

    bridge.send({"event": "stop_scan"})
    assert await bridge.next(lambda e: e["event"] == "scan_stopped") == {"event": "scan_stopped"}


async def test_bad_lines_get_an_error_event_and_the_bridge_keeps_working(virtual_air, bridge):
    await SimulatedImprovDevice.start(virtual_air, ADDRESS)
    for line in (
        b"not json at all",
        b"[1, 2, 3]",
        b'{"no_event": true}',
        b'{"event": "format_disk"}',
        b'{"event": "start_scan"}',
        b'{"event": "start_scan", "service_uuid": "not-a-uuid"}',
        b'{"event": "connect_and_write", "address": "' + ADDRESS.encode() + b'"}',
        b"\xff\xfe binary garbage",
    ):
        bridge.send(line)
        error = await bridge.next(lambda e: True)
        assert error["event"] == "error" and error["error"], (line, error)

    bridge.send({"event": "start_scan", "service_uuid": IMPROV_SERVICE_UUID})
    await bridge.next(lambda e: e["event"] == "scan_started")
    discovered = await bridge.next(lambda e: e["event"] == "discovered")
    assert discovered["service_data"] == {"00004677-0000-1000-8000-00805f9b34fb": "020300000000"}


async def test_failed_writes_are_reported_not_fatal(virtual_air, bridge):
    bridge.send(
        {
            "event": "connect_and_write",
            "address": "C4:DD:57:60:00:99",  # nobody there
            "service_uuid": CUSTOM_SERVICE_UUID,
            "characteristic_uuid": CUSTOM_CREDENTIALS_UUID,
            "payload": "{}",
            "timeout": 0.3,
        }
    )
    result = await bridge.next(lambda e: e["event"] == "write_result")
    assert result["ok"] is False and result["address"] == "C4:DD:57:60:00:99"
    assert "0.3 s" in result["error"]

    device = await SimulatedProvisioningDevice.start(virtual_air, ADDRESS)
    bridge.send(
        {
            "event": "connect_and_write",
            "address": ADDRESS,
            "service_uuid": IMPROV_SERVICE_UUID,  # the device has no such service
            "characteristic_uuid": CUSTOM_CREDENTIALS_UUID,
            "payload": "{}",
        }
    )
    result = await bridge.next(lambda e: e["event"] == "write_result")
    assert result["ok"] is False and "no characteristic" in result["error"]
    assert device.raw_writes == []


async def test_stdin_closing_ends_the_bridge_cleanly(bridge):
    bridge.process.stdin.close()
    async with asyncio.timeout(WAIT):
        assert await bridge.process.wait() == 0
