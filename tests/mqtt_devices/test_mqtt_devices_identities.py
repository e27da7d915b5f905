"""A device may act only as itself: per-device broker accounts on a real Mosquitto with the
dynamic security plugin (issue #11 §1).

Absence is proven by order, never by waiting: Mosquitto handles a publish (forwards it or
refuses it) before it acknowledges it, and forwards to the hub over one connection in the
order it handled them; so once a marker published *after* a forgery was acknowledged has
been handled by the hub, the forgery would have been handled before it. (Mosquitto 2.0
also drops the connection of a 3.1.1 client whose publish it refused.)
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import Any

import aiomqtt
import orjson
import pytest

from hub.cli import main
from hub.testing.mosquitto import dynsec_missing
from plugins.mqtt_devices import runtime_for
from plugins.mqtt_devices.config import parse_broker_url
from plugins.mqtt_devices.dynsec import DynsecAdmin
from plugins.mqtt_devices.identities import DeviceCredentials, IdentityRefused
from plugins.mqtt_devices.simulator import Fleet, FleetOptions
from plugins.mqtt_devices.testing import RECOMMENDED, RecommendedMosquitto
from tests.mqtt_devices.helpers import STATION, WAIT, EventRecorder, device_client, topic

DENIED = 0x80


def code(granted: Any) -> int:
    """A SUBACK return code as an int (aiomqtt gives ReasonCode objects or ints)."""
    return int(getattr(granted, "value", granted))


async def dynsec_hub(start_hub, broker, **options: Any):
    hub = await start_hub(broker.admin_url, **options)
    runtime = runtime_for(hub)
    assert runtime is not None
    await asyncio.wait_for(runtime.accounts.ready.wait(), WAIT)
    return hub, runtime


async def forge(
    broker, credentials: DeviceCredentials, name: str, body: Any, *, retain: bool = False
) -> None:
    """Publish as ``credentials`` on someone else's topic; returns once the broker decided."""
    with contextlib.suppress(aiomqtt.MqttError):
        async with as_device(broker, credentials) as device:
            await device.publish(name, body, retain=retain)


def as_device(broker, credentials: DeviceCredentials, client_id: str | None = None):
    return device_client(
        broker.url,
        client_id or credentials.client_id,
        username=credentials.username,
        password=credentials.password,
    )


async def test_a_device_publishes_only_as_itself(start_hub, dynsec_mosquitto):
    hub, runtime = await dynsec_hub(start_hub, dynsec_mosquitto)
    states = EventRecorder(hub.bus, "device_state_changed")
    statuses = EventRecorder(hub.bus, "command_status_changed")
    alice = await runtime.issue_identity("dev-a")
    bob = await runtime.issue_identity("dev-b")
    assert alice.username == alice.client_id == "dev-a" and alice.password != bob.password
    async with as_device(dynsec_mosquitto, alice) as a:
        assert (await a.handshake("dev-a"))["ok"] is True
    async with as_device(dynsec_mosquitto, bob) as b:
        assert (await b.handshake("dev-b"))["ok"] is True
        await b.subscribe(topic("dev-b", "command"))
        command = await hub.devices.send_command(hub.devices.by_external_id("dev-b").id, "ping", {})
        # dev-a forges dev-b's state, a result that would mark dev-b's command done, and a
        # handshake that would change dev-b's type.
        await forge(dynsec_mosquitto, alice, topic("dev-b", "state"), {"forged": True})
        await forge(
            dynsec_mosquitto,
            alice,
            topic("dev-b", "command/result"),
            {"id": command.id, "ok": True},
        )
        await forge(dynsec_mosquitto, alice, topic("dev-b", "handshake"), {"deviceType": "evil"})
        async with as_device(dynsec_mosquitto, alice) as a:
            await a.publish(topic("dev-a", "state"), {"marker": 1})
            await states.wait_for(lambda data: data["state"] == {"marker": 1})
        assert [data["externalId"] for data in states.events] == ["dev-a"]
        assert hub.devices.command(command.id).status == "sent"
        assert hub.devices.by_external_id("dev-b").type == "esp32-test"
        # dev-b reads its own command and its own answer counts.
        name, body = await b.next_json()
        assert name == topic("dev-b", "command") and body["id"] == command.id
        await b.publish(topic("dev-b", "command/result"), {"id": command.id, "ok": True})
        done = await statuses.wait_for(lambda data: data["status"] != "sent")
        assert done["status"] == "succeeded"


