"""``/api/automations``: any user reads; owners and admins create, change, delete, run.

Automations from the YAML are listed like the others with ``origin: yaml`` and
``editable: false``; changing one over the API answers 409 and names the file to edit.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import voluptuous as vol
from aiohttp import web

from hub.auth import requires
from hub.http.errors import ApiError
from hub.http.json import json_response, read_json
from hub.http.query import int_query
from hub.registrar import Registrar

from .const import API_PREFIX, EDITOR_ROLES, TRACES_KEPT
from .engine import describe

if TYPE_CHECKING:
    from .automation import Automation
    from .runtime import AutomationRuntime

RUN_SCHEMA = vol.Schema({vol.Optional("skip_conditions", default=True): bool})


class AutomationViews:
    """The handlers, one method each, over one hub's runtime."""

    def __init__(self, runtime: AutomationRuntime) -> None:
        self.runtime = runtime

    def _find(self, request: web.Request) -> Automation:
        automation_id = request.match_info["automation_id"]
        found = self.runtime.engine.automations.get(automation_id)
        if found is None:
            raise ApiError(404, "automation_not_found", f"no automation with id {automation_id!r}")
        return found

    def _editable(self, request: web.Request) -> Automation:
        found = self._find(request)
        if found.origin != "api":
            source = found.config.get("_source") or "configuration.yaml"
            raise ApiError(
                409,
                "automation_read_only",
                f"automation {found.id!r} is defined in the YAML ({source}); change it there",
            )
        return found

    def _check(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ApiError(400, "invalid_automation", "the body must be a JSON object")
        try:
            self.runtime.engine.check(body)
        except vol.Invalid as error:
            raise ApiError(400, "invalid_automation", describe(error, None)) from None
        return body

    async def list(self, _request: web.Request) -> web.Response:
        """Every automation, YAML and API alike, ordered by id."""
        self.runtime.require_running()
        items = sorted(self.runtime.engine.automations.values(), key=lambda item: item.id)
        return json_response([item.as_dict() for item in items])

    async def get(self, request: web.Request) -> web.Response:
        """One automation with its configuration, state and counters."""
        self.runtime.require_running()
        return json_response(self._find(request).as_dict())

    async def create(self, request: web.Request) -> web.Response:
        """Create an automation (its id is made up when the body has none)."""
        self.runtime.require_running()
        body = await read_json(request)
        if isinstance(body, dict) and "id" not in body:
            body["id"] = uuid.uuid4().hex
        config = self._check(body)
        if config["id"] in self.runtime.engine.automations:
            raise ApiError(
                409, "automation_exists", f"an automation with id {config['id']!r} exists"
            )
        automation = await self.runtime.save(config)
        return json_response(automation.as_dict(), status=201)

    async def replace(self, request: web.Request) -> web.Response:
        """Replace an automation's configuration (its id stays)."""
        self.runtime.require_running()
        current = self._editable(request)
        body = await read_json(request)
        if isinstance(body, dict):
            if body.get("id", current.id) != current.id:
                raise ApiError(400, "invalid_automation", "the id in the body differs from the URL")
            body["id"] = current.id
        automation = await self.runtime.save(self._check(body))
        return json_response(automation.as_dict())

    async def delete(self, request: web.Request) -> web.Response:
        """Delete an automation; a run going on is cancelled."""
        self.runtime.require_running()
        await self.runtime.delete(self._editable(request).id)
        return web.Response(status=204)

    async def enable(self, request: web.Request) -> web.Response:
        """Turn an automation on: its triggers are watched again."""
        return await self._set_enabled(request, True)

    async def disable(self, request: web.Request) -> web.Response:
        """Turn an automation off: triggers ignored, a run going on cancelled."""
        return await self._set_enabled(request, False)

    async def _set_enabled(self, request: web.Request, enabled: bool) -> web.Response:
        self.runtime.require_running()
        current = self._editable(request)
        config = {**(await self.runtime.stored(current.id)), "enabled": enabled}
        automation = await self.runtime.save(config)
        return json_response(automation.as_dict())

    async def run(self, request: web.Request) -> web.Response:
        """Run an automation's actions now (conditions skipped unless asked for)."""
        self.runtime.require_running()
        automation = self._find(request)
        options = RUN_SCHEMA(await read_json(request)) if request.body_exists else RUN_SCHEMA({})
        if automation.invalid:
            raise ApiError(409, "automation_invalid", automation.invalid)
        run_id = automation.trigger(
            {"trigger": "manual", "id": "manual"},
            check_conditions=not options["skip_conditions"],
        )
        if run_id is None:
            raise ApiError(
                409,
                "automation_busy",
                f"automation {automation.id!r} did not start: its mode "
                f"({automation.config['mode']}) or run rate limit refused another run",
            )
        return json_response({"runId": run_id}, status=202)

    async def traces(self, request: web.Request) -> web.Response:
        """The automation's latest runs, newest first."""
        self.runtime.require_running()
        automation = self._find(request)
        limit = int_query(request, "limit", default=TRACES_KEPT, low=1, high=TRACES_KEPT)
        traces = self.runtime.engine.traces.of(automation.id)[:limit]
        return json_response([trace.as_dict() for trace in traces])

    async def types(self, _request: web.Request) -> web.Response:
        """Every trigger and action type, with the integration that provides it."""
        self.runtime.require_running()
        return json_response(self.runtime.engine.platforms.describe())


def register_routes(registrar: Registrar, runtime: AutomationRuntime) -> None:
    views = AutomationViews(runtime)
    read = requires("user")
    edit = requires("user", roles=EDITOR_ROLES)
    one = f"{API_PREFIX}/{{automation_id}}"
    tags = ("automation",)
    body: dict[str, Any] = {"type": "object", "description": "an automation (docs/automations.md)"}
    registrar.http_route("GET", API_PREFIX, views.list, auth=read, tags=tags)
    registrar.http_route(
        "POST", API_PREFIX, views.create, auth=edit, tags=tags, request_schema=body
    )
    registrar.http_route("GET", "/api/automation-types", views.types, auth=read, tags=tags)
    registrar.http_route("GET", one, views.get, auth=read, tags=tags)
    registrar.http_route("PUT", one, views.replace, auth=edit, tags=tags, request_schema=body)
    registrar.http_route("DELETE", one, views.delete, auth=edit, tags=tags)
    registrar.http_route("POST", f"{one}/enable", views.enable, auth=edit, tags=tags)
    registrar.http_route("POST", f"{one}/disable", views.disable, auth=edit, tags=tags)
    registrar.http_route("POST", f"{one}/run", views.run, auth=edit, tags=tags)
    # A trace holds what the run saw (trigger data, rendered templates, results): owners
    # and admins only, as over the WebSocket API, where automation events are theirs.
    registrar.http_route("GET", f"{one}/traces", views.traces, auth=edit, tags=tags)
