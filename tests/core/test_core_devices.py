"""The device domain through the real registry, database and HTTP API."""

import asyncio
import hashlib
from typing import Any

import sqlalchemy as sa

from hub import events
from hub.db import tables
from hub.devices.models import DeviceDict
from hub.event_bus import MATCH_ALL, Event
from hub.events import EventType


def wait_for_event(hub, event_type, predicate=lambda data: True):
    future = asyncio.get_running_loop().create_future()

    def listener(event):
        if predicate(event.data) and not future.done():
            future.set_result(event.data)

    unsubscribe = hub.bus.listen(event_type, listener)
    future.add_done_callback(lambda _f: unsubscribe())
    return future


async def count(hub, table, **where):
    query = sa.select(sa.func.count()).select_from(table)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    async with hub.db.engine.connect() as connection:
        return (await connection.execute(query)).scalar_one()


async def test_state_is_in_memory_fires_once_per_change_and_is_persisted(authed_hub, hub_client):
    hub = authed_hub
    registered = wait_for_event(hub, events.DEVICE_REGISTERED)
    device = await hub.devices.handshake(
        "th-1", device_type="thermo", firmware="1.2.0", capabilities=["temp"], transport="echo"
    )
    assert (await asyncio.wait_for(registered, 2))["device"]["externalId"] == "th-1"
    changes = []
    hub.bus.listen(events.DEVICE_STATE_CHANGED, lambda event: changes.append(event.data))
    assert hub.devices.report_state(device, {"temp": 20.5})
    assert not hub.devices.report_state(device, {"temp": 20.5})  # no real change
    assert hub.devices.report_state(device, {"temp": 21.0})
    assert [change["state"] for change in changes] == [{"temp": 20.5}, {"temp": 21.0}]
    assert changes[1]["oldState"] == {"temp": 20.5}
    await hub.devices.flush()
    assert await count(hub, tables.device_state_history, device_id=device.id) == 2

    client = await hub_client(hub, token="user-token")
    async with client.get("/api/devices") as response:
        listed = await response.json()
    assert listed[0]["externalId"] == "th-1"
    assert listed[0]["state"] == {"temp": 21.0}
    assert listed[0]["online"] is True
    assert listed[0]["lastSeen"].endswith("+00:00")
    async with client.get(f"/api/devices/{device.id}/history?limit=1") as response:
        page = await response.json()
    assert [item["state"] for item in page["items"]] == [{"temp": 21.0}]
    async with client.get(
        f"/api/devices/{device.id}/history", params={"limit": 1, "before": page["nextBefore"]}
    ) as response:
        older = await response.json()
    assert [item["state"] for item in older["items"]] == [{"temp": 20.5}]
    async with client.get(f"/api/devices/{device.id}/history?limit=abc") as response:
        assert response.status == 400
    async with client.get("/api/devices/nope") as response:
        assert response.status == 404
    async with client.get("/api/device-types") as response:
        names = [item["name"] for item in await response.json()]
    assert names == ["echo-lamp", "thermo"]


async def test_devices_and_state_survive_a_restart(hub_factory, fakes, tmp_path):
    config = {"static_auth": {"users": {"t": "owner"}}, "echo": {}}
    hub = await hub_factory(config, config_dir=tmp_path, integrations=fakes)
    device = await hub.devices.handshake("p-1", device_type="plug", transport="echo")
    hub.devices.report_state(device, {"on": True})
    assert hub.devices.report_event(device, "button", {"n": 1}, seq=7)
    await hub.stop()  # flushes the batched writes

    again = await hub_factory(config, config_dir=tmp_path, integrations=fakes)
    reloaded = again.devices.by_external_id("p-1")
    assert reloaded.id == device.id
    assert reloaded.state == {"on": True}
    assert reloaded.online is False  # presence is re-learnt, not assumed
    # The seq window survives too: a redelivered event after restart is still a duplicate.
    assert not again.devices.report_event(reloaded, "button", {"n": 1}, seq=7)


async def test_duplicate_event_seq_is_dropped_and_a_handshake_starts_a_new_session(authed_hub):
    hub = authed_hub
    device = await hub.devices.handshake("b-1", device_type="button", transport="echo")
    seen = []
    hub.bus.listen(events.DEVICE_EVENT, lambda event: seen.append(event.data["seq"]))
    assert hub.devices.report_event(device, "press", None, seq=1)
    assert not hub.devices.report_event(device, "press", None, seq=1)
    assert hub.devices.report_event(device, "press", None, seq=2)
    assert hub.devices.report_event(device, "press", None, seq=None)
    await hub.devices.handshake("b-1", device_type="button", transport="echo")
    assert hub.devices.report_event(device, "press", None, seq=1)
    assert seen == [1, 2, None, 1]
    await hub.devices.flush()
    assert await count(hub, tables.device_events, device_id=device.id) == 4


