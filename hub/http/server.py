"""Turns the registered routes into an aiohttp application and serves it.

Every handler is wrapped by ``_guard`` before aiohttp sees it: the route's declared auth
scheme must accept the request first, and a route whose scheme nobody registered answers
401. HEAD is added for every GET with the same guard, so HEAD can never bypass auth.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING

from aiohttp import web

from hub.http.errors import ApiError
from hub.http.middleware import add_security_headers, cors_middleware, error_middleware
from hub.registrar import Handler, Registrations, Route

if TYPE_CHECKING:
    from hub.core import Hub

_LOGGER = logging.getLogger(__name__)

HUB_KEY: web.AppKey[Hub] = web.AppKey("hub")


def _guard(
    route: Route, registrations: Registrations, is_failed: Callable[[str], str | None]
) -> Handler:
    requirement = route.auth
    handler = route.handler

    async def guarded(request: web.Request) -> web.StreamResponse:
        failure = is_failed(route.integration)
        if failure is not None:
            raise ApiError(
                503,
                "integration_unavailable",
                f"integration {route.integration} is not running: {failure}",
            )
        if requirement.scheme is not None:
            scheme = registrations.auth_scheme(requirement.scheme)
            if scheme is None:
                raise ApiError(
                    401,
                    "auth_unavailable",
                    f"this route needs {requirement.scheme!r} authentication and no running "
                    "integration provides it",
                    headers={"WWW-Authenticate": "Bearer"},
                )
            request["principal"] = await scheme.authenticate(request, requirement)
        return await handler(request)

    guarded.__doc__ = handler.__doc__
    return guarded


def build_app(
    hub: Hub,
    *,
    max_body_bytes: int,
    cors_origins: list[str],
) -> web.Application:
    app = web.Application(
        client_max_size=max_body_bytes,
        # CORS outermost so refusals rendered by the error middleware carry its headers.
        middlewares=[cors_middleware(cors_origins), error_middleware],
    )
    app[HUB_KEY] = hub
    app.on_response_prepare.append(add_security_headers)
    registrations = hub.registrations
    for route in sorted(registrations.routes.values(), key=lambda item: (item.path, item.method)):
        guarded = _guard(route, registrations, hub.integration_failure)
        if route.method == "GET":
            app.router.add_get(route.path, guarded, allow_head=not route.websocket)
        else:
            app.router.add_route(route.method, route.path, guarded)
    return app


class HttpServer:
    """Serves the app; binds before returning so ``url`` is right even for port 0."""

    def __init__(self, app: web.Application, host: str, port: int) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        self._runner = web.AppRunner(
            self.app, access_log=None, handle_signals=False, shutdown_timeout=2.0
        )
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        site = web.SockSite(self._runner, sock)
        await site.start()
        _LOGGER.info("HTTP API listening on %s", self.url)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
