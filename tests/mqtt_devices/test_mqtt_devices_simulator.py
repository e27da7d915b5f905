"""``station-hub simulate``: simulated ESP32s against a real hub and broker."""

from __future__ import annotations

import asyncio
from typing import Any

from hub.cli import main
from plugins.mqtt_devices.config import parse_broker_url
from plugins.mqtt_devices.simulator import Fleet, FleetOptions
from tests.mqtt_devices.helpers import STATION, TOKEN, EventRecorder, device_client, topic


async def test_fleet_handshakes_reports_and_answers_commands(start_hub, mosquitto, hub_client):
    hub = await start_hub(mosquitto.url)
    states = EventRecorder(hub.bus, "device_state_changed")
    heartbeats_seen = EventRecorder(hub.bus, "device_presence_changed")
    statuses = EventRecorder(hub.bus, "command_status_changed")
    fleet = Fleet(
        parse_broker_url(mosquitto.url),
        FleetOptions(
            station_id=STATION,
            devices=3,
            rate=20,
            heartbeat_interval=0.2,
            event_probability=0.5,
            connections=2,
            seed=7,
        ),
    )
    running = asyncio.ensure_future(fleet.run())
    try:
        for index in range(3):

            def reported(data: dict[str, Any], i: int = index) -> bool:
                return data["externalId"] == f"sim-{i:04d}"

            await states.wait_for(reported)
        await heartbeats_seen.wait_for(lambda data: data["online"] is True)
        device = hub.devices.by_external_id("sim-0001")
        assert device.type == "esp32-sim" and device.online
        client = await hub_client(hub, token=TOKEN)
        # The simulator announces what it accepts; the hub lists it for the type.
        async with client.get("/api/device-types") as response:
            types = {item["name"]: item for item in await response.json()}
        assert types["esp32-sim"]["commands"] == ["set", "ping", "reboot", "factory_reset"]
        async with client.post(
            f"/api/devices/{device.id}/commands",
            json={"command": "set", "params": {"relay": True}},
        ) as response:
            assert response.status == 202
        done = await statuses.wait_for(lambda data: data["status"] != "sent")
        assert done["status"] == "succeeded" and done["result"]["state"]["relay"] is True
        await states.wait_for(
            lambda data: data["externalId"] == "sim-0001" and data["state"]["relay"] is True
        )
        unknown = await hub.devices.send_command(device.id, "self_destruct", {})
        refused = await statuses.wait_for(
            lambda data: data["commandId"] == unknown.id and data["status"] == "failed"
        )
        assert "unsupported" in refused["error"]
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    totals = fleet.totals()
    assert totals["handshaken"] == 3 and totals["states"] >= 3 and totals["commands"] == 2
    assert sorted(d.external_id for d in hub.devices.all()) == ["sim-0000", "sim-0001", "sim-0002"]


async def test_factory_reset_makes_the_device_handshake_again(start_hub, mosquitto):
    hub = await start_hub(mosquitto.url)
    statuses = EventRecorder(hub.bus, "command_status_changed")
    fleet = Fleet(
        parse_broker_url(mosquitto.url),
        FleetOptions(station_id=STATION, devices=1, rate=0, heartbeat_interval=60),
    )
    async with device_client(mosquitto.url) as watcher:
        await watcher.subscribe(topic("sim-0000", "handshake/ack"))
        running = asyncio.ensure_future(fleet.run())
        try:
            _name, first = await watcher.next_json()
            await hub.devices.send_command(first["deviceId"], "factory_reset", {})
            await statuses.wait_for(lambda data: data["status"] == "succeeded")
            _name, second = await watcher.next_json()
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
    # Only a handshake is acked: the reset device introduced itself again, as the same device.
    assert second["ok"] is True and second["deviceId"] == first["deviceId"]


def test_cli_runs_against_a_broker_and_reports(mosquitto, capsys):
    """Without a hub nobody acks the handshake: the command says so and exits non-zero."""
    code = main(
        [
            "simulate",
            "--broker",
            mosquitto.url,
            "--station",
            "nobody-home",
            "--devices",
            "2",
            "--duration",
            "0.5",
        ]
    )
    assert code == 1
    assert "no device got a handshake ack" in capsys.readouterr().err


def test_cli_rejects_a_bad_broker_url(capsys):
    code = main(["simulate", "--broker", "http://x", "--station", "s", "--devices", "1"])
    assert code == 2
    assert "mqtt://" in capsys.readouterr().err
