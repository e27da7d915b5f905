"""A fake integration whose routes declare every kind of requirement the auth schemes
check, so the tests exercise the schemes exactly as a real integration would use them.

``CALLS`` records every handler run: a refused request must leave it unchanged.
"""

from __future__ import annotations

from aiohttp import web

from hub.auth import requires
from hub.hookspecs import hookimpl
from hub.http.json import json_response

CALLS: list[tuple[str, str]] = []

ROUTES = [
    ("GET", "/api/test/user", requires("user")),
    ("DELETE", "/api/test/user", requires("user")),
    ("GET", "/api/test/admin", requires("user", roles=("owner", "admin"))),
    ("GET", "/api/test/station", requires("user", station_roles=("owner", "admin", "member"))),
    ("POST", "/api/test/station/invite", requires("user", station_roles=("owner",))),
    (
        "GET",
        "/api/test/stations/{station_id}/settings",
        requires("user", station_roles=("owner", "admin")),
    ),
    (
        "GET",
        "/api/test/admin-station",
        requires("user", roles=("owner", "admin"), station_roles=("owner", "admin")),
    ),
    ("POST", "/api/test/device/events", requires("device")),
    ("GET", "/api/test/device/admin", requires("device", roles=("admin",))),
    ("PUT", "/api/test/agent/wifi", requires("agent")),
]


@hookimpl
def hub_dependencies():
    return ("auth",)


@hookimpl
def hub_register(hub, registrar, config):
    async def handler(request: web.Request) -> web.Response:
        CALLS.append((request.method, request.path))
        principal = request["principal"]
        return json_response(
            {
                "kind": principal.kind,
                "id": principal.id,
                "name": principal.name,
                "role": principal.role,
                "extra": principal.extra,
            }
        )

    for method, path, requirement in ROUTES:
        registrar.http_route(method, path, handler, auth=requirement)
