"""Cloud link: one outbound WebSocket to the cloud, speaking JSON-RPC 2.0 (docs/cloud-protocol.md).

The station authenticates with its token, serves the cloud's calls (device commands,
snapshots, every RPC method integrations registered), notifies device state, events and
presence on the channels the cloud chose, and applies the cloud's legacy identity
messages to the auth integration's tables. See docs/cloud-protocol.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.hookspecs import hookimpl
from hub.runtime_data import RuntimeKey
from hub.services import CLOUD_NOTIFICATIONS
from plugins.cloud_link.config import CONFIG_SCHEMA, LinkSettings
from plugins.cloud_link.const import DOMAIN
from plugins.cloud_link.notifications import LinkNotifications
from plugins.cloud_link.routes import register_routes
from plugins.cloud_link.runtime import CloudLinkRuntime

if TYPE_CHECKING:
    from hub.core import Hub
    from hub.registrar import Registrar


#: This integration's working state on a hub (hub/runtime_data.py).
RUNTIME: RuntimeKey[CloudLinkRuntime] = RuntimeKey(DOMAIN)


def runtime_for(hub: Hub) -> CloudLinkRuntime | None:
    """This hub's cloud link (for tests and diagnostics)."""
    return hub.runtime_data.get(RUNTIME)


@hookimpl
def hub_after_dependencies() -> Sequence[str]:
    # Identity messages need the auth integration's tables, and commands (factory_reset
    # among them) go out through mqtt_devices; the link itself (RPC, notifications) is
    # useful without either, and identity messages are refused when auth is absent. Set up
    # after them and stopped before them, so nothing the cloud sends meets a stopped peer.
    return ("auth", "mqtt_devices")


@hookimpl
def hub_config_schema() -> Any:
    return CONFIG_SCHEMA


@hookimpl
def hub_migrations() -> str:
    return str(Path(__file__).parent / "migrations")


@hookimpl
def hub_register(hub: Hub, registrar: Registrar, config: dict[str, Any]) -> None:
    settings = LinkSettings.from_config(config, hub.settings.cloud_host)
    runtime = CloudLinkRuntime(hub, settings)
    hub.runtime_data.set(RUNTIME, runtime)
    register_routes(registrar, runtime)
    # Through the registrar like everyone's, so a name clash is refused, not shadowed.
    runtime.methods.register(registrar)
    if settings.url is not None:
        registrar.provide(CLOUD_NOTIFICATIONS, LinkNotifications(runtime.link))


@hookimpl
def hub_frontend_panels(register: Callable[[Any], None]) -> None:
    # The portal's cloud page lives here, beside the routes it calls (docs/portal.md).
    from plugins.frontend import Panel

    register(
        Panel(
            name="cloud",
            title="Cloud",
            static_dir=Path(__file__).parent / "www",
            module="cloud.js",
            order=40,
        )
    )


@hookimpl
async def hub_setup(hub: Hub, config: dict[str, Any]) -> None:
    runtime = hub.runtime_data[RUNTIME]
    await runtime.start()
    hub.add_health_info(DOMAIN, runtime.health)


@hookimpl
async def hub_shutdown(hub: Hub) -> None:
    runtime = hub.runtime_data.pop(RUNTIME)
    if runtime is not None:
        await runtime.stop()
