"""JSON in and out of handlers: orjson on the way out, strict parsing on the way in.

Strict means: no NaN/Infinity, bounded nesting, no lone surrogates (orjson refuses them)
and no NUL character in any string or key. PostgreSQL cannot store a NUL in a text value
and fails the statement, so a NUL would otherwise surface as a 500 deep inside a handler;
refusing it here answers a clear 400 once, for every body and every frame.

A request body is read as JSON only when it says it is ``application/json``: an HTML form
(``text/plain``, ``application/x-www-form-urlencoded``, ``multipart/form-data``) is the one
body a foreign web page can make a browser send without a CORS preflight, so refusing
every other type takes that cross-site request forgery off every JSON route.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import orjson
import voluptuous as vol
from aiohttp import web

from hub.http.errors import ApiError

MAX_NESTING = 32
DEFAULT_BODY_TIMEOUT = 30.0
#: Seconds a handler waits for a request body (``hub: http: body_timeout``).
BODY_TIMEOUT_KEY: web.AppKey[float] = web.AppKey("body_timeout")
JSON_CONTENT_TYPE = "application/json"
_NUL_ESCAPE = b"\\u0000"


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
    # A NUL can only be spelt as the escape \u0000 in valid JSON, so a body without that
    # byte sequence needs no second look (the common case costs one substring search).
    if _NUL_ESCAPE in body:
        where = _nul_path(data)
        if where is not None:
            raise ValueError(
                f"{where} contains a NUL character (\\u0000), which the hub cannot store; remove it"
            )
    return data


def _nul_path(data: Any) -> str | None:
    """Where the first string or key holding a NUL is (``field 'a.b'``), without recursion."""
    stack: list[tuple[Any, tuple[str, ...]]] = [(data, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, str):
            if "\x00" in node:
                return f"field {'.'.join(path)!r}" if path else "the body"
        elif isinstance(node, dict):
            for key, value in node.items():
                if "\x00" in key:
                    return f"a key in {'.'.join(path)!r}" if path else "a key"
                stack.append((value, (*path, key)))
        elif isinstance(node, list):
            stack.extend((value, (*path, str(index))) for index, value in enumerate(node))
    return None


def bad_text(values: Iterable[str]) -> str | None:
    """Why one of ``values`` cannot be used as text (a NUL or a lone surrogate), or None."""
    for value in values:
        if "\x00" in value:
            return "contains a NUL character (%00)"
        if _has_surrogate(value):
            return "contains an unpaired UTF-16 surrogate"
    return None


def _has_surrogate(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def is_json_content_type(content_type: str) -> bool:
    """``application/json`` (parameters aside); aiohttp has already dropped them."""
    return content_type.lower() == JSON_CONTENT_TYPE


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


async def read_body(request: web.Request) -> bytes:
    """The whole request body, or a 408 (and the connection closed) when it does not
    arrive within ``body_timeout``: a client that sends its headers and then trickles
    the body byte by byte would otherwise hold a handler for as long as it likes."""
    limit = request.app.get(BODY_TIMEOUT_KEY, DEFAULT_BODY_TIMEOUT)
    try:
        async with asyncio.timeout(limit):
            return await request.read()
    except TimeoutError:
        raise ApiError(
            408,
            "request_timeout",
            f"the request body did not arrive within {limit:g} s; send it in one go",
            close=True,
        ) from None


async def read_json(request: web.Request, schema: Any = None) -> Any:
    """The request body as JSON, validated by an optional voluptuous schema.

    Every refusal is an ApiError whose message says what was wrong and where: 415 for a
    body that is not declared ``application/json``, 400 for everything else.
    """
    if not is_json_content_type(request.content_type):
        if not request.body_exists:
            raise ApiError(400, "invalid_json", "the body is empty; a JSON document was expected")
        raise ApiError(
            415,
            "unsupported_media_type",
            f"the body is declared {request.content_type!r}; send JSON with "
            f"Content-Type: {JSON_CONTENT_TYPE}",
        )
    body = await read_body(request)
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
