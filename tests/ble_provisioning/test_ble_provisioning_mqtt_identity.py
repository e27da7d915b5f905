"""BLE provisioning hands a device its own MQTT account, never the hub's (issue #11 §1).

A real hub runs both integrations: BLE over the virtual radio, MQTT on a real Mosquitto with
the dynamic security plugin. The simulated ESP32 records the document it received; the
test then logs in with exactly what the device got.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import cast

import aiohttp
import aiomqtt
import pytest

from hub.core import Hub
from hub.registrar import Registrar, Registrations
from hub.services import DEVICE_BROKER
from plugins.ble_provisioning.config import BleSettings
from plugins.ble_provisioning.provisioner import Provisioner, ProvisioningFailed
from plugins.ble_provisioning.testing import SimulatedProvisioningDevice
from plugins.mqtt_devices import runtime_for as mqtt_runtime
from plugins.mqtt_devices.config import CONFIG_SCHEMA, settings_from_config
from plugins.mqtt_devices.device_broker import device_broker
from tests.ble_provisioning.conftest import USER_TOKEN, WAIT, hub_config
from tests.mqtt_devices.helpers import device_client

ADDRESS = "C4:DD:57:30:00:01"
EXTERNAL_ID = "esp32-c4dd57300001"
NETWORKS = {"Farm WiFi": "correct horse"}


async def provisioning_hub(start_hub, hci_endpoint, broker):
    config = hub_config(hci_endpoint.spec)
    config["mqtt_devices"] = {"broker": broker.admin_url, "reconnect": {"initial": 0.05}}
    hub = await start_hub(config)
    runtime = mqtt_runtime(hub)
    assert runtime is not None
    await asyncio.wait_for(runtime.accounts.ready.wait(), WAIT)
    return hub


async def provision(hub, open_scan, **body):
    socket = await open_scan(hub)
    await socket.candidate(ADDRESS)
    async with (
        aiohttp.ClientSession(
            base_url=hub.http_url, headers={"Authorization": f"Bearer {USER_TOKEN}"}
        ) as api,
        api.post("/api/provisioning/add", json={"address": ADDRESS, **body}) as response,
    ):
        return response.status, await response.json()


async def broker_refuses(url: str, payload: dict) -> None:
    """The broker turns away the account the device was given."""
    with pytest.raises(aiomqtt.MqttError):
        async with device_client(
            url,
            payload["mqttClientId"],
            username=payload["mqttUsername"],
            password=payload["mqttPassword"],
        ):
            pass


async def test_the_device_gets_its_own_account_and_can_use_it(
    virtual_air, hci_endpoint, start_hub, open_scan, dynsec_mosquitto
):
    hub = await provisioning_hub(start_hub, hci_endpoint, dynsec_mosquitto)
    device = await SimulatedProvisioningDevice.start(virtual_air, ADDRESS, networks=NETWORKS)
    status, body = await provision(hub, open_scan, ssid="Farm WiFi", password="correct horse")
    assert status == 201, body
    [payload] = device.payloads
    assert payload["mqttUsername"] == payload["mqttClientId"] == EXTERNAL_ID
    assert len(payload["mqttPassword"]) >= 32
    assert dynsec_mosquitto.admin_password not in str(payload)
    assert "mqttPassword" not in str(body)
    async with device_client(
        dynsec_mosquitto.url,
        payload["mqttClientId"],
        username=payload["mqttUsername"],
        password=payload["mqttPassword"],
    ) as esp:
        base = f"station/{payload['stationId']}/device/{EXTERNAL_ID}"
        await esp.subscribe(f"{base}/handshake/ack")
        await esp.publish(f"{base}/handshake", {"deviceType": "esp32-pump"})
        name, ack = await esp.next_json()
    assert name == f"{base}/handshake/ack"
    assert ack["ok"] is True and ack["deviceId"] == body["device"]["id"]
    # Forgetting the device deletes its account.
    assert await hub.devices.remove(body["device"]["id"])
    runtime = mqtt_runtime(hub)
    assert runtime is not None
    assert runtime.accounts.forgotten is not None
    await runtime.accounts.forgotten.settle()
    await broker_refuses(dynsec_mosquitto.url, payload)


async def test_a_failed_provisioning_leaves_no_account_behind(
    virtual_air, hci_endpoint, start_hub, open_scan, dynsec_mosquitto
):
    hub = await provisioning_hub(start_hub, hci_endpoint, dynsec_mosquitto)
    device = await SimulatedProvisioningDevice.start(virtual_air, ADDRESS, networks=NETWORKS)
    status, body = await provision(hub, open_scan, ssid="Farm WiFi", password="wrong horse")
    assert status == 422, body
    [payload] = device.payloads
    await broker_refuses(dynsec_mosquitto.url, payload)


def provisioner_for(mqtt: dict | None, **ble) -> Provisioner:
    """A provisioner on a hub where mqtt_devices (when given) offers its broker address
    through the core's DEVICE_BROKER service, as its hub_register does."""
    registrations = Registrations()
    if mqtt is not None:
        settings = settings_from_config(CONFIG_SCHEMA(mqtt))
        Registrar(registrations, "mqtt_devices").provide(DEVICE_BROKER, device_broker(settings))
    # A stand-in hub with only what Provisioner.broker_url reads.
    hub = cast(
        Hub,
        SimpleNamespace(registrations=registrations, settings=SimpleNamespace(base_url=None)),
    )
    return Provisioner(hub, BleSettings.from_config(ble), lambda: None, lambda _a: None, print)


def test_the_broker_url_never_carries_the_hubs_login():
    assert (
        provisioner_for({"broker": "mqtt://hub:s3cret@192.168.1.10:1883"}).broker_url()
        == "mqtt://192.168.1.10:1883"
    )
    same_user = provisioner_for(
        {"broker": "auto", "username": "hub", "password": "s3cret"},
        broker_url="mqtts://hub:s3cret@station.lan:8883",
    )
    assert same_user.broker_url() == "mqtts://station.lan:8883"
    # A device account written there on purpose (a broker without identities) is kept.
    shared = provisioner_for({"broker": "auto"}, broker_url="mqtt://devices:pw@station.lan")
    assert shared.broker_url() == "mqtt://devices:pw@station.lan"


def test_the_broker_address_comes_from_the_mqtt_integrations_service():
    assert provisioner_for({"broker": "mqtts://[fd00::5]:8883"}).broker_url() == (
        "mqtts://[fd00::5]:8883"
    )
    # A loopback broker, or one chosen at start-up, tells devices nothing: BASE_URL does.
    for mqtt in ({"broker": "mqtt://127.0.0.1:1883"}, {"broker": "auto"}, None):
        provisioner = provisioner_for(mqtt)
        with pytest.raises(ProvisioningFailed) as refused:
            provisioner.broker_url()
        assert refused.value.code == "broker_url_unknown"
        provisioner._hub.settings.base_url = "http://station.lan:8123"
        assert provisioner.broker_url() == "mqtt://station.lan:1883"
