"""OpenAPI 3.1 generated from the registered routes, so the document cannot drift.

A request body is described by the very voluptuous schema its handler validates with:
``request_json_schema`` converts it with ``voluptuous-openapi`` (the converter Home
Assistant maintains for the same job), so there is one schema per contract and no
hand-written JSON Schema to fall out of step. A validator the converter cannot see into
(a plain function) describes itself with ``@describe(...)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import voluptuous as vol
import voluptuous_openapi

from hub import __version__

if TYPE_CHECKING:
    from hub.registrar import Registrations

_PATH_PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")

DEFAULT_SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "user": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
    "device": {"type": "apiKey", "in": "header", "name": "X-Device-Token"},
    "agent": {"type": "http", "scheme": "bearer"},
}


_Validator = TypeVar("_Validator", bound=Callable[..., Any])
_DESCRIPTION = "__json_schema__"
# Every JSON type: what a voluptuous ``object`` (any value) accepts.
_ANY_VALUE: dict[str, Any] = {
    "type": ["string", "number", "integer", "boolean", "object", "array", "null"]
}
# Validators that only transform a string (no constraint for a client to know about).
_TRANSFORMS = (vol.Strip, vol.Lower, vol.Upper, vol.Capitalize, vol.Title)


def describe(**json_schema: Any) -> Callable[[_Validator], _Validator]:
    """Tell OpenAPI what a hand-written validator accepts, as JSON Schema keywords.

    voluptuous-openapi reads a plain function only through its first parameter's type
    hint, so ``def code(value: Any) -> str`` would be documented as any string. The
    decorator keeps the rule and its description side by side in the validator's module::

        @describe(type="string", minLength=1, maxLength=255)
        def object_code(value: Any) -> str: ...
    """

    def mark(validator: _Validator) -> _Validator:
        setattr(validator, _DESCRIPTION, dict(json_schema))
        return validator

    return mark


def request_json_schema(schema: Any) -> dict[str, Any]:
    """The JSON Schema (OpenAPI 3.1 dialect) of a voluptuous request-body schema.

    Objects of a schema that refuses extra keys (voluptuous' default) get
    ``additionalProperties: false``, as the hub answers 400 for an unknown key.
    """
    if not isinstance(schema, vol.Schema):
        schema = vol.Schema(schema)
    converted = voluptuous_openapi.convert(
        schema,
        custom_serializer=_serialize,
        openapi_version=voluptuous_openapi.OpenApiVersion.V3_1,
    )
    if schema.extra == vol.PREVENT_EXTRA:
        _close_objects(converted)
    return converted


def _serialize(validator: Any) -> Any:
    """What voluptuous-openapi gets wrong or cannot see for the hub's validators."""
    described = getattr(validator, _DESCRIPTION, None)
    if isinstance(described, dict):
        return dict(described)
    if validator is object:  # voluptuous: any value; the converter says "an object"
        return dict(_ANY_VALUE)
    if isinstance(validator, vol.Match):
        # Python's \Z (end of input) is ECMAScript's $, the dialect of JSON Schema.
        return {"pattern": validator.pattern.pattern.replace("\\Z", "$")}
    if any(validator is transform for transform in _TRANSFORMS):
        return {}
    return voluptuous_openapi.UNSUPPORTED


def _close_objects(node: Any) -> None:
    """``additionalProperties: false`` on every object that lists its properties."""
    if isinstance(node, dict):
        if node.get("type") == "object" and "properties" in node:
            node.setdefault("additionalProperties", False)
        for value in node.values():
            _close_objects(value)
    elif isinstance(node, list):
        for value in node:
            _close_objects(value)


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
