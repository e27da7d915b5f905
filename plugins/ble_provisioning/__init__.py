"""BLE provisioning: find ESP32 devices in provisioning mode and put them on the network.

Devices speaking the hub's custom GATT protocol receive Wi-Fi credentials
plus the station's details and a fresh device token; Improv Wi-Fi devices receive Wi-Fi
credentials. The stack is reached through ``BleTransport`` (bleak in production), which
``testing/`` drives over bumble's virtual radio. docs/ble-provisioning.md has the details.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.hookspecs import hookimpl
from hub.runtime_data import RuntimeKey
from plugins.ble_provisioning.config import CONFIG_SCHEMA, BleSettings
from plugins.ble_provisioning.const import DOMAIN
from plugins.ble_provisioning.routes import RuntimeRef, register

if TYPE_CHECKING:
    from hub.core import Hub
    from hub.registrar import Registrar
    from plugins.ble_provisioning.runtime import BleProvisioningRuntime

#: The routes are registered before setup makes the runtime, so they hold this reference
#: and find the runtime in it once (and while) it runs.
RUNTIME_REF: RuntimeKey[RuntimeRef] = RuntimeKey(DOMAIN)


def _ref(hub: Hub) -> RuntimeRef:
    return hub.runtime_data.setdefault(RUNTIME_REF, RuntimeRef)


def runtime_for(hub: Hub) -> BleProvisioningRuntime | None:
    """This hub's running BLE provisioning (for tests and diagnostics)."""
    ref = hub.runtime_data.get(RUNTIME_REF)
    return ref.runtime if ref else None


@hookimpl
def hub_config_schema() -> Any:
    return CONFIG_SCHEMA


@hookimpl
def hub_migrations() -> str:
    return str(Path(__file__).parent / "migrations")


@hookimpl
def hub_register(hub: Hub, registrar: Registrar, config: dict[str, Any]) -> None:
    register(hub, registrar, _ref(hub))


@hookimpl
def hub_frontend_panels(register: Callable[[Any], None]) -> None:
    # The portal's provisioning page lives here, beside the routes it calls (docs/portal.md).
    from plugins.frontend import Panel

    register(
        Panel(
            name="provisioning",
            title="Provisioning",
            static_dir=Path(__file__).parent / "www",
            module="provisioning.js",
            roles=("owner", "admin"),
            order=20,
        )
    )


@hookimpl
async def hub_setup(hub: Hub, config: dict[str, Any]) -> None:
    from plugins.ble_provisioning.runtime import BleProvisioningRuntime
    from plugins.ble_provisioning.transport_factory import create_transport

    settings = BleSettings.from_config(config)
    runtime = BleProvisioningRuntime(hub, settings, create_transport(settings))
    _ref(hub).runtime = runtime
    hub.add_health_info(DOMAIN, runtime.health)
    await runtime.start()


@hookimpl
async def hub_shutdown(hub: Hub) -> None:
    ref = hub.runtime_data.pop(RUNTIME_REF)
    if ref is not None and ref.runtime is not None:
        await ref.runtime.stop()
