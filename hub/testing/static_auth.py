"""A test-only integration that registers ``user``, ``device`` and ``agent`` schemes
backed by fixed tokens from its YAML, so integrations can be tested without the real
auth integration. Never use it in production: the tokens are plain configuration.

```yaml
static_auth:
  users: {owner-token: owner, admin-token: admin, user-token: user}
  agent_token: agent-secret
```
Device tokens: any device registered with ``expect_device(token_digest=sha256(token))``.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING, Any

import voluptuous as vol
from aiohttp import web

from hub.auth import AuthRequirement, Principal
from hub.hookspecs import hookimpl
from hub.http.errors import ApiError

if TYPE_CHECKING:
    from hub.core import Hub
    from hub.registrar import Registrar

NAME = "static_auth"


def _bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "unauthorized", "missing bearer token")
    return token.strip()


class StaticUserAuth:
    def __init__(self, users: dict[str, str]) -> None:
        self.users = users

    async def authenticate_token(self, token: str) -> Principal:
        for known, role in self.users.items():
            if hmac.compare_digest(known.encode(), token.encode()):
                return Principal("user", f"user-{role}", name=role, role=role)
        raise ApiError(401, "unauthorized", "unknown token")

    async def authenticate(self, request: web.Request, requirement: AuthRequirement) -> Principal:
        principal = await self.authenticate_token(_bearer(request))
        if requirement.roles and principal.role not in requirement.roles:
            raise ApiError(403, "forbidden", "role not allowed")
        return principal


class StaticAgentAuth:
    def __init__(self, token: str | None) -> None:
        self.token = token

    async def authenticate_token(self, token: str) -> Principal:
        if not self.token or not hmac.compare_digest(self.token.encode(), token.encode()):
            raise ApiError(401, "unauthorized", "bad agent token")
        return Principal("agent", "agent", name="agent")

    async def authenticate(self, request: web.Request, requirement: AuthRequirement) -> Principal:
        return await self.authenticate_token(_bearer(request))


class StaticDeviceAuth:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    async def authenticate_token(self, token: str) -> Principal:
        digest = hashlib.sha256(token.encode()).hexdigest()
        device = self.hub.devices.by_token_digest(digest)
        if device is None:
            raise ApiError(401, "unauthorized", "unknown device token")
        return Principal("device", device.id, name=device.external_id)

    async def authenticate(self, request: web.Request, requirement: AuthRequirement) -> Principal:
        token = request.headers.get("X-Device-Token") or request.headers.get("Device-Token")
        if not token:
            raise ApiError(401, "unauthorized", "missing device token")
        return await self.authenticate_token(token)


@hookimpl
def hub_config_schema() -> Any:
    return vol.Schema(
        {vol.Optional("users", default={}): {str: str}, vol.Optional("agent_token"): str}
    )


@hookimpl
def hub_register(hub: Hub, registrar: Registrar, config: dict[str, Any]) -> None:
    registrar.auth_scheme("user", StaticUserAuth(config["users"]))
    registrar.auth_scheme("agent", StaticAgentAuth(config.get("agent_token")))
    registrar.auth_scheme("device", StaticDeviceAuth(hub))
