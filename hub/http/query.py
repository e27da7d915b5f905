"""Query-string parameters for handlers: parsed and bounded, or a clear JSON 400."""

from __future__ import annotations

import math

from aiohttp import web

from hub.http.errors import ApiError


def int_query(request: web.Request, name: str, *, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "invalid_query", f"{name} must be an integer") from None
    if not low <= value <= high:
        raise ApiError(400, "invalid_query", f"{name} must be between {low} and {high}")
    return value


def float_query(request: web.Request, name: str) -> float | None:
    """The finite number given as ``name``, or None when absent."""
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ApiError(400, "invalid_query", f"{name} must be a number") from None
    if not math.isfinite(value):
        raise ApiError(400, "invalid_query", f"{name} must be a finite number")
    return value
