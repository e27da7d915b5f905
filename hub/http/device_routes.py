"""The device API (docs/architecture.md), a thin layer over the device registry.

``GET /api/devices`` is paged so a fleet of any size is answered in bounded memory: the
body stays the plain JSON array the device API has always returned (all of a fleet up to
a page, 1000 devices), and when more follow the answer carries ``Link: <...>; rel="next"`` and
``X-Next-Cursor`` (RFC 8288 style, as GitHub's API does) for the next page.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import voluptuous as vol
from aiohttp import web

from hub.auth import requires
from hub.devices.history import Page
from hub.devices.paging import (
    DEFAULT_PAGE_SIZE,
    MAX_CURSOR_CHARS,
    MAX_PAGE_BYTES,
    MAX_PAGE_SIZE,
    device_page,
)
from hub.devices.registry import DeviceError
from hub.http.errors import ApiError
from hub.http.json import json_response, read_json
from hub.http.openapi import describe
from hub.http.query import before_query, int_query
from hub.registrar import Registrar

if TYPE_CHECKING:
    from hub.core import Hub
    from hub.devices.models import Device
    from hub.devices.registry import DeviceRegistry

# \Z, not $: Python's $ also matches before a trailing newline. OpenAPI shows it as $,
# ECMAScript's end of input (hub.http.openapi translates).
_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,64}\Z")

# hub.devices.history.states_page / events_page: (device id, limit, before, max_bytes)
# -> (items newest first, the cursor to the older ones or None).
PageReader = Callable[..., Awaitable[Page]]

COMMAND_SCHEMA = vol.Schema(
    {
        vol.Required("command"): vol.All(
            str, vol.Match(_NAME, msg="must be 1-64 letters, digits or _.:-")
        ),
        vol.Optional("params", default={}): dict,
    }
)

MAX_DEVICE_NAME_CHARS = 128


@describe(type="string", minLength=1, maxLength=MAX_DEVICE_NAME_CHARS)
def _display_name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_DEVICE_NAME_CHARS:
        raise vol.Invalid(
            f"must be a non-blank string of at most {MAX_DEVICE_NAME_CHARS} characters"
        )
    if any(unicodedata.category(char)[0] == "C" for char in value):
        raise vol.Invalid("must not contain control characters")
    return value.strip()


RENAME_SCHEMA = vol.Schema({vol.Required("name"): _display_name})

DEVICE_EVENT_SCHEMA = vol.Schema(
    {
        vol.Required("type"): vol.All(
            str, vol.Match(_NAME, msg="must be 1-64 letters, digits or _.:-")
        ),
        vol.Optional("data"): object,
        vol.Optional("seq"): vol.All(int, vol.Range(min=0, max=2**63 - 1)),
    }
)


class DeviceViews:
    """The device API's handlers, one method each; ``register`` wires them to routes.

    A class rather than closures inside ``register`` so each handler is importable and
    can be read (and tested) on its own; the instance holds the registry and the cache
    of the first page.
    """

    def __init__(self, registry: DeviceRegistry) -> None:
        self.registry = registry
        # The first page with the default size, as last rendered: (registry version,
        # JSON bytes, next cursor). The portal polls it far more often than devices change.
        self._rendered: tuple[int, bytes, str | None] = (-1, b"", None)

    def device_or_404(self, request: web.Request) -> Device:
        device = self.registry.get(request.match_info["device_id"])
        if device is None:
            raise ApiError(404, "device_not_found", "no device with that id")
        return device

    async def list_devices(self, request: web.Request) -> web.Response:
        """Devices with their latest state, in pages of at most 1000 (``limit``); when
        more follow, ``Link: <...>; rel="next"`` and ``X-Next-Cursor`` name the next page."""
        limit = int_query(request, "limit", default=DEFAULT_PAGE_SIZE, low=1, high=MAX_PAGE_SIZE)
        cursor = request.query.get("cursor")
        if cursor is not None and not 0 < len(cursor) <= MAX_CURSOR_CHARS:
            raise ApiError(
                400,
                "invalid_query",
                "cursor must be the X-Next-Cursor of the previous page "
                f"(1-{MAX_CURSOR_CHARS} characters)",
            )
        if cursor is None and limit == DEFAULT_PAGE_SIZE:
            if self._rendered[0] != self.registry.version:
                page = device_page(self.registry, cursor=None)
                self._rendered = (self.registry.version, page.json_array(), page.next_cursor)
            body, next_cursor = self._rendered[1], self._rendered[2]
        else:
            page = device_page(self.registry, cursor=cursor, limit=limit)
            body, next_cursor = page.json_array(), page.next_cursor
        response = web.Response(body=body, content_type="application/json")
        if next_cursor is not None:
            following = request.url.relative().with_query({"cursor": next_cursor, "limit": limit})
            response.headers["Link"] = f'<{following}>; rel="next"'
            response.headers["X-Next-Cursor"] = next_cursor
        return response

    async def get_device(self, request: web.Request) -> web.Response:
        """One device with its latest state."""
        return json_response(self.device_or_404(request).as_dict())

    async def device_history(self, request: web.Request) -> web.Response:
        """State history, newest first; page with ``before`` = the previous ``nextBefore``."""
        return await self._newest_first_page(request, self.registry.history.states_page)

    async def device_events(self, request: web.Request) -> web.Response:
        """Past events, newest first, paged like history (``before`` = the previous
        ``nextBefore``), so a page opened late can show what already happened."""
        return await self._newest_first_page(request, self.registry.history.events_page)

    async def _newest_first_page(self, request: web.Request, read_page: PageReader) -> web.Response:
        """One page of a device's records, with the cursor to the next: the query
        parameters, the byte bound and the answer's shape are the same for every kind.

        ``nextBefore`` names the page's last row (time and id), not only its time: rows
        written in one batch share a time, and a time alone made the next page skip them.
        """
        device = self.device_or_404(request)
        limit = int_query(request, "limit", default=100, low=1, high=1000)
        before = before_query(request, "before")
        items, following = await read_page(
            device.id, limit=limit, before=before, max_bytes=MAX_PAGE_BYTES
        )
        next_before = following.encode() if following is not None else None
        return json_response({"items": items, "nextBefore": next_before})

    async def send_command(self, request: web.Request) -> web.Response:
        """Send a command to a device; its progress is reported as command_status_changed."""
        device = self.device_or_404(request)
        body = await read_json(request, COMMAND_SCHEMA)
        try:
            command = await self.registry.send_command(
                device.id, body["command"], body["params"], source="api"
            )
        except DeviceError as error:
            status = 503 if error.code in {"transport_unavailable", "delivery_failed"} else 404
            raise ApiError(status, error.code, error.message) from None
        return json_response({"commandId": command.id, "status": command.status}, status=202)

    async def get_command(self, request: web.Request) -> web.Response:
        """A command's status, while the hub remembers it."""
        command = self.registry.command(request.match_info["command_id"])
        if command is None:
            raise ApiError(404, "command_not_found", "no recent command with that id")
        return json_response(command.as_dict())

    async def rename_device(self, request: web.Request) -> web.Response:
        """Rename a device (the name people see; its externalId never changes)."""
        device = self.device_or_404(request)
        body = await read_json(request, RENAME_SCHEMA)
        renamed = await self.registry.rename(device.id, body["name"])
        if renamed is None:  # removed while the request was being read
            raise ApiError(404, "device_not_found", "no device with that id")
        return json_response(renamed.as_dict())

    async def delete_device(self, request: web.Request) -> web.Response:
        """Forget a device, its history and its events."""
        device = self.device_or_404(request)
        await self.registry.remove(device.id)
        return web.Response(status=204)

    async def device_types(self, _request: web.Request) -> web.Response:
        """The device type registry."""
        return json_response([item.as_dict() for item in self.registry.device_types()])

    async def device_event(self, request: web.Request) -> web.Response:
        """An event reported by a device over HTTP; same path as MQTT events."""
        device = self.registry.get(request["principal"].id)
        if device is None:
            raise ApiError(401, "unknown_device", "the device token names no device")
        body = await read_json(request, DEVICE_EVENT_SCHEMA)
        accepted = self.registry.report_event(
            device, body["type"], body.get("data"), body.get("seq")
        )
        return json_response({"accepted": accepted, "duplicate": not accepted}, status=202)


