"""Registers one route, one topic, one RPC method, a transport and a device type."""

from __future__ import annotations

from typing import Any

import voluptuous as vol
from aiohttp import web

from hub.auth import PUBLIC, any_of, requires
from hub.devices.models import DeviceType
from hub.hookspecs import hookimpl
from hub.http.json import json_response

SENT: list[tuple[str, str, dict[str, Any]]] = []
EVENTS: list[str] = []


class RecordingTransport:
    async def send_command(self, device, command) -> None:
        SENT.append((device.external_id, command.command, command.params))


@hookimpl
def hub_config_schema():
    return vol.Schema({vol.Optional("greeting", default="hello"): str, vol.Optional("port"): int})


@hookimpl
def hub_register(hub, registrar, config):
    async def greet(_request: web.Request) -> web.Response:
        """Say hello."""
        return json_response({"greeting": config["greeting"]})

    async def secret(request: web.Request) -> web.Response:
        """Only for users."""
        return json_response({"principal": request["principal"].id})

    async def admin_only(request: web.Request) -> web.Response:
        return json_response({"ok": True})

    registrar.http_route("GET", "/api/echo/greet", greet, auth=PUBLIC)
    registrar.http_route("GET", "/api/echo/secret", secret, auth=requires("user"))
    registrar.http_route(
        "POST", "/api/echo/admin", admin_only, auth=requires("user", roles=("owner", "admin"))
    )
    registrar.http_route(
        "POST",
        "/api/echo/claim",
        admin_only,
        auth=any_of(requires("user", roles=("owner",)), requires("agent")),
    )
    registrar.mqtt_topic("echo/+/ping", lambda message: None)
    registrar.rpc_method("echo.say", lambda params, context: params)
    registrar.device_transport("echo", RecordingTransport())
    registrar.device_type(DeviceType("echo-lamp", "A lamp that echoes", ["on_off"], ["toggle"]))


@hookimpl
def hub_setup(hub, config):
    EVENTS.append("setup")


@hookimpl
def hub_shutdown(hub):
    EVENTS.append("shutdown")