async def test_a_device_reads_only_its_own_topics(start_hub, dynsec_mosquitto):
    _hub, runtime = await dynsec_hub(start_hub, dynsec_mosquitto)
    alice = await runtime.issue_identity("dev-a")
    await runtime.issue_identity("dev-b")
    async with as_device(dynsec_mosquitto, alice) as a:
        wanted = [
            ("#", 1),
            ("station/+/device/+/command", 1),
            (topic("dev-b", "command"), 1),
            (topic("dev-b", "handshake/ack"), 1),
            (topic("dev-a", "state"), 1),
            ("$CONTROL/dynamic-security/v1/response", 1),
            (topic("dev-a", "command"), 1),
            (topic("dev-a", "handshake/ack"), 1),
        ]
        granted = [code(item) for item in await a.client.subscribe(wanted)]
    assert granted == [DENIED] * 6 + [1, 1]


async def test_no_device_can_take_the_hubs_client_id(start_hub, dynsec_mosquitto):
    _hub, runtime = await dynsec_hub(start_hub, dynsec_mosquitto)
    alice = await runtime.issue_identity("dev-a")
    sessions = runtime.connection.connects
    for client_id in (runtime.client_id, "dev-b", "someone"):
        with pytest.raises(aiomqtt.MqttError, match=r"[Nn]ot authori[sz]ed"):
            async with as_device(dynsec_mosquitto, alice, client_id=client_id):
                pass
    # The hub's session was never taken over.
    assert runtime.connection.connects == sessions and runtime.connection.connected.is_set()
    # Nor can a device be named so that its own bound client id is the hub's, and the
    # hub's own account is not for devices: no identity is issued over either.
    for reserved in (
        runtime.client_id,
        f"{runtime.client_id}-dynsec-0",
        dynsec_mosquitto.admin_username,
    ):
        with pytest.raises(IdentityRefused, match="reserved"):
            await runtime.issue_identity(reserved)


async def test_no_device_can_retain_a_command(start_hub, dynsec_mosquitto):
    hub, runtime = await dynsec_hub(start_hub, dynsec_mosquitto)
    alice = await runtime.issue_identity("dev-a")
    bob = await runtime.issue_identity("dev-b")
    reset = orjson.dumps({"id": "x", "command": "factory_reset", "params": {}})
    async with as_device(dynsec_mosquitto, bob) as b:
        await b.handshake("dev-b")
    async with as_device(dynsec_mosquitto, alice) as a:
        await a.handshake("dev-a")
    for victim in ("dev-b", "dev-a"):
        await forge(dynsec_mosquitto, alice, topic(victim, "command"), reset, retain=True)
    device_b = hub.devices.by_external_id("dev-b")
    # A fresh subscription gets retained messages first: the first thing dev-b now reads
    # must be the hub's real command, not a stored factory_reset. The hub never retains.
    async with as_device(dynsec_mosquitto, bob) as b:
        await b.subscribe(topic("dev-b", "command"))
        command = await hub.devices.send_command(device_b.id, "ping", {})
        name, payload, _qos, retained = await b.next_message()
    assert name == topic("dev-b", "command") and not retained
    assert orjson.loads(payload)["id"] == command.id
    # Nor did anything stick on any command topic: a fresh subscriber to all of them
    # (the admin may) first sees the hub's next command, live.
    async with device_client(
        dynsec_mosquitto.url,
        "auditor",
        username=dynsec_mosquitto.admin_username,
        password=dynsec_mosquitto.admin_password,
    ) as auditor:
        await auditor.subscribe(f"station/{STATION}/device/+/command")
        await hub.devices.send_command(hub.devices.by_external_id("dev-a").id, "ping", {})
        name, payload, _qos, retained = await auditor.next_message()
    assert name == topic("dev-a", "command") and not retained
    assert orjson.loads(payload)["command"] == "ping"


