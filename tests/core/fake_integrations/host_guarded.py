"""Asks the core to check ``Host`` while its flag is set (as an unclaimed hub would)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hub.auth import PUBLIC
from hub.hookspecs import hookimpl
from hub.http.hosts import host_policy
from hub.http.json import json_response

GUARDED = {"now": True}


@hookimpl
def hub_register(hub: Any, registrar: Any, config: dict[str, Any]) -> None:
    async def ping(_request: web.Request) -> web.Response:
        """Answers while the Host is one the hub answers to."""
        return json_response({"pong": True})

    registrar.http_route("GET", "/api/guarded/ping", ping, auth=PUBLIC)
    host_policy(hub.runtime_data).require_when(lambda: GUARDED["now"])
