"""Raises in setup: the hub must mark it failed and carry on."""

from aiohttp import web

from hub.auth import PUBLIC
from hub.hookspecs import hookimpl
from hub.runtime_data import RuntimeKey

#: Stored at registration; the core must forget it when setup fails.
STATE: RuntimeKey[dict] = RuntimeKey("broken_setup")


@hookimpl
def hub_register(hub, registrar, config):
    async def route(_request: web.Request) -> web.Response:
        return web.Response(text="should not be served")

    registrar.http_route("GET", "/api/broken/thing", route, auth=PUBLIC)
    hub.runtime_data.set(STATE, {"half": "made"})


@hookimpl
def hub_setup(hub, config):
    raise RuntimeError("the frobnicator is missing")
