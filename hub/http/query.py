"""Query-string parameters for handlers: parsed and bounded, or a clear JSON 400.

Python's ``int()`` is generous: it takes ``'+5'``, ``' 5'``, ``'5_0'`` and any Unicode
decimal digits (``'١٢'``). A query value is a protocol token, not prose, so an integer is
plain ASCII digits and nothing else; anything else is refused rather than guessed at.
"""

from __future__ import annotations

import re

from aiohttp import web

from hub.devices.history import MAX_CURSOR_CHARS, PageCursor
from hub.http.errors import ApiError
from hub.timestamps import parse_iso

_ASCII_DIGITS = re.compile(r"[0-9]{1,18}")
_ASCII_DECIMAL = re.compile(r"-?[0-9]{1,18}(\.[0-9]{1,18})?")


def int_query(request: web.Request, name: str, *, default: int, low: int, high: int) -> int:
    """The non-negative integer given as ``name`` (ASCII digits), within [low, high]."""
    raw = request.query.get(name)
    if raw is None:
        return default
    if not _ASCII_DIGITS.fullmatch(raw):
        raise ApiError(
            400, "invalid_query", f"{name} must be written with the digits 0-9 only, e.g. {name}=50"
        )
    value = int(raw)
    if not low <= value <= high:
        raise ApiError(400, "invalid_query", f"{name} must be between {low} and {high}")
    return value


def time_query(request: web.Request, name: str) -> float | None:
    """A point in time given as ``name``: ISO 8601 with an offset (what the API writes),
    or epoch seconds (what it wrote before); epoch seconds, or None when absent."""
    raw = request.query.get(name)
    if raw is None:
        return None
    if _ASCII_DECIMAL.fullmatch(raw):
        return float(raw)
    if not raw.isascii():
        raise ApiError(400, "invalid_query", f"{name} must be an ISO 8601 time in ASCII")
    try:
        return parse_iso(raw)
    except ValueError as error:
        raise ApiError(400, "invalid_query", f"{name}: {error}") from None


def before_query(request: web.Request, name: str) -> float | PageCursor | None:
    """Where a newest-first page starts: the cursor a page answered as ``nextBefore``
    (``<ISO time>~<row id>``), or a time as ``time_query`` reads it (the page then starts
    before that time); None when absent.

    A cursor is the only form that resumes exactly after a page's last row; a time is
    kept for clients that start a walk at a point in time, and for those that still pass
    a time. Checked strictly (length, ASCII, form) before it is parsed or echoed back.
    """
    raw = request.query.get(name)
    if raw is None:
        return None
    if len(raw) > MAX_CURSOR_CHARS:
        raise ApiError(
            400, "invalid_query", f"{name} must be at most {MAX_CURSOR_CHARS} characters"
        )
    if not raw.isascii():
        raise ApiError(
            400, "invalid_query", f"{name} must be ASCII: a nextBefore cursor or an ISO 8601 time"
        )
    if "~" not in raw:
        return time_query(request, name)
    try:
        return PageCursor.parse(raw)
    except ValueError as error:
        raise ApiError(400, "invalid_query", f"{name}: {error}") from None