async def test_presence_goes_offline_after_missed_heartbeats(hub_factory, fakes):
    hub = await hub_factory(
        {"hub": {"presence": {"heartbeat_interval": 0.1, "missed_heartbeats": 2}}, "echo": {}},
        integrations=fakes,
    )
    device = await hub.devices.handshake("h-1", device_type="x", transport="echo")
    offline = wait_for_event(
        hub, events.DEVICE_PRESENCE_CHANGED, lambda data: data["online"] is False
    )
    data = await asyncio.wait_for(offline, 5)
    assert data["externalId"] == "h-1" and device.online is False
    online = wait_for_event(hub, events.DEVICE_PRESENCE_CHANGED, lambda data: data["online"])
    hub.devices.heartbeat(device, rssi=-60)
    assert (await asyncio.wait_for(online, 5))["deviceId"] == device.id


async def test_send_command_goes_to_the_owning_transport_and_tracks_status(
    authed_hub, fakes, hub_client
):
    hub = authed_hub
    device = await hub.devices.handshake("l-1", device_type="lamp", transport="echo")
    other = await hub.devices.handshake("l-2", device_type="lamp", transport="nowhere")
    client = await hub_client(hub, token="user-token")
    async with client.post(
        f"/api/devices/{device.id}/commands", json={"command": "toggle", "params": {"x": 1}}
    ) as response:
        assert response.status == 202
        command_id = (await response.json())["commandId"]
    assert fakes["echo"].SENT == [("l-1", "toggle", {"x": 1})]
    finished = wait_for_event(hub, events.COMMAND_STATUS_CHANGED)
    assert hub.devices.command_result(device, command_id, True, {"on": True})
    assert not hub.devices.command_result(other, command_id, True)  # not its command
    assert (await asyncio.wait_for(finished, 5))["status"] == "succeeded"
    async with client.get(f"/api/commands/{command_id}") as response:
        assert (await response.json())["result"] == {"on": True}
    async with client.post(f"/api/devices/{other.id}/commands", json={"command": "x"}) as response:
        assert response.status == 503
        assert (await response.json())["error"]["code"] == "transport_unavailable"
    for bad in [{"params": {}}, {"command": "bad name!"}, {"command": "x", "params": []}, [1]]:
        async with client.post(f"/api/devices/{device.id}/commands", json=bad) as response:
            assert response.status == 400, bad
            assert "message" in (await response.json())["error"]
    async with client.post(
        f"/api/devices/{device.id}/commands",
        data=b"{nope",
        headers={"Content-Type": "application/json"},
    ) as response:
        assert (await response.json())["error"]["code"] == "invalid_json"


async def test_device_event_over_http_uses_the_device_token(authed_hub, hub_client):
    hub = authed_hub
    token = "device-secret-token-123"
    device = await hub.devices.expect_device(
        "esp-9", token_digest=hashlib.sha256(token.encode()).hexdigest(), transport="echo"
    )
    client = await hub_client(hub)
    seen = wait_for_event(hub, events.DEVICE_EVENT)
    async with client.post(
        "/api/device/events",
        json={"type": "alarm", "data": {"level": 3}, "seq": 1},
        headers={"X-Device-Token": token},
    ) as response:
        assert response.status == 202
        assert await response.json() == {"accepted": True, "duplicate": False}
    assert (await asyncio.wait_for(seen, 5))["deviceId"] == device.id
    async with client.post(
        "/api/device/events", json={"type": "alarm", "seq": 1}, headers={"X-Device-Token": token}
    ) as response:
        assert await response.json() == {"accepted": False, "duplicate": True}
    async with client.post(
        "/api/device/events", json={"type": "alarm"}, headers={"X-Device-Token": "nope"}
    ) as response:
        assert response.status == 401


async def test_a_failing_database_write_is_retried_not_lost(authed_hub):
    hub = authed_hub
    device = await hub.devices.handshake("r-1", device_type="x", transport="echo")
    async with hub.db.engine.begin() as connection:
        await connection.execute(sa.text("ALTER TABLE device_events RENAME TO device_events_away"))
    hub.devices.report_event(device, "kept", None, seq=None)
    writer = hub.devices._writer
    failures = writer.failures
    await writer.flush()
    assert writer.failures == failures + 1 and writer.pending >= 1
    async with hub.db.engine.begin() as connection:
        await connection.execute(sa.text("ALTER TABLE device_events_away RENAME TO device_events"))
    await writer.flush()
    assert writer.pending == 0
    assert await count(hub, tables.device_events, type="kept") == 1


