"""Turns the registered routes into an aiohttp application and serves it.

Every handler is wrapped by ``_guard`` before aiohttp sees it: the route's declared auth
scheme must accept the request first, and a route whose scheme nobody registered answers
401. HEAD is added for every GET with the same guard, so HEAD can never bypass auth.

Path parameters and query values are refused (400) when they hold a NUL or a lone
surrogate before any handler or auth scheme sees them: PostgreSQL cannot store either in
text, and a lookup by such an id would otherwise end as a 500.

A connection that has not sent a complete request head ``header_timeout`` seconds after it
opened (or after its previous answer) is closed: aiohttp's ``keepalive_timeout`` timer runs
from the moment a connection is made and closes it if no whole request has arrived, so a
client trickling one header byte at a time (slowloris) cannot hold a socket for long.
A body is bounded the same way where it is read (``hub.http.json.read_body``, 408).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from aiohttp import web

from hub.auth import AuthRequirement, Principal
from hub.config import CORE_KEY
from hub.http.errors import ApiError
from hub.http.forwarded import Network, forwarded_middleware
from hub.http.hosts import HOST_POLICY_KEY, host_policy, origin_middleware
from hub.http.json import BODY_TIMEOUT_KEY, DEFAULT_BODY_TIMEOUT, bad_text
from hub.http.middleware import add_security_headers, cors_middleware, error_middleware
from hub.registrar import Handler, Registrations, Route

if TYPE_CHECKING:
    from hub.core import Hub

_LOGGER = logging.getLogger(__name__)

HUB_KEY: web.AppKey[Hub] = web.AppKey("hub")
HEADER_TIMEOUT_KEY: web.AppKey[float] = web.AppKey("header_timeout")
DEFAULT_HEADER_TIMEOUT = 15.0


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
        _refuse_bad_text(request)
        if not requirement.public:
            request["principal"] = await authenticate(request, requirement, registrations)
        return await handler(request)

    guarded.__doc__ = handler.__doc__
    return guarded


def _refuse_bad_text(request: web.Request) -> None:
    problem = bad_text(request.match_info.values())
    if problem is not None:
        raise ApiError(400, "invalid_path", f"a path parameter {problem}; remove it")
    if request.query_string:
        problem = bad_text([*request.query.keys(), *request.query.values()])
        if problem is not None:
            raise ApiError(400, "invalid_query", f"the query string {problem}; remove it")


async def authenticate(
    request: web.Request, requirement: AuthRequirement, registrations: Registrations
) -> Principal:
    """The first option whose scheme accepts the request wins; otherwise the most
    telling refusal (a 403 from a scheme that knew the caller beats a 401)."""
    refusals: list[ApiError] = []
    for option in requirement.options():
        scheme = registrations.auth_scheme(option.scheme or "")
        if scheme is None:
            refusals.append(
                ApiError(
                    401,
                    "auth_unavailable",
                    f"this route needs {option.scheme!r} authentication and no running "
                    "integration provides it",
                    headers={"WWW-Authenticate": "Bearer"},
                )
            )
            continue
        try:
            return await scheme.authenticate(request, option)
        except ApiError as error:
            refusals.append(error)
    refusals.sort(key=lambda error: {403: 0, 400: 1}.get(error.status, 2))
    raise refusals[0]


def build_app(
    hub: Hub,
    *,
    max_body_bytes: int,
    cors_origins: list[str],
    trusted_proxies: Sequence[Network] = (),
) -> web.Application:
    # CORS outermost so refusals rendered by the error middleware carry its headers; the
    # origin/host checks and the forwarded address inside it, so their refusals are JSON.
    # Without trusted proxies the forwarded middleware has nothing to do, and stays off
    # every request's path.
    # The settings added since core.py called build_app are read from the validated YAML.
    http_config = hub.config.get(CORE_KEY, {}).get("http", {})
    policy = host_policy(hub.runtime_data)
    policy.allow(http_config.get("allowed_hosts", ()))
    middlewares = [
        cors_middleware(cors_origins),
        error_middleware,
        origin_middleware(policy, cors_origins),
    ]
    if trusted_proxies:
        middlewares.append(forwarded_middleware(trusted_proxies))
    app = web.Application(client_max_size=max_body_bytes, middlewares=middlewares)
    app[HUB_KEY] = hub
    app[HOST_POLICY_KEY] = policy
    app[HEADER_TIMEOUT_KEY] = float(http_config.get("header_timeout", DEFAULT_HEADER_TIMEOUT))
    app[BODY_TIMEOUT_KEY] = float(http_config.get("body_timeout", DEFAULT_BODY_TIMEOUT))
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
            self.app,
            access_log=None,
            handle_signals=False,
            shutdown_timeout=2.0,
            keepalive_timeout=self.app.get(HEADER_TIMEOUT_KEY, DEFAULT_HEADER_TIMEOUT),
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
