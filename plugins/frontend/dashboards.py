"""``/api/frontend/dashboards``: each user's dashboards, kept on the hub.

A dashboard is a name and an ordered list of widgets. A widget shows one value (``value``,
``gauge``, ``chart``, or a type an integration adds through ``hub_frontend_panels``) bound
either to a device attribute (``dataType: device``, live over the WebSocket API) or to an
IoT gateway point code (``dataType: iot``, polled from ``/api/iot/codes/values`` every
``interval`` seconds). The hub checks the shape only; what a widget shows is read with
the viewer's own rights, so a dashboard grants nothing.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
import voluptuous as vol
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.auth import requires
from hub.http.errors import ApiError
from hub.http.json import json_response, read_json
from hub.registrar import Registrar
from hub.timestamps import iso

from .tables import frontend_dashboards

MAX_DASHBOARDS_PER_USER = 50
MAX_WIDGETS = 64
TAGS = ("frontend",)

_text = vol.All(str, vol.Length(min=1, max=128))

WIDGET = vol.Schema(
    {
        vol.Required("id"): vol.All(str, vol.Length(min=1, max=64)),
        # value, gauge, chart, or a widget type an integration adds (checked by the view).
        vol.Required("type"): vol.All(str, vol.Length(min=1, max=40)),
        vol.Optional("title", default=""): vol.All(str, vol.Length(max=128)),
        vol.Required("dataType"): vol.In(("device", "iot")),
        vol.Optional("deviceId"): vol.All(str, vol.Length(min=1, max=64)),
        vol.Optional("attribute"): _text,
        vol.Optional("code"): vol.All(str, vol.Length(min=1, max=255)),
        vol.Optional("interval", default=10): vol.All(int, vol.Range(min=2, max=3600)),
        vol.Optional("min", default=0): vol.Any(int, float),
        vol.Optional("max", default=100): vol.Any(int, float),
        vol.Optional("unit", default=""): vol.All(str, vol.Length(max=16)),
    }
)


def _bound(widget: dict[str, Any]) -> dict[str, Any]:
    """A device widget names a device and an attribute; an IoT widget a point code."""
    if widget["dataType"] == "device" and not ("deviceId" in widget and "attribute" in widget):
        raise vol.Invalid("a device widget needs deviceId and attribute")
    if widget["dataType"] == "iot" and "code" not in widget:
        raise vol.Invalid("an iot widget needs code")
    if widget["max"] <= widget["min"]:
        raise vol.Invalid("max must be above min")
    return widget


DASHBOARD = vol.Schema(
    {
        vol.Required("name"): _text,
        vol.Optional("widgets", default=list): vol.All(
            [vol.All(WIDGET, _bound)], vol.Length(max=MAX_WIDGETS)
        ),
    }
)


def _as_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "widgets": row.widgets,
        "createdAt": iso(row.created_at),
        "updatedAt": iso(row.updated_at),
    }


class DashboardStore:
    """SQLAlchemy Core on the hub's engine; every query is scoped to one owner."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def list(self, owner: str) -> list[dict[str, Any]]:
        table = frontend_dashboards
        async with self.engine.connect() as connection:
            rows = await connection.execute(
                sa.select(table).where(table.c.owner_user_id == owner).order_by(table.c.created_at)
            )
            return [_as_dict(row) for row in rows]

    async def create(self, owner: str, body: dict[str, Any]) -> dict[str, Any]:
        table = frontend_dashboards
        now = time.time()
        values = {
            "id": str(uuid.uuid4()),
            "owner_user_id": owner,
            "name": body["name"],
            "widgets": body["widgets"],
            "created_at": now,
            "updated_at": now,
        }
        async with self.engine.begin() as connection:
            count = (
                await connection.execute(
                    sa.select(sa.func.count())
                    .select_from(table)
                    .where(table.c.owner_user_id == owner)
                )
            ).scalar_one()
            if count >= MAX_DASHBOARDS_PER_USER:
                raise ApiError(
                    409,
                    "too_many_dashboards",
                    f"at most {MAX_DASHBOARDS_PER_USER} dashboards per user; delete one first",
                )
            await connection.execute(sa.insert(table).values(**values))
        return _as_dict(_Values(values))

    async def replace(self, owner: str, dashboard_id: str, body: dict[str, Any]) -> dict | None:
        table = frontend_dashboards
        mine = sa.and_(table.c.id == dashboard_id, table.c.owner_user_id == owner)
        async with self.engine.begin() as connection:
            result = await connection.execute(
                sa.update(table)
                .where(mine)
                .values(name=body["name"], widgets=body["widgets"], updated_at=time.time())
            )
            if result.rowcount == 0:
                return None
            row = (await connection.execute(sa.select(table).where(mine))).one()
            return _as_dict(row)

    async def delete(self, owner: str, dashboard_id: str) -> bool:
        table = frontend_dashboards
        async with self.engine.begin() as connection:
            result = await connection.execute(
                sa.delete(table).where(
                    sa.and_(table.c.id == dashboard_id, table.c.owner_user_id == owner)
                )
            )
            return result.rowcount > 0