async def test_an_account_the_hub_did_not_make_is_never_taken_over(start_hub, dynsec_mosquitto):
    _hub, runtime = await dynsec_hub(start_hub, dynsec_mosquitto)
    admin = DynsecAdmin(parse_broker_url(dynsec_mosquitto.admin_url))
    (answer,) = await admin.run(
        [{"command": "createClient", "username": "nodered", "password": "its-own-secret"}]
    )
    assert "error" not in answer
    with pytest.raises(IdentityRefused, match="did not create"):
        await runtime.issue_identity("nodered")
    # Its password still works: nothing was reset.
    async with device_client(
        dynsec_mosquitto.url, "nodered-1", username="nodered", password="its-own-secret"
    ):
        pass
    # The hub's own accounts are re-issued (a re-provisioned device): the old password dies.
    first = await runtime.issue_identity("dev-a")
    second = await runtime.issue_identity("dev-a")
    with pytest.raises(aiomqtt.MqttError):
        async with as_device(dynsec_mosquitto, first):
            pass
    async with as_device(dynsec_mosquitto, second):
        pass


async def test_the_legacy_account_works_until_a_device_has_its_own(start_hub, dynsec_mosquitto):
    """Migration: devices on the old shared account keep working; a device that got its own
    identity can no longer be impersonated through the shared one."""
    admin = DynsecAdmin(parse_broker_url(dynsec_mosquitto.admin_url))
    (answer,) = await admin.run(
        [{"command": "createClient", "username": "devices", "password": "shared-secret"}]
    )
    assert "error" not in answer
    hub, runtime = await dynsec_hub(start_hub, dynsec_mosquitto, legacy_device_account="devices")
    states = EventRecorder(hub.bus, "device_state_changed")
    shared = {"username": "devices", "password": "shared-secret"}
    async with device_client(dynsec_mosquitto.url, "old-1", **shared) as old:
        assert (await old.handshake("old-1"))["ok"] is True
        await old.publish(topic("old-1", "state"), {"v": 1})
        await states.wait_for(lambda data: data["state"] == {"v": 1})
    await runtime.issue_identity("new-1")
    async with device_client(dynsec_mosquitto.url, "old-2", **shared) as old:
        granted = await old.client.subscribe(topic("new-1", "command"), qos=1)
    with contextlib.suppress(aiomqtt.MqttError):
        async with device_client(dynsec_mosquitto.url, "old-3", **shared) as old:
            await old.publish(topic("new-1", "handshake"), {"deviceType": "forged"})
    async with device_client(dynsec_mosquitto.url, "old-1", **shared) as old:
        assert (await old.handshake("old-1"))["ok"] is True  # marker: handled after the forgery
    assert hub.devices.by_external_id("new-1") is None
    assert [code(item) for item in granted] == [DENIED]


async def test_simulate_speaks_with_per_device_identities(start_hub, dynsec_mosquitto):
    hub, _runtime = await dynsec_hub(start_hub, dynsec_mosquitto)
    states = EventRecorder(hub.bus, "device_state_changed")
    statuses = EventRecorder(hub.bus, "command_status_changed")
    fleet = Fleet(
        parse_broker_url(dynsec_mosquitto.admin_url),
        FleetOptions(
            station_id=STATION, devices=2, rate=20, heartbeat_interval=60, identities=True
        ),
    )
    running = asyncio.ensure_future(fleet.run())
    try:
        for index in range(2):

            def reported(data: dict[str, Any], i: int = index) -> bool:
                return data["externalId"] == f"sim-{i:04d}"

            await states.wait_for(reported)
        device = hub.devices.by_external_id("sim-0001")
        command = await hub.devices.send_command(device.id, "ping", {})
        done = await statuses.wait_for(
            lambda data: data["commandId"] == command.id and data["status"] != "sent"
        )
        assert done["status"] == "succeeded"
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    assert [link.address.username for link in fleet.links] == ["sim-0000", "sim-0001"]
    assert all(link.client_id == link.address.username for link in fleet.links)
    assert fleet.totals()["handshaken"] == 2


def test_the_shipped_mosquitto_conf_loads_dynamic_security() -> None:
    directives: dict[str, str] = {}
    for line in RECOMMENDED.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.strip().partition(" ")
            directives[name] = value
    assert directives["plugin"].endswith("/mosquitto_dynamic_security.so")
    assert directives["plugin_opt_config_file"].endswith(".json")
    assert directives["allow_anonymous"] == "false"
    assert "password_file" not in directives and "acl_file" not in directives


