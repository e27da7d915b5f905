"""MQTT devices: ESP32s report over MQTT and receive their commands (docs/mqtt-protocol.md).

The hub keeps one persistent MQTT session; every topic registered with the core (this
integration's device-topic handlers included) is subscribed through it. Bad messages are dropped and
counted, never fatal. On Mosquitto with its dynamic security plugin each device gets its
own broker account that may act only as itself (accounts.py, identities.py). See
docs/mqtt-protocol.md for the wire format, docs/security.md for the threat model and
docs/performance.md for the ingest measurements.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.hookspecs import hookimpl
from hub.runtime_data import RuntimeKey
from hub.services import DEVICE_BROKER

from .config import CONFIG_SCHEMA, settings_from_config
from .const import DOMAIN
from .device_broker import device_broker
from .runtime import MqttDevicesRuntime

if TYPE_CHECKING:
    from hub.core import Hub
    from hub.registrar import Registrar
    from hub.subcommands import Subcommands

#: This integration's working state on a hub (hub/runtime_data.py).
RUNTIME: RuntimeKey[MqttDevicesRuntime] = RuntimeKey(DOMAIN)


def runtime_for(hub: Hub) -> MqttDevicesRuntime | None:
    """This hub's MQTT runtime (for tests, benchmarks and diagnostics)."""
    return hub.runtime_data.get(RUNTIME)


@hookimpl
def hub_config_schema() -> Any:
    return CONFIG_SCHEMA


@hookimpl
def hub_migrations() -> str:
    # mqtt_session_filters: what the hub's persistent broker session may hold.
    return str(Path(__file__).parent / "migrations")


@hookimpl
def hub_register(hub: Hub, registrar: Registrar, config: dict[str, Any]) -> None:
    settings = settings_from_config(config)
    runtime = MqttDevicesRuntime(hub, settings)
    hub.runtime_data.set(RUNTIME, runtime)
    runtime.register(registrar)
    registrar.provide(DEVICE_BROKER, device_broker(settings))


@hookimpl
async def hub_setup(hub: Hub, config: dict[str, Any]) -> None:
    await hub.runtime_data[RUNTIME].start()


@hookimpl
async def hub_shutdown(hub: Hub) -> None:
    runtime = hub.runtime_data.pop(RUNTIME)
    if runtime is not None:
        await runtime.stop()


@hookimpl
def hub_cli_commands(subparsers: Subcommands) -> None:
    from .simulator.cli import add_simulate_command

    add_simulate_command(subparsers)