def register(hub: Hub, registrar: Registrar) -> None:
    views = DeviceViews(hub.devices)
    user = requires("user")
    managers = requires("user", roles=("owner", "admin"))
    tags = ("devices",)
    registrar.http_route(
        "GET",
        "/api/devices",
        views.list_devices,
        auth=user,
        tags=tags,
        description=(
            "A JSON array of at most `limit` devices (1-1000, default 1000) and 512 KiB, in "
            'id order. When more follow, the answer carries `Link: <...>; rel="next"` and '
            "`X-Next-Cursor`; pass that as `cursor` for the next page."
        ),
    )
    one = "/api/devices/{device_id}"
    registrar.http_route("GET", one, views.get_device, auth=user, tags=tags)
    registrar.http_route(
        "PATCH", one, views.rename_device, auth=managers, tags=tags, request_schema=RENAME_SCHEMA
    )
    registrar.http_route("DELETE", one, views.delete_device, auth=managers, tags=tags)
    paging = (
        "newest first: at most `limit` (1-1000, default 100) and 512 KiB. When older ones "
        "remain, `nextBefore` is a cursor (`<ISO time>~<row id>`, the page's last entry); "
        "pass it as `before` for the next page, which starts right after that entry. "
        "`before` may also be a time (ISO 8601 with an offset, or epoch seconds): the page "
        "then starts with what was recorded before it."
    )
    registrar.http_route(
        "GET",
        f"{one}/history",
        views.device_history,
        auth=user,
        tags=tags,
        description=f"The device's state history, {paging}",
    )
    registrar.http_route(
        "GET",
        f"{one}/events",
        views.device_events,
        auth=user,
        tags=tags,
        description=f"The device's past events, {paging}",
    )
    registrar.http_route(
        "POST",
        f"{one}/commands",
        views.send_command,
        auth=user,
        tags=tags,
        request_schema=COMMAND_SCHEMA,
    )
    registrar.http_route(
        "GET", "/api/commands/{command_id}", views.get_command, auth=user, tags=tags
    )
    registrar.http_route("GET", "/api/device-types", views.device_types, auth=user, tags=tags)
    registrar.http_route(
        "POST",
        "/api/device/events",
        views.device_event,
        auth=requires("device"),
        tags=tags,
        request_schema=DEVICE_EVENT_SCHEMA,
    )
