"""A handshake may name the commands the device accepts; its type then lists them."""

from __future__ import annotations

from tests.mqtt_devices.helpers import TOKEN, device_client


async def types(hub_client, hub) -> dict:
    client = await hub_client(hub, token=TOKEN)
    async with client.get("/api/device-types") as response:
        return {item["name"]: item for item in await response.json()}


async def test_handshake_commands_are_listed_for_the_type_and_grow(
    start_hub, mosquitto, hub_client
):
    hub = await start_hub(mosquitto.url)
    async with device_client(mosquitto.url) as device:
        ack = await device.handshake("lamp-1", "lamp", commands=["on", "off"])
        assert ack["ok"] is True
        assert (await types(hub_client, hub))["lamp"]["commands"] == ["on", "off"]
        # A newer firmware of the same type announces one more; nothing is forgotten.
        await device.handshake("lamp-2", "lamp", commands=["off", "dim"])
        assert (await types(hub_client, hub))["lamp"]["commands"] == ["on", "off", "dim"]
        refused = await device.handshake("lamp-3", "lamp", commands="on")
        assert refused["ok"] is False and "'commands' must be a list" in refused["error"]
    # Kept in the database: a restarted registry reads the same list.
    await hub.devices.load()
    assert [t.commands for t in hub.devices.device_types() if t.name == "lamp"] == [
        ["on", "off", "dim"]
    ]