class _Values:
    """Attribute access over a freshly inserted row's values (no second SELECT)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


class StoreRef:
    """Routes are registered before setup has the database engine; this bridges the gap."""

    def __init__(self) -> None:
        self.store: DashboardStore | None = None

    def require(self) -> DashboardStore:
        if self.store is None:
            raise ApiError(503, "frontend_starting", "dashboards are not ready yet")
        return self.store


class DashboardViews:
    def __init__(self, ref: StoreRef, widget_types: Callable[[], set[str]]) -> None:
        self.ref = ref
        self.widget_types = widget_types

    async def _body(self, request: web.Request) -> dict[str, Any]:
        body = await read_json(request, DASHBOARD)
        known = self.widget_types()
        for index, widget in enumerate(body["widgets"]):
            if widget["type"] not in known:
                raise ApiError(
                    400,
                    "invalid_request",
                    f"widgets[{index}].type: {widget['type']!r} is not a widget type "
                    f"(one of {', '.join(sorted(known))})",
                )
        return body

    async def list_dashboards(self, request: web.Request) -> web.Response:
        """The caller's dashboards, oldest first."""
        return json_response(await self.ref.require().list(request["principal"].id))

    async def create_dashboard(self, request: web.Request) -> web.Response:
        """Create a dashboard for the caller."""
        body = await self._body(request)
        created = await self.ref.require().create(request["principal"].id, body)
        return json_response(created, status=201)

    async def replace_dashboard(self, request: web.Request) -> web.Response:
        """Replace the name and widgets of one of the caller's dashboards."""
        body = await self._body(request)
        saved = await self.ref.require().replace(
            request["principal"].id, request.match_info["dashboard_id"], body
        )
        if saved is None:
            raise ApiError(404, "dashboard_not_found", "no dashboard of yours with that id")
        return json_response(saved)

    async def delete_dashboard(self, request: web.Request) -> web.Response:
        """Delete one of the caller's dashboards."""
        deleted = await self.ref.require().delete(
            request["principal"].id, request.match_info["dashboard_id"]
        )
        if not deleted:
            raise ApiError(404, "dashboard_not_found", "no dashboard of yours with that id")
        return web.Response(status=204)


def register_dashboard_routes(
    registrar: Registrar, ref: StoreRef, widget_types: Callable[[], set[str]]
) -> None:
    views = DashboardViews(ref, widget_types)
    user = requires("user")
    base = "/api/frontend/dashboards"
    one = f"{base}/{{dashboard_id}}"
    route = registrar.http_route
    route("GET", base, views.list_dashboards, auth=user, tags=TAGS)
    route("POST", base, views.create_dashboard, auth=user, tags=TAGS, request_schema=DASHBOARD)
    route("PUT", one, views.replace_dashboard, auth=user, tags=TAGS, request_schema=DASHBOARD)
    route("DELETE", one, views.delete_dashboard, auth=user, tags=TAGS)
