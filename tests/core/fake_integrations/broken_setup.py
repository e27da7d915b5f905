"""Raises in setup: the hub must mark it failed and carry on."""

from aiohttp import web

from hub.auth import PUBLIC
from hub.hookspecs import hookimpl


@hookimpl
def hub_register(hub, registrar, config):
    async def route(_request: web.Request) -> web.Response:
        return web.Response(text="should not be served")

    registrar.http_route("GET", "/api/broken/thing", route, auth=PUBLIC)


@hookimpl
def hub_setup(hub, config):
    raise RuntimeError("the frobnicator is missing")