async def test_the_shipped_config_with_its_plugin_keeps_devices_apart(start_hub, tmp_path):
    reason = dynsec_missing()
    if reason is not None:
        pytest.skip(f"no dynsec broker: {reason}")
    broker = RecommendedMosquitto(tmp_path / "broker", dynsec=True)
    broker.start()
    try:
        hub, runtime = await dynsec_hub(start_hub, broker)
        states = EventRecorder(hub.bus, "device_state_changed")
        alice = await runtime.issue_identity("dev-a")
        await runtime.issue_identity("dev-b")
        async with as_device(broker, alice) as a:
            await a.handshake("dev-a")
        await forge(broker, alice, topic("dev-b", "state"), {"forged": True})
        async with as_device(broker, alice) as a:
            await a.publish(topic("dev-a", "state"), {"marker": 1})
            await states.wait_for(lambda data: data["state"] == {"marker": 1})
        assert [data["externalId"] for data in states.events] == ["dev-a"]
        await hub.stop()
    finally:
        broker.stop()


async def test_a_forgotten_device_loses_its_account(start_hub, dynsec_mosquitto):
    hub, runtime = await dynsec_hub(start_hub, dynsec_mosquitto)
    alice = await runtime.issue_identity("dev-a")
    async with as_device(dynsec_mosquitto, alice) as a:
        await a.handshake("dev-a")
    assert await hub.devices.remove(hub.devices.by_external_id("dev-a").id)
    await runtime.accounts.forgotten.settle()
    assert runtime.accounts.forgotten.revoked == 1
    with pytest.raises(aiomqtt.MqttError, match=r"[Nn]ot authori[sz]ed"):
        async with as_device(dynsec_mosquitto, alice):
            pass


async def test_the_simulate_command_with_identities_against_a_hub(start_hub, dynsec_mosquitto):
    """The real command in its own process: its devices log in as themselves and handshake."""
    hub, _runtime = await dynsec_hub(start_hub, dynsec_mosquitto)
    states = EventRecorder(hub.bus, "device_state_changed")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hub",
        "simulate",
        "--broker",
        dynsec_mosquitto.url,
        "--username",
        dynsec_mosquitto.admin_username,
        "--password",
        dynsec_mosquitto.admin_password,
        "--identities",
        "--station",
        STATION,
        "--devices",
        "2",
        "--rate",
        "20",
        "--prefix",
        "cli",
        "--duration",
        "30",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    silent: str | None = None
    try:
        for index in range(2):
            # A device reports only once its handshake was acked.
            def reported(data: dict[str, Any], i: int = index) -> bool:
                return data["externalId"] == f"cli-{i:04d}"

            await states.wait_for(reported, within=60)
    except TimeoutError:
        silent = "the simulated devices did not report within 60 s"
    finally:
        if process.returncode is None:  # it may have ended by itself: say why below
            process.terminate()
        _out, err = await asyncio.wait_for(process.communicate(), 30)
    assert silent is None and process.returncode == 0, (silent, err.decode()[-2000:])


def test_simulate_identities_need_an_admin_login(capsys):
    code = main(
        [
            "simulate",
            "--broker",
            "mqtt://127.0.0.1:1",
            "--station",
            "s",
            "--devices",
            "1",
            "--identities",
        ]
    )
    assert code == 2
    assert "dynsec admin" in capsys.readouterr().err


async def test_the_start_up_summary_says_when_devices_cannot_get_accounts(start_hub, mosquitto):
    """A broker reached without the hub's own account: the operator reads the problem and
    the fix in the start-up summary, not only somewhere in the log."""
    from hub.console import startup_summary

    hub = await start_hub(mosquitto.url)
    notes = [line for line in startup_summary(hub) if "SECURITY" in line]
    assert len(notes) == 1, startup_summary(hub)
    assert "BLE provisioning is refused" in notes[0]
    assert "mqtt_devices.username and password" in notes[0]
    runtime = runtime_for(hub)
    assert runtime is not None
    assert runtime.accounts.health()["state"] == "unavailable"


async def test_the_start_up_summary_says_when_identities_are_off(start_hub, mosquitto):
    from hub.console import startup_summary

    hub = await start_hub(mosquitto.url, device_identities="off")
    notes = [line for line in startup_summary(hub) if "SECURITY" in line]
    assert len(notes) == 1 and "device_identities is off" in notes[0], startup_summary(hub)
