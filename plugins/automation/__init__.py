"""Automations: triggers, conditions and actions that drive devices (docs/automations.md).

Home Assistant's model: an automation watches its triggers (device state, events,
presence, command status, time, the bus), checks its conditions, and runs its actions
(device commands, delays, waits, events, cloud notifications, branches, repeats) in one of
four run modes, leaving a trace of each run. Automations come from the ``automation:``
YAML list (read-only over the API) and from ``/api/automations`` (stored in the
database). Other integrations add trigger and action types with the
``hub_automation_platforms`` hook.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from hub.hookspecs import hookimpl
from hub.runtime_data import RuntimeKey

from .api import register_routes
from .const import DOMAIN
from .engine import builtin_platforms
from .platforms import ActionContext, ActionSkipped, ActionType, TriggerContext, TriggerType
from .runtime import AutomationRuntime
from .schema import Validator, validate_automations

if TYPE_CHECKING:
    from hub.core import Hub
    from hub.registrar import Registrar

__all__ = [
    "ActionContext",
    "ActionSkipped",
    "ActionType",
    "TriggerContext",
    "TriggerType",
    "runtime_for",
]

#: This integration's working state on a hub (hub/runtime_data.py).
RUNTIME: RuntimeKey[AutomationRuntime] = RuntimeKey(DOMAIN)


def runtime_for(hub: Hub) -> AutomationRuntime | None:
    """This hub's automations (for tests and diagnostics)."""
    return hub.runtime_data.get(RUNTIME)


def _config(value: Any) -> list[dict[str, Any]]:
    """The ``automation:`` list, with only the built-in types known (see schema.py)."""
    return validate_automations(value, Validator(builtin_platforms(), strict=False))


@hookimpl
def hub_after_dependencies() -> Sequence[str]:
    # Commands go out through mqtt_devices and notifications through cloud_link: set up
    # after them and stopped before them, so no run meets a stopped transport.
    return ("mqtt_devices", "cloud_link")


@hookimpl
def hub_config_schema() -> Any:
    return vol.Schema(_config)


@hookimpl
def hub_migrations() -> str:
    return str(Path(__file__).parent / "migrations")


@hookimpl
def hub_register(hub: Hub, registrar: Registrar, config: list[dict[str, Any]]) -> None:
    runtime = AutomationRuntime(hub, list(config or []))
    hub.runtime_data.set(RUNTIME, runtime)
    register_routes(registrar, runtime)


@hookimpl
async def hub_setup(hub: Hub) -> None:
    runtime = hub.runtime_data[RUNTIME]
    await runtime.start()
    hub.add_health_info(DOMAIN, runtime.health)


@hookimpl
async def hub_shutdown(hub: Hub) -> None:
    runtime = hub.runtime_data.pop(RUNTIME)
    if runtime is not None:
        await runtime.stop()
