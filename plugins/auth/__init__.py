"""Auth integration: users, roles, station roles, device and agent tokens.

Registers the ``user``, ``device`` and ``agent`` auth schemes that routes name in
``requires(...)``, the sign-in routes under ``/api/auth``, and the ``station-hub user``
commands. Other integrations reach users and stations through ``get_user_store(hub)``;
the station's cloud members are offered as the core's typed ``STATION_MEMBERS`` service
(cloud_members.py), so the cloud link needs no import of this package. See docs/auth.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hub.hookspecs import hookimpl
from hub.runtime_data import RuntimeKey
from hub.services import STATION_MEMBERS

from .cloud_members import CloudMembers
from .config import CONFIG_SCHEMA, resolve_settings
from .const import DOMAIN, MIGRATIONS
from .errors import AuthStoreError, ConflictError, InvalidValueError, NotFoundError
from .login_routes import register_login_routes
from .models import ApiToken, CloudMember, Member, Station, User
from .runtime import AuthRuntime
from .schemes import AgentScheme, DeviceScheme, UserScheme
from .store import UserStore
from .token_routes import register_token_routes
from .user_routes import register_user_routes

if TYPE_CHECKING:
    from hub.core import Hub
    from hub.registrar import Registrar
    from hub.subcommands import Subcommands

__all__ = [
    "ApiToken",
    "AuthStoreError",
    "CloudMember",
    "ConflictError",
    "InvalidValueError",
    "Member",
    "NotFoundError",
    "Station",
    "User",
    "UserStore",
    "get_user_store",
]

#: This integration's working state on a hub (hub/runtime_data.py).
RUNTIME: RuntimeKey[AuthRuntime] = RuntimeKey(DOMAIN)


def get_user_store(hub: Hub) -> UserStore:
    """The hub's user store; LookupError when the auth integration is not running on it.

    Usable from the auth integration's registration on, so an integration that lists
    ``auth`` in ``hub_dependencies`` can call it from its own ``hub_setup``.
    """
    return hub.runtime_data[RUNTIME].users


def runtime_for(hub: Hub) -> AuthRuntime | None:
    """This hub's auth runtime (tests and diagnostics)."""
    return hub.runtime_data.get(RUNTIME)


@hookimpl
def hub_config_schema() -> Any:
    return CONFIG_SCHEMA


@hookimpl
def hub_migrations() -> str:
    return str(MIGRATIONS)


@hookimpl
def hub_register(hub: Hub, registrar: Registrar, config: dict[str, Any]) -> None:
    # An unusable secret raises here: the integration fails, its schemes are never
    # registered, and every protected route answers 401 (fail closed).
    settings = resolve_settings(config, hub.settings, hub.config_dir)
    runtime = AuthRuntime(hub, settings)
    registrar.auth_scheme("user", UserScheme(runtime.codec, runtime.users, runtime.sessions))
    registrar.auth_scheme("device", DeviceScheme(hub))
    registrar.auth_scheme("agent", AgentScheme(settings.agent_token))
    register_login_routes(registrar, runtime)
    register_token_routes(registrar, runtime)
    register_user_routes(registrar, runtime)
    registrar.provide(STATION_MEMBERS, CloudMembers(runtime.users))
    hub.runtime_data.set(RUNTIME, runtime)


@hookimpl
async def hub_setup(hub: Hub, config: dict[str, Any]) -> None:
    runtime = hub.runtime_data[RUNTIME]
    await runtime.start()
    if await runtime.users.count_users() == 0:
        # A new hub is claimable by whoever onboards first: tell the operator how.
        hub.add_startup_note(
            f"No user yet: create the owner with: station-hub user add NAME --role owner"
            f" -c {hub.config_dir} (or POST {hub.http_url}/api/auth/onboarding)"
        )


@hookimpl
def hub_cli_commands(subparsers: Subcommands) -> None:
    from .cli import add_commands

    add_commands(subparsers)
