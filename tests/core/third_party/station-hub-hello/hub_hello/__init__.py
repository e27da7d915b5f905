"""A minimal third-party integration: one public route."""

from aiohttp import web

from hub.auth import PUBLIC
from hub.hookspecs import hookimpl


@hookimpl
def hub_register(hub, registrar, config):
    async def hello(_request: web.Request) -> web.Response:
        """Greets from a package installed with pip."""
        return web.json_response({"hello": "from a third-party package"})

    registrar.http_route("GET", "/api/hello", hello, auth=PUBLIC)
