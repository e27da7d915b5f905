"""``/api/iot/objects``: list and read for any user, writes and sync for owner/admin."""

from __future__ import annotations

import uuid

from aiohttp import web

from hub.auth import requires
from hub.http.errors import ApiError
from hub.http.json import json_response, read_json
from hub.http.query import int_query
from hub.registrar import Handler, Registrar

from .api_errors import gateway_errors_as_api_errors
from .const import API_PREFIX, PRIVILEGED_ROLES
from .object_fields import CREATE_SCHEMA, UPDATE_SCHEMA
from .objects_store import ConcurrentChange, DuplicateCode
from .objects_sync import sync_objects
from .runtime import IotGatewayRuntime

MAX_PAGE = 1000


def _object_id(request: web.Request) -> str:
    raw = request.match_info["object_id"]
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise ApiError(404, "object_not_found", "no object with that id") from None


def _conflict(error: DuplicateCode) -> ApiError:
    return ApiError(409, "duplicate_code", str(error))


def object_handlers(runtime: IotGatewayRuntime) -> dict[str, Handler]:
    async def list_objects(request: web.Request) -> web.Response:
        """Objects ordered by code; ``type``, ``limit`` and ``offset`` narrow the page."""
        limit = int_query(request, "limit", default=MAX_PAGE, low=1, high=MAX_PAGE)
        offset = int_query(request, "offset", default=0, low=0, high=2**31)
        items, total = await runtime.objects.list(
            type=request.query.get("type"), limit=limit, offset=offset
        )
        return json_response({"items": items, "total": total, "limit": limit, "offset": offset})

    async def get_object(request: web.Request) -> web.Response:
        """One object."""
        found = await runtime.objects.get(_object_id(request))
        if found is None:
            raise ApiError(404, "object_not_found", "no object with that id")
        return json_response(found)

    async def create_object(request: web.Request) -> web.Response:
        """Create an object; its code must be unused."""
        fields = await read_json(request, CREATE_SCHEMA)
        try:
            created = await runtime.objects.create(fields)
        except DuplicateCode as error:
            raise _conflict(error) from None
        return json_response(created, status=201)

    async def update_object(request: web.Request) -> web.Response:
        """Change some fields of an object."""
        object_id = _object_id(request)
        fields = await read_json(request, UPDATE_SCHEMA)
        try:
            updated = await runtime.objects.update(object_id, fields)
        except DuplicateCode as error:
            raise _conflict(error) from None
        if updated is None:
            raise ApiError(404, "object_not_found", "no object with that id")
        return json_response(updated)

    async def delete_object(request: web.Request) -> web.Response:
        """Delete an object."""
        if not await runtime.objects.delete(_object_id(request)):
            raise ApiError(404, "object_not_found", "no object with that id")
        return web.Response(status=204)

    async def sync(_request: web.Request) -> web.Response:
        """Upsert objects by code from the gateway's object list."""
        try:
            return json_response(await sync_objects(runtime.gateway, runtime.objects))
        except ConcurrentChange as error:
            raise ApiError(409, "sync_conflict", str(error)) from None

    handlers: dict[str, Handler] = {
        "list": list_objects,
        "get": get_object,
        "create": create_object,
        "update": update_object,
        "delete": delete_object,
        "sync": sync,
    }
    return {name: gateway_errors_as_api_errors(handler) for name, handler in handlers.items()}


def register_object_routes(registrar: Registrar, runtime: IotGatewayRuntime) -> None:
    handlers = object_handlers(runtime)
    user = requires("user")
    privileged = requires("user", roles=PRIVILEGED_ROLES)
    base = f"{API_PREFIX}/objects"
    one = f"{base}/{{object_id}}"
    tags = ("iot",)
    registrar.http_route("GET", base, handlers["list"], auth=user, tags=tags)
    registrar.http_route(
        "POST", base, handlers["create"], auth=privileged, tags=tags, request_schema=CREATE_SCHEMA
    )
    registrar.http_route("POST", f"{base}/sync", handlers["sync"], auth=privileged, tags=tags)
    registrar.http_route("GET", one, handlers["get"], auth=user, tags=tags)
    registrar.http_route(
        "PATCH", one, handlers["update"], auth=privileged, tags=tags, request_schema=UPDATE_SCHEMA
    )
    registrar.http_route("DELETE", one, handlers["delete"], auth=privileged, tags=tags)