async def test_the_device_listing_never_serves_a_stale_rendering(authed_hub, hub_client):
    hub = authed_hub
    client = await hub_client(hub, token="user-token")

    async def listing():
        async with client.get("/api/devices") as response:
            return {item["externalId"]: item for item in await response.json()}

    assert await listing() == {}
    device = await hub.devices.handshake("c-1", device_type="x", transport="echo")
    first = await listing()
    assert first["c-1"]["online"] is True
    hub.devices.report_state(device, {"n": 1})
    assert (await listing())["c-1"]["state"] == {"n": 1}
    device.last_seen -= 100  # as if the heartbeat came long ago
    hub.devices.heartbeat(device)
    assert (await listing())["c-1"]["lastSeen"] != first["c-1"]["lastSeen"]
    hub.devices.set_offline(device)
    assert (await listing())["c-1"]["online"] is False
    await hub.devices.remove(device.id)
    assert await listing() == {}


async def test_a_renamed_device_keeps_its_name_across_handshakes_and_restarts(
    hub_factory, fakes, hub_client, tmp_path
):
    config = {"static_auth": {"users": {"owner-token": "owner", "user-token": "user"}}, "echo": {}}
    hub = await hub_factory(config, config_dir=tmp_path, integrations=fakes)
    device = await hub.devices.handshake("lamp-1", device_type="lamp", transport="echo")
    owner = await hub_client(hub, token="owner-token")
    user = await hub_client(hub, token="user-token")
    listing_before = await (await user.get("/api/devices")).json()
    assert listing_before[0]["name"] == "lamp-1"

    updated = wait_for_event(hub, events.DEVICE_UPDATED)
    async with owner.patch(f"/api/devices/{device.id}", json={"name": "  Barn lamp "}) as response:
        assert response.status == 200
        assert (await response.json())["name"] == "Barn lamp"
    assert (await asyncio.wait_for(updated, 5))["device"]["name"] == "Barn lamp"
    async with user.get("/api/devices") as response:  # the cached listing follows
        assert (await response.json())[0]["name"] == "Barn lamp"

    async with user.patch(f"/api/devices/{device.id}", json={"name": "x"}) as response:
        assert response.status == 403
    refusals = [
        ({"name": ""}, "field 'name': must be a non-blank string"),
        ({"name": "a\nb"}, "field 'name': must not contain control characters"),
        ({"name": "x" * 129}, "at most 128 characters"),
        ({"nom": "x"}, "field 'nom': extra keys not allowed"),
    ]
    for bad, message in refusals:
        async with owner.patch(f"/api/devices/{device.id}", json=bad) as response:
            assert response.status == 400, bad
            assert message in (await response.json())["error"]["message"]
    async with owner.patch("/api/devices/nope", json={"name": "x"}) as response:
        assert response.status == 404

    await hub.devices.handshake("lamp-1", device_type="lamp", transport="echo")
    assert hub.devices.get(device.id).name == "Barn lamp"
    await hub.stop()
    again = await hub_factory(config, config_dir=tmp_path, integrations=fakes)
    assert again.devices.get(device.id).name == "Barn lamp"


async def test_every_device_event_carries_exactly_the_keys_its_typeddict_declares(authed_hub):
    """hub/events.py is the contract the WebSocket API and the cloud link send on: the
    dicts fired at runtime must have its keys, no more and no fewer."""
    hub = authed_hub
    # Any: mypy has no type for "a TypedDict class" that has __required_keys__.
    declared: dict[EventType[Any] | str, Any] = {
        events.DEVICE_REGISTERED: events.DeviceRegisteredData,
        events.DEVICE_UPDATED: events.DeviceUpdatedData,
        events.DEVICE_REMOVED: events.DeviceRemovedData,
        events.DEVICE_STATE_CHANGED: events.DeviceStateChangedData,
        events.DEVICE_EVENT: events.DeviceEventData,
        events.DEVICE_PRESENCE_CHANGED: events.DevicePresenceChangedData,
        events.COMMAND_STATUS_CHANGED: events.CommandStatusChangedData,
    }
    fired: list[Event[Any]] = []
    hub.bus.listen(MATCH_ALL, fired.append)
    device = await hub.devices.handshake("k-1", device_type="lamp", transport="echo")
    hub.devices.report_state(device, {"on": True})
    hub.devices.report_event(device, "press", {"n": 1}, seq=1)
    command = await hub.devices.send_command(device.id, "toggle")
    hub.devices.command_result(device, command.id, True, {"on": False})
    await hub.devices.rename(device.id, "Lamp")
    hub.devices.set_offline(device)
    await hub.devices.remove(device.id)
    assert {event.type for event in fired} >= set(declared)
    for event in fired:
        if event.type in declared:
            typed = declared[event.type]
            assert set(event.data) == typed.__required_keys__ | typed.__optional_keys__, event
            if "device" in event.data:
                assert set(event.data["device"]) == DeviceDict.__required_keys__, event
