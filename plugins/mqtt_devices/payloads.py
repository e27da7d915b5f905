"""Turning a payload into a JSON object, or into a reason to drop it.

Sits on the ingest hot path, so the common case is one length check, one ``orjson.loads``
and one type check. orjson already refuses NaN, Infinity, invalid UTF-8 and lone
surrogates; nesting is checked exactly only when the payload holds more brackets than the
limit, because the bracket count (done in C) is an upper bound of the depth.
"""

from __future__ import annotations

from typing import Any

import orjson

from hub.http.json import nesting_depth

from .const import DROP_INVALID_JSON, DROP_NOT_OBJECT, DROP_OVERSIZE, DROP_TOO_DEEP


class Rejected(Exception):
    """A message the hub will not act on; ``reason`` is the drop counter it goes to."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class PayloadDecoder:
    __slots__ = ("max_bytes", "max_nesting")

    def __init__(self, max_bytes: int, max_nesting: int) -> None:
        self.max_bytes = max_bytes
        self.max_nesting = max_nesting

    def json_object(self, payload: bytes) -> dict[str, Any]:
        if len(payload) > self.max_bytes:
            raise Rejected(DROP_OVERSIZE, f"{len(payload)} bytes, the limit is {self.max_bytes}")
        try:
            body = orjson.loads(payload)
        except orjson.JSONDecodeError as error:
            raise _not_json(payload, error) from None
        if type(body) is not dict:
            raise Rejected(DROP_NOT_OBJECT, f"expected a JSON object, got {_kind(body)}")
        limit = self.max_nesting
        if payload.count(b"{") + payload.count(b"[") > limit and nesting_depth(body) > limit:
            raise Rejected(DROP_TOO_DEEP, f"nested deeper than {limit} levels")
        return body


def _not_json(payload: bytes, error: orjson.JSONDecodeError) -> Rejected:
    message = str(error)
    if "depth limit" in message:
        return Rejected(DROP_TOO_DEEP, "nested deeper than the JSON parser allows")
    if not payload.strip():
        return Rejected(DROP_INVALID_JSON, "empty payload; a JSON object was expected")
    if b"NaN" in payload or b"Infinity" in payload:
        message = f"NaN and Infinity are not JSON ({message})"
    return Rejected(DROP_INVALID_JSON, message)


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"
