"""Routes every hub has: health and the OpenAPI document."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from hub.auth import PUBLIC
from hub.http.json import json_response
from hub.http.openapi import build_openapi
from hub.registrar import Registrar

if TYPE_CHECKING:
    from hub.core import Hub


def register(hub: Hub, registrar: Registrar) -> None:
    async def health(_request: web.Request) -> web.Response:
        """Liveness and the state of every declared integration."""
        return json_response(hub.health())

    async def openapi(_request: web.Request) -> web.Response:
        """OpenAPI 3.1 document of every registered route."""
        return json_response(build_openapi(hub.registrations, title=f"Station Hub ({hub.name})"))

    registrar.http_route("GET", "/api/health", health, auth=PUBLIC, tags=("core",))
    registrar.http_route("GET", "/api/openapi.json", openapi, auth=PUBLIC, tags=("core",))
