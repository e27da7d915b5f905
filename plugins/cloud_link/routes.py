"""HTTP routes: the link's status, and claiming the station (storing its cloud token).

Claiming is allowed to the station's owner (a user) and to the station agent (its own
token): the route declares both with the core's ``any_of``, so the core checks them
before the handler runs and the OpenAPI document lists both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import voluptuous as vol
from aiohttp import web

from hub.auth import any_of, requires
from hub.http.json import json_response, read_json

if TYPE_CHECKING:
    from hub.registrar import Registrar
    from plugins.cloud_link.runtime import CloudLinkRuntime

CLAIM_BODY = vol.Schema(
    {
        vol.Required(
            "stationToken", description="The token the cloud issued for this station."
        ): vol.All(str, vol.Strip, vol.Length(min=1, max=4096))
    }
)


def register_routes(registrar: Registrar, runtime: CloudLinkRuntime) -> None:
    async def status(_request: web.Request) -> web.Response:
        """State of the cloud link (docs/cloud-protocol.md)."""
        return json_response(runtime.status())

    async def claim(request: web.Request) -> web.Response:
        """Store the station token the cloud issued and connect with it."""
        body = await read_json(request, CLAIM_BODY)
        await runtime.claim(body["stationToken"])
        return json_response(runtime.status())

    registrar.http_route("GET", "/api/cloud/status", status, auth=requires("user"))
    registrar.http_route(
        "POST",
        "/api/cloud/claim",
        claim,
        auth=any_of(requires("user", roles=("owner",)), requires("agent")),
        request_schema=CLAIM_BODY,
    )
