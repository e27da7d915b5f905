"""OpenAPI 3.1 generated from the registered routes, so the document cannot drift."""

from __future__ import annotations

import re
from typing import Any

from hub import __version__
from hub.registrar import Registrations

_PATH_PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")

DEFAULT_SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "user": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
    "device": {"type": "apiKey", "in": "header", "name": "X-Device-Token"},
    "agent": {"type": "http", "scheme": "bearer"},
}


def build_openapi(registrations: Registrations, *, title: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    used_schemes: set[str] = set()
    for route in sorted(registrations.routes.values(), key=lambda item: (item.path, item.method)):
        path = _PATH_PARAM.sub(r"{\1}", route.path)
        operation: dict[str, Any] = {
            "operationId": f"{route.method.lower()}_{_slug(route.path)}",
            "summary": route.summary or f"{route.method} {route.path}",
            "tags": list(route.tags),
            "responses": _responses(not route.auth.public, route.websocket),
        }
        if route.description:
            operation["description"] = route.description
        if route.websocket:
            operation["description"] = (
                operation.get("description", "") + " WebSocket endpoint (upgrade with GET)."
            ).strip()
        if not route.auth.public:
            options = route.auth.options()
            used_schemes.update(option.scheme for option in options if option.scheme)
            operation["security"] = [{option.scheme: []} for option in options]
            if route.auth.roles:
                operation["x-required-roles"] = list(route.auth.roles)
            if route.auth.station_roles:
                operation["x-required-station-roles"] = list(route.auth.station_roles)
        else:
            operation["security"] = []
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in _PATH_PARAM.findall(route.path)
        ]
        if parameters:
            operation["parameters"] = parameters
        if route.request_schema is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": route.request_schema}},
            }
            operation["responses"]["415"] = {
                "description": "The body is not declared Content-Type: application/json",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
        paths.setdefault(path, {})[route.method.lower()] = operation
    schemes = {}
    for name in sorted(used_schemes):
        scheme = registrations.auth_scheme(name)
        declared = getattr(scheme, "openapi_scheme", None)
        schemes[name] = declared or DEFAULT_SECURITY_SCHEMES.get(
            name, {"type": "http", "scheme": "bearer"}
        )
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": __version__},
        "paths": paths,
        "components": {
            "securitySchemes": schemes,
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                            },
                        }
                    },
                }
            },
        },
    }


def _responses(protected: bool, websocket: bool) -> dict[str, Any]:
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    responses: dict[str, Any] = {
        "101" if websocket else "200": {"description": "Success"},
        "400": {"description": "Invalid request", **error},
    }
    if protected:
        responses["401"] = {"description": "Missing or invalid credentials", **error}
        responses["403"] = {"description": "Not allowed", **error}
    return responses


def _slug(path: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_")
