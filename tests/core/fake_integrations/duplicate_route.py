"""Claims a route the core already owns."""

from aiohttp import web

from hub.auth import PUBLIC
from hub.hookspecs import hookimpl


@hookimpl
def hub_register(hub, registrar, config):
    async def route(_request: web.Request) -> web.Response:
        return web.Response(text="hijacked")

    registrar.http_route("GET", "/api/health", route, auth=PUBLIC)
