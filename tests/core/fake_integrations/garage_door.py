"""The garage door of docs/writing-integrations.md, complete and runnable.

Every hook the page shows, written the way the page advises: the working state lives in
a ``GarageDoor`` the hub keeps under a typed ``RuntimeKey`` (one imported module serves
every hub in a process, so no state is kept in module globals; a key is a name), the HTTP handler is a named
method rather than a closure inside ``hub_register``, and the request body is validated
and documented by one voluptuous schema. tests/core/test_core_example_integration.py
runs it.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING, Any

import voluptuous as vol
from aiohttp import web

from hub.auth import requires
from hub.cli import add_config_dir_argument
from hub.hookspecs import hookimpl
from hub.http.json import json_response, read_json
from hub.runtime_data import RuntimeKey

if TYPE_CHECKING:
    from hub.core import Hub
    from hub.registrar import MqttMessage, Registrar
    from hub.rpc import CallContext
    from hub.subcommands import Subcommands

DOMAIN = "garage_door"
#: The door this integration keeps on each hub.
DOOR: RuntimeKey[GarageDoor] = RuntimeKey(DOMAIN)

OPEN_SCHEMA = vol.Schema(
    {vol.Optional("seconds", default=3): vol.All(int, vol.Range(min=1, max=60))}
)


class GarageDoor:
    """One hub's door: what it was asked to do and what it reported."""

    def __init__(self, pin: int) -> None:
        self.pin = pin
        self.openings: list[int] = []
        self.statuses: list[bytes] = []
        self.closed = asyncio.Event()

    async def open(self, seconds: int) -> None:
        self.openings.append(seconds)

    def on_status(self, message: MqttMessage) -> None:
        self.statuses.append(message.payload)

    async def poll(self) -> None:
        """Background work until shutdown (a real door would watch its pin here)."""
        await self.closed.wait()

    async def close(self) -> None:
        self.closed.set()


class GarageViews:
    """The HTTP handlers, importable and testable one at a time."""

    def __init__(self, door: GarageDoor) -> None:
        self.door = door

    async def open_door(self, request: web.Request) -> web.Response:
        """Open the garage door."""
        body = await read_json(request, OPEN_SCHEMA)
        await self.door.open(body["seconds"])
        return json_response({"ok": True}, status=202)

    async def open_from_cloud(self, params: Any, context: CallContext) -> dict[str, Any]:
        """Open the garage door (the RPC method garage.open)."""
        request = OPEN_SCHEMA(params)  # voluptuous.Invalid answers "Invalid params"
        await self.door.open(request["seconds"])
        return {"ok": True}


@hookimpl
def hub_config_schema() -> Any:
    return vol.Schema({vol.Required("pin"): vol.All(int, vol.Range(min=0, max=40))})


@hookimpl
def hub_register(hub: Hub, registrar: Registrar, config: dict[str, Any]) -> None:
    door = hub.runtime_data.set(DOOR, GarageDoor(config["pin"]))
    views = GarageViews(door)
    registrar.http_route(
        "POST",
        "/api/garage/open",
        views.open_door,
        auth=requires("user", roles=("owner", "admin")),
        request_schema=OPEN_SCHEMA,
    )
    registrar.mqtt_topic("garage/+/status", door.on_status)
    registrar.rpc_method("garage.open", views.open_from_cloud)


@hookimpl
def hub_setup(hub: Hub, config: dict[str, Any]) -> None:
    hub.create_task(hub.runtime_data[DOOR].poll(), name="garage-poll")


@hookimpl
async def hub_shutdown(hub: Hub) -> None:
    door = hub.runtime_data.pop(DOOR)
    if door is not None:
        await door.close()


@hookimpl
def hub_cli_commands(subparsers: Subcommands) -> None:
    parser = subparsers.add_parser("garage", help="garage door tools")
    add_config_dir_argument(parser)
    parser.set_defaults(func=_garage_command)


def _garage_command(args: argparse.Namespace) -> int:
    print(f"garage door tools for {args.config_dir}")
    return 0
