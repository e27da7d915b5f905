"""Routes every hub has: health and the OpenAPI document.

``GET /api/health`` is public because monitors and the portal's "is the hub up?" check
have no login. Without credentials it says only that: ``status`` and each integration's
state. The details (broker and gateway addresses, error texts, counters) help someone
mapping the LAN as much as an operator, so they are shown to an owner or admin only:
send a bearer token and the answer is detailed, or 401/403 if the token is not theirs.

``/api/health/live`` and ``/api/health/ready`` are the probes an orchestrator or a
watchdog asks: live is 200 while the process serves at all; ready is 200 only while every
configured integration runs, 503 while starting or degraded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from hub.auth import PUBLIC, requires
from hub.http.json import json_response
from hub.http.openapi import build_openapi
from hub.http.server import authenticate
from hub.registrar import Registrar

if TYPE_CHECKING:
    from hub.core import Hub

HEALTH_DETAILS = requires("user", roles=("owner", "admin"))


def register(hub: Hub, registrar: Registrar) -> None:
    async def health(request: web.Request) -> web.Response:
        """Whether the hub is up; details for an owner or admin (send a bearer token)."""
        report = hub.health()
        if "Authorization" not in request.headers:
            return json_response(
                {"status": report["status"], "integrations": report["integrations"]}
            )
        await authenticate(request, HEALTH_DETAILS, hub.registrations)
        return json_response(report)

    async def live(_request: web.Request) -> web.Response:
        """Liveness: the process serves HTTP (a restart would not help otherwise)."""
        return json_response({"status": "alive"})

    async def ready(_request: web.Request) -> web.Response:
        """Readiness: 200 when every configured integration runs, else 503 and why."""
        status = hub.status()
        return json_response({"status": status, "ready": hub.ready}, 200 if hub.ready else 503)

    async def openapi(_request: web.Request) -> web.Response:
        """OpenAPI 3.1 document of every registered route."""
        return json_response(build_openapi(hub.registrations, title=f"Station Hub ({hub.name})"))

    registrar.http_route("GET", "/api/health", health, auth=PUBLIC, tags=("core",))
    registrar.http_route("GET", "/api/health/live", live, auth=PUBLIC, tags=("core",))
    registrar.http_route("GET", "/api/health/ready", ready, auth=PUBLIC, tags=("core",))
    registrar.http_route("GET", "/api/openapi.json", openapi, auth=PUBLIC, tags=("core",))
