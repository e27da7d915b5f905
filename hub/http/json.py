"""JSON in and out of handlers: orjson on the way out, strict parsing on the way in."""

from __future__ import annotations

from typing import Any

import orjson
import voluptuous as vol
from aiohttp import web

from hub.http.errors import ApiError

MAX_NESTING = 32


def dumps(data: Any) -> bytes:
    return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=dumps(data), status=status, content_type="application/json", headers=headers
    )


def parse_json_bytes(body: bytes) -> Any:
    """Strict JSON: no NaN/Infinity (orjson refuses them), bounded nesting."""
    if not body.strip():
        raise ValueError("the body is empty; a JSON document was expected")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise ValueError(f"the body is not valid JSON ({error})") from None
    if nesting_depth(data) > MAX_NESTING:
        raise ValueError(f"the JSON is nested deeper than {MAX_NESTING} levels")
    return data


def nesting_depth(data: Any) -> int:
    """Depth of nested containers, computed without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            deepest = max(deepest, depth)
            stack.extend((value, depth + 1) for value in node.values())
        elif isinstance(node, list):
            deepest = max(deepest, depth)
            stack.extend((value, depth + 1) for value in node)
    return deepest


async def read_json(request: web.Request, schema: Any = None) -> Any:
    """The request body as JSON, validated by an optional voluptuous schema.

    Every refusal is an ApiError 400 whose message says what was wrong and where.
    """
    body = await request.read()
    try:
        data = parse_json_bytes(body)
    except ValueError as error:
        raise ApiError(400, "invalid_json", str(error)) from None
    if schema is None:
        return data
    if not isinstance(schema, vol.Schema):
        schema = vol.Schema(schema)
    try:
        return schema(data)
    except vol.MultipleInvalid as error:
        raise ApiError(400, "invalid_request", describe_invalid(error.errors[0])) from None
    except vol.Invalid as error:
        raise ApiError(400, "invalid_request", describe_invalid(error)) from None


def describe_invalid(error: vol.Invalid) -> str:
    path = ".".join(str(part) for part in error.path)
    message = error.error_message or str(error)
    return f"field {path!r}: {message}" if path else message
