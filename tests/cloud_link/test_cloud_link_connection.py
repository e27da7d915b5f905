"""The connection loop against the fake cloud: auth, heartbeat, backoff, outages, restarts."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from hub.backoff import Backoff, BackoffPolicy
from plugins.cloud_link.const import (
    STATE_AUTH_FAILED,
    STATE_BACKOFF,
    STATE_CONNECTED,
    STATE_NOT_CONFIGURED,
)
from tests.cloud_link import fake_devices
from tests.cloud_link.conftest import FAST, GOOD_TOKEN, WAIT, link_runtime


async def _wait_state(hub, state: str) -> None:
    link = link_runtime(hub).link
    await asyncio.wait_for(link.status.wait_for(lambda status: status.state == state), WAIT)


async def test_auth_ok_connects_and_status_says_so(cloud_hub, fake_cloud, hub_client) -> None:
    hub = await cloud_hub()
    cloud = await fake_cloud.next_connection()
    assert cloud.token == GOOD_TOKEN
    await _wait_state(hub, STATE_CONNECTED)
    client = await hub_client(hub, token="user-token")
    async with client.get("/api/cloud/status") as response:
        assert response.status == 200
        status = await response.json()
    assert status["state"] == STATE_CONNECTED
    assert status["activeChannels"] == ["events", "presence", "state"]
    assert status["claimedAt"] is None  # the token came from the YAML, not a claim
    assert status["nextRetryIn"] is None
    assert status["connectedSince"] is not None
    anonymous = await hub_client(hub)
    async with anonymous.get("/api/cloud/status") as response:
        assert response.status == 401


async def test_auth_failed_stops_reports_and_retries_slowly(cloud_hub, fake_cloud) -> None:
    fake_cloud.accepted_tokens = {"some-other-token"}
    hub = await cloud_hub(auth_retry=0.4)
    await _wait_state(hub, STATE_AUTH_FAILED)
    status = link_runtime(hub).status()
    assert "unknown station token" in status["lastError"]
    assert 0 < status["nextRetryIn"] <= 0.4
    # The retry comes after auth_retry, not after the short connection backoff.
    await fake_cloud.wait_attempts(2)
    assert fake_cloud.attempts[1] - fake_cloud.attempts[0] >= 0.4
    # Once the cloud knows the token again, the slow retry connects by itself.
    fake_cloud.accepted_tokens = {GOOD_TOKEN}
    await fake_cloud.next_connection()
    await _wait_state(hub, STATE_CONNECTED)


async def test_auth_failed_while_the_cloud_keeps_the_socket_open(cloud_hub, fake_cloud) -> None:
    fake_cloud.accepted_tokens = set()
    fake_cloud.close_after_auth_failure = False
    hub = await cloud_hub(auth_retry=60)
    await _wait_state(hub, STATE_AUTH_FAILED)
    connection = await fake_cloud.next_connection()
    # The station hangs up itself; it does not wait for the cloud to.
    await asyncio.wait_for(connection.closed.wait(), WAIT)


async def test_a_cloud_that_stops_answering_pings_is_dropped_and_redialled(
    cloud_hub, fake_cloud
) -> None:
    fake_cloud.answer_pings = False
    hub = await cloud_hub(heartbeat_interval=0.1)
    first = await fake_cloud.next_connection()
    await asyncio.wait_for(first.closed.wait(), WAIT)
    assert first.pings_seen == 1
    second = await fake_cloud.next_connection()
    assert second.token == GOOD_TOKEN
    assert "no pong" in link_runtime(hub).status()["lastError"]


async def test_a_cloud_that_answers_pings_keeps_the_link(cloud_hub, fake_cloud) -> None:
    # A pong must be back within one interval; 20 ms was shorter than the stalls of a
    # busy CI box (the cloud double runs in the test's own event loop), so 0.25 s.
    hub = await cloud_hub(heartbeat_interval=0.25)
    connection = await fake_cloud.next_connection()
    async with asyncio.timeout(WAIT):
        while connection.pings_seen < 4:
            await connection.call("devices.snapshot")
    assert link_runtime(hub).link.status.connections == 1
    assert not connection.closed.is_set()


async def test_a_cloud_that_is_down_is_retried_within_the_backoff_bounds(
    cloud_hub, fake_cloud
) -> None:
    fake_cloud.refuse_upgrade = True
    hub = await cloud_hub()
    await fake_cloud.wait_attempts(6, within=10)
    policy = Backoff(
        BackoffPolicy(
            FAST["backoff_initial"],
            FAST["backoff_max"],
            FAST["backoff_jitter"],
            FAST["stable_after"],
        )
    )
    gaps = [later - earlier for earlier, later in itertools.pairwise(fake_cloud.attempts)]
    for attempt, gap in enumerate(gaps[:5]):
        low, high = policy.bounds(attempt)
        # The lower bound is exact; the upper allows for connect time on a busy machine.
        assert low <= gap <= high + 0.5, (attempt, gap, low, high)
    # The delay grew to the cap and stayed there.
    assert policy.bounds(4)[1] == pytest.approx(FAST["backoff_max"])
    status = link_runtime(hub).status()
    assert status["state"] in (STATE_BACKOFF, "connecting", "authenticating")
    assert "503" in status["lastError"]


async def test_a_closed_port_is_reported_with_the_next_retry(cloud_hub, fake_cloud) -> None:
    await fake_cloud.stop()
    hub = await cloud_hub(backoff_initial=5, backoff_max=5)
    await _wait_state(hub, STATE_BACKOFF)
    status = link_runtime(hub).status()
    assert status["lastError"].startswith("connect failed")
    assert 4.0 * 0.8 <= status["nextRetryIn"] <= 5.0


async def test_a_cloud_restart_is_survived_without_help(cloud_hub, fake_cloud) -> None:
    hub = await cloud_hub()
    first = await fake_cloud.next_connection()
    await fake_cloud.stop()
    await asyncio.wait_for(first.closed.wait(), WAIT)
    await _wait_state(hub, STATE_BACKOFF)
    await fake_cloud.start()
    second = await fake_cloud.next_connection()
    assert (await second.call("devices.snapshot"))["result"] == {"devices": [], "nextCursor": None}
    await _wait_state(hub, STATE_CONNECTED)
    assert link_runtime(hub).link.status.connections == 2


async def test_latest_state_per_device_is_sent_once_after_an_outage(cloud_hub, fake_cloud) -> None:
    hub = await cloud_hub()
    first = await fake_cloud.next_connection()
    lamp = await hub.devices.handshake("lamp-1", device_type="x", transport=fake_devices.TRANSPORT)
    heater = await hub.devices.handshake(
        "heat-1", device_type="x", transport=fake_devices.TRANSPORT
    )
    await first.notification("device.presence")
    await first.notification("device.presence")
    await fake_cloud.stop()
    await _wait_state(hub, STATE_BACKOFF)

    for level in range(5):
        hub.devices.report_state(lamp, {"level": level})
    hub.devices.report_state(heater, {"on": True})
    hub.devices.report_event(lamp, "button", {"press": "long"}, seq=7)
    assert link_runtime(hub).outbox.pending == 3

    await fake_cloud.start()
    second = await fake_cloud.next_connection()
    flushed = await second.next_json()
    assert isinstance(flushed, list), "what waited goes out as one batch"
    states = [item for item in flushed if item["method"] == "device.state"]
    assert sorted((s["params"]["externalId"], s["params"]["state"]) for s in states) == [
        ("heat-1", {"on": True}),
        ("lamp-1", {"level": 4}),
    ]
    events = [item for item in flushed if item["method"] == "device.event"]
    assert [(e["params"]["type"], e["params"]["seq"]) for e in events] == [("button", 7)]
    assert link_runtime(hub).outbox.pending == 0
    # Nothing is sent twice: the next notification on the wire is a new change.
    hub.devices.report_state(heater, {"on": False})
    assert (await second.next_json())["params"]["state"] == {"on": False}


async def test_outage_buffer_is_bounded(cloud_hub, fake_cloud) -> None:
    hub = await cloud_hub(offline_devices=2, max_queued_events=3)
    await fake_cloud.next_connection()
    await fake_cloud.stop()
    await _wait_state(hub, STATE_BACKOFF)
    devices = [
        await hub.devices.handshake(f"d{n}", device_type="x", transport=fake_devices.TRANSPORT)
        for n in range(4)
    ]
    for device in devices:
        hub.devices.report_state(device, {"v": 1})
        hub.devices.report_event(device, "tick")
    outbox = link_runtime(hub).outbox
    # Two newest states, two newest presences, three newest events.
    assert outbox.pending == 2 + 2 + 3
    assert outbox.dropped == 2 + 2 + 1


async def test_channels_filter_what_the_cloud_receives(cloud_hub, fake_cloud) -> None:
    hub = await cloud_hub(channels=["state"])
    cloud = await fake_cloud.next_connection()
    lamp = await hub.devices.handshake("lamp-1", device_type="x", transport=fake_devices.TRANSPORT)
    # Presence and events are off: the first frame the cloud sees is the state change.
    hub.devices.report_event(lamp, "button")
    hub.devices.report_state(lamp, {"on": True})
    first = await cloud.next_json()
    assert first["method"] == "device.state"
    assert first["params"]["deviceId"] == lamp.id
    assert first["params"]["externalId"] == "lamp-1"
    assert first["params"]["state"] == {"on": True}
    assert first["params"]["time"].endswith("+00:00")

    reply = await cloud.call("station.setActiveChannels", {"channels": ["events"]})
    assert reply["result"]["channels"] == ["events"]
    hub.devices.report_state(lamp, {"on": False})
    hub.devices.report_event(lamp, "button", {"n": 2}, seq=3)
    event = await cloud.next_json()
    assert event["method"] == "device.event"
    assert event["params"]["data"] == {"n": 2} and event["params"]["seq"] == 3

    await cloud.call("station.setActiveChannels", {"channels": ["presence"]})
    hub.devices.report_state(lamp, {"on": True})
    hub.devices.set_offline(lamp)
    presence = await cloud.next_json()
    assert presence["method"] == "device.presence"
    assert presence["params"]["online"] is False


async def test_not_configured_without_url_or_token(hub_factory) -> None:
    from hub.testing import static_auth

    hub = await hub_factory(
        {"static_auth": {}, "cloud_link": {}}, integrations={"static_auth": static_auth}
    )
    status = link_runtime(hub).status()
    assert status["state"] == STATE_NOT_CONFIGURED
    assert status["nextRetryIn"] is None


async def test_backoff_policy_bounds_and_reset_after_a_stable_connection() -> None:
    settings = BackoffPolicy(initial=2, maximum=60, jitter=0.2, stable_after=30)
    policy = Backoff(settings)
    delays = [policy.next_delay() for _ in range(12)]
    bases = [2, 4, 8, 16, 32, 60, 60, 60, 60, 60, 60, 60]
    for delay, base in zip(delays, bases, strict=True):
        assert base * 0.8 <= delay <= min(base * 1.2, 60)
    policy.connection_ended(lasted=29.9)
    assert policy.attempt == 12, "a short-lived connection does not reset the backoff"
    policy.connection_ended(lasted=30)
    assert policy.attempt == 0
    assert 1.6 <= policy.next_delay() <= 2.4


async def test_a_notification_that_cannot_be_encoded_does_not_stop_the_rest(
    cloud_hub, fake_cloud
) -> None:
    hub = await cloud_hub(channels=["events", "state"])
    cloud = await fake_cloud.next_connection()
    lamp = await hub.devices.handshake("lamp-1", device_type="x", transport=fake_devices.TRANSPORT)
    event = {"deviceId": lamp.id, "externalId": "lamp-1", "type": "odd", "data": {1, 2}}
    hub.bus.fire("device_event", event)
    hub.devices.report_state(lamp, {"on": True})
    state = await cloud.next_json()
    assert state["method"] == "device.state"
    assert link_runtime(hub).outbox.dropped == 1
