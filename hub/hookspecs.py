"""Every hook an integration can implement, in one place.

Hooks are synchronous because pluggy is; where a docstring says "may return an awaitable",
the core awaits whatever comes back. The full story of each hook, with its exact signature
and an example, is in docs/writing-integrations.md; ``tests/test_hookspecs.py`` keeps that
page and this module in step.
"""

# Hook specifications are signatures only: pluggy never runs their bodies, so a docstring
# is the whole body even where the hook returns a value.
# mypy: disable-error-code="empty-body"

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from hub.core import Hub
    from hub.registrar import Registrar
    from hub.subcommands import Subcommands

PROJECT = "station_hub"
ENTRY_POINT_GROUP = "station_hub.integrations"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def hub_dependencies() -> Sequence[str]:
    """Names of the integrations that must be set up before this one."""


@hookspec
def hub_after_dependencies() -> Sequence[str]:
    """Integrations set up before this one when configured; it runs without them too."""


@hookspec
def hub_config_schema() -> Any:
    """A voluptuous schema (or dict) for this integration's own YAML key."""


@hookspec
def hub_migrations() -> str:
    """Directory of this integration's Alembic revisions (its own version table)."""


@hookspec
def hub_register(hub: Hub, registrar: Registrar, config: dict[str, Any]) -> None:
    """Hand routes, topic handlers, RPC methods, transports and auth schemes to the core."""


@hookspec
def hub_setup(hub: Hub, config: dict[str, Any]) -> Awaitable[None] | None:
    """Start the integration's work; may return an awaitable."""


@hookspec
def hub_shutdown(hub: Hub) -> Awaitable[None] | None:
    """Stop the integration's work and flush what it holds; may return an awaitable."""


@hookspec
def hub_cli_commands(subparsers: Subcommands) -> None:
    """Add ``station-hub`` sub-commands; set ``func`` on each parser."""


@hookspec
def hub_automation_platforms(register: Callable[[Any], None]) -> None:
    """Add automation trigger and action types: ``register(TriggerType(...) | ActionType(...))``."""


@hookspec
def hub_frontend_panels(register: Callable[[Any], None]) -> None:
    """Add portal pages and dashboard widget types: ``register(plugins.frontend.Panel(...))``."""
