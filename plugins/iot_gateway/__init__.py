"""IoT gateway integration: an authenticated proxy to the upstream gateway (docs/iot-gateway.md).

The portal calls ``/api/iot/*`` with its own login; the hub calls the gateway with the
app's token, which it keeps fresh in a single database row. Object metadata (what each
point ``code`` is) lives in the hub and can be synced from the gateway. See
docs/iot-gateway.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.hookspecs import hookimpl
from hub.integrations import RUNNING, SETTING_UP, UNAVAILABLE
from hub.runtime_data import RuntimeKey

from .config import CONFIG_SCHEMA, resolve_settings
from .const import DOMAIN
from .objects_api import register_object_routes
from .proxy import register_proxy_routes
from .runtime import IotGatewayRuntime

if TYPE_CHECKING:
    from hub.core import Hub
    from hub.registrar import Registrar

#: This integration's working state on a hub (hub/runtime_data.py).
RUNTIME: RuntimeKey[IotGatewayRuntime] = RuntimeKey(DOMAIN)


def runtime_for(hub: Hub) -> IotGatewayRuntime | None:
    """This hub's gateway runtime (for tests and diagnostics)."""
    return hub.runtime_data.get(RUNTIME)


@hookimpl
def hub_dependencies() -> Sequence[str]:
    # Routes name the "user" auth scheme; when no integration provides it they answer 401,
    # so the proxy stays closed without a hard dependency on one auth integration.
    return ()


@hookimpl
def hub_config_schema() -> Any:
    return CONFIG_SCHEMA


@hookimpl
def hub_migrations() -> str:
    return str(Path(__file__).parent / "migrations")


@hookimpl
def hub_register(hub: Hub, registrar: Registrar, config: dict[str, Any]) -> None:
    def report(reachable: bool, reason: str | None) -> None:
        if hub.integration_state(DOMAIN) in (SETTING_UP, RUNNING, UNAVAILABLE):
            hub.set_integration_state(DOMAIN, RUNNING if reachable else UNAVAILABLE, reason)

    runtime = IotGatewayRuntime(resolve_settings(config, hub.settings), report)
    hub.runtime_data.set(RUNTIME, runtime)
    register_proxy_routes(registrar, runtime)
    register_object_routes(registrar, runtime)


@hookimpl
def hub_frontend_panels(register: Callable[[Any], None]) -> None:
    # The portal's IoT objects page lives here, beside the routes it calls (docs/portal.md).
    from plugins.frontend import Panel

    register(
        Panel(
            name="iot",
            title="IoT objects",
            static_dir=Path(__file__).parent / "www",
            module="objects.js",
            order=50,
        )
    )


@hookimpl
async def hub_setup(hub: Hub, config: dict[str, Any]) -> None:
    runtime = hub.runtime_data[RUNTIME]
    await runtime.start(hub.db.require_engine())
    hub.add_health_info(DOMAIN, runtime.health)
    # Say now, not at the first failed call, when nothing answers at the configured address.
    await runtime.reachability.probe()
    hub.create_task(runtime.reachability.watch(), name="iot_gateway.reachability")


@hookimpl
async def hub_shutdown(hub: Hub) -> None:
    runtime = hub.runtime_data.pop(RUNTIME)
    if runtime is not None:
        await runtime.stop()
