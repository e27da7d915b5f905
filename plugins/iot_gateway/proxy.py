"""The ``/api/iot/*`` routes that relay a call to the gateway, and the token route.

Each route is bound to one upstream path key when it is registered; the handler never
reads the caller's path, so no request can reach an upstream path outside this table.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from hub.auth import requires
from hub.http.json import json_response, read_body
from hub.registrar import Handler, Registrar
from hub.timestamps import iso

from .api_errors import gateway_errors_as_api_errors
from .const import API_PREFIX, PRIVILEGED_ROLES
from .headers import request_headers_for_upstream, response_headers_for_caller
from .runtime import IotGatewayRuntime


@dataclass(frozen=True, slots=True)
class ProxyRoute:
    path: str
    upstream_key: str
    summary: str
    roles: tuple[str, ...] = ()


PROXY_ROUTES = (
    ProxyRoute("/codes/values", "codes_values", "Current values of one or more point codes"),
    ProxyRoute("/codes/history", "codes_history", "Historical values of a point in a time range"),
    ProxyRoute("/codes/set", "codes_set", "Write a value to a writable point"),
    ProxyRoute(
        "/codes/force-set",
        "codes_force_set",
        "Force-write a value, bypassing the gateway's validation",
        PRIVILEGED_ROLES,
    ),
    ProxyRoute("/alarms", "alarms", "Alarm history"),
    ProxyRoute("/alarm-configs", "alarm_configs", "Alarm threshold configuration"),
)

_PROXY_DESCRIPTION = (
    "The body is forwarded to the IoT gateway byte for byte and the gateway's status and "
    "body are returned unchanged, minus credential and hop-by-hop headers. 502 when the "
    "gateway cannot be reached or the hub cannot authenticate to it, 504 when it is too slow."
)


def proxy_handler(runtime: IotGatewayRuntime, upstream_key: str) -> Handler:
    async def relay(request: web.Request) -> web.Response:
        body = await read_body(request)
        answer = await runtime.gateway.call(
            upstream_key, body=body, headers=request_headers_for_upstream(request.headers)
        )
        return web.Response(
            status=answer.status,
            body=answer.body,
            headers=response_headers_for_caller(answer.headers),
        )

    return gateway_errors_as_api_errors(relay)


def token_handler(runtime: IotGatewayRuntime) -> Handler:
    async def current_token(_request: web.Request) -> web.Response:
        """The access token the hub uses with the gateway (for debugging)."""
        pair = await runtime.gateway.tokens.valid_pair()
        return json_response(
            {"accessToken": pair.access_token, "expiresAt": iso(pair.expires_at / 1000)},
            headers={"Cache-Control": "no-store"},
        )

    return gateway_errors_as_api_errors(current_token)


def register_proxy_routes(registrar: Registrar, runtime: IotGatewayRuntime) -> None:
    tags = ("iot",)
    registrar.http_route(
        "GET",
        f"{API_PREFIX}/token",
        token_handler(runtime),
        auth=requires("user", roles=PRIVILEGED_ROLES),
        summary="The cached upstream access token and its expiry (epoch ms)",
        tags=tags,
    )
    for route in PROXY_ROUTES:
        registrar.http_route(
            "POST",
            f"{API_PREFIX}{route.path}",
            proxy_handler(runtime, route.upstream_key),
            auth=requires("user", roles=route.roles),
            summary=route.summary,
            description=_PROXY_DESCRIPTION,
            tags=tags,
        )
