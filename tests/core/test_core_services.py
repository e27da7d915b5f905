"""Typed services between integrations (hub/services.py): one provider each, withdrawn
with a failed provider, and the built-ins' seams use them instead of each other's
internals."""

from __future__ import annotations

import ast
from pathlib import Path
from types import ModuleType

import pytest

from hub import hookspecs
from hub.registrar import Registrar, RegistrationError, Registrations
from hub.services import DEVICE_BROKER, DeviceBroker, ServiceKey

ROOT = Path(__file__).parents[2]
GREETING: ServiceKey[str] = ServiceKey("greeting")


def test_one_provider_per_service_and_withdrawn_with_it():
    registrations = Registrations()
    Registrar(registrations, "lamp").provide(GREETING, "hello")
    assert registrations.services.get(GREETING) == "hello"
    assert registrations.services.provider(GREETING) == "lamp"
    with pytest.raises(
        RegistrationError, match="door: service greeting is already provided by lamp"
    ):
        Registrar(registrations, "door").provide(GREETING, "hi")
    registrations.withdraw("lamp")
    assert registrations.services.get(GREETING) is None


def _provider(fail_setup: bool) -> ModuleType:
    module = ModuleType("provider")

    def hub_register(registrar):
        registrar.provide(GREETING, "hello")

    def hub_setup():
        if fail_setup:
            raise RuntimeError("no")

    # ModuleType declares no hook attributes; a module made at run time gets them set.
    module.hub_register = hookspecs.hookimpl(hub_register)  # type: ignore[attr-defined]
    module.hub_setup = hookspecs.hookimpl(hub_setup)  # type: ignore[attr-defined]
    return module


async def test_a_running_hub_serves_a_provided_service_and_forgets_a_failed_one(hub_factory):
    hub = await hub_factory({"provider": {}}, integrations={"provider": _provider(False)})
    assert hub.registrations.services.get(GREETING) == "hello"
    failed = await hub_factory({"provider": {}}, integrations={"provider": _provider(True)})
    assert failed.integration_state("provider") == "failed"
    assert failed.registrations.services.get(GREETING) is None


def test_the_device_broker_never_carries_the_hubs_login():
    broker = DeviceBroker(url="mqtt://station.lan:1883", hub_username="hub")
    assert broker.for_devices("mqtt://hub:secret@station.lan:1883") == "mqtt://station.lan:1883"
    assert broker.for_devices("mqtt://dev:pw@station.lan") == "mqtt://dev:pw@station.lan"
    assert "hub" not in repr(broker)


async def test_mqtt_devices_offers_its_broker_address(hub_factory):
    hub = await hub_factory(
        {
            "mqtt_devices": {
                "broker": "mqtt://hub:s3cret@192.0.2.10:1883",
                "device_identities": "off",
            }
        }
    )
    broker = hub.registrations.services.get(DEVICE_BROKER)
    assert broker is not None
    assert broker.url == "mqtt://192.0.2.10:1883"


def _imports(package: str) -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "plugins" / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
    return found


def test_the_cloud_link_does_not_import_the_auth_integration():
    assert not [name for name in _imports("cloud_link") if name.startswith("plugins.auth")]
