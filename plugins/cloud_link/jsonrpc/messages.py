"""The shapes of JSON-RPC 2.0 messages: checking what arrives, building what leaves.

Kept free of I/O so every rule of the specification is visible in one short module.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from hub.rpc import RequestId
from plugins.cloud_link.jsonrpc.errors import INVALID_REQUEST, RpcError

VERSION = "2.0"

Params = list[Any] | dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    params: Params
    id: RequestId
    is_notification: bool


class RejectedRequest(Exception):
    """A request that breaks the spec; ``id`` is the one to answer with (null if unknown)."""

    def __init__(self, error: RpcError, request_id: RequestId) -> None:
        super().__init__(error.message)
        self.error = error
        self.id = request_id


def valid_id(value: Any) -> bool:
    """The spec allows a string, a number or null; booleans are not numbers here."""
    if value is None or isinstance(value, str):
        return True
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value)


def is_response(message: Any) -> bool:
    """A response has a result or an error and no method; it is never answered."""
    return (
        isinstance(message, dict)
        and "method" not in message
        and ("result" in message or "error" in message)
    )


def parse_request(message: Any) -> Request:
    """Check one request or notification; raise ``RejectedRequest`` saying what was wrong."""
    if not isinstance(message, dict):
        raise _rejected(f"a request must be a JSON object, not {_kind(message)}", None)
    has_id = "id" in message
    request_id = message.get("id")
    if has_id and not valid_id(request_id):
        raise _rejected("id must be a string, a number or null", None)
    if message.get("jsonrpc") != VERSION:
        raise _rejected('jsonrpc must be exactly "2.0"', request_id)
    method = message.get("method")
    if not isinstance(method, str):
        raise _rejected("method must be a string", request_id)
    params = message.get("params")
    if "params" in message and not isinstance(params, list | dict):
        raise _rejected("params must be an array or an object when present", request_id)
    return Request(method, params, request_id, is_notification=not has_id)


def request(method: str, params: Params, request_id: RequestId) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": VERSION, "method": method, "id": request_id}
    if params is not None:
        message["params"] = params
    return message


def notification(method: str, params: Params = None) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": VERSION, "method": method}
    if params is not None:
        message["params"] = params
    return message


def success(request_id: RequestId, result: Any) -> dict[str, Any]:
    return {"jsonrpc": VERSION, "result": result, "id": request_id}


def failure(request_id: RequestId, error: RpcError) -> dict[str, Any]:
    return {"jsonrpc": VERSION, "error": error.as_error_object(), "id": request_id}


def error_from_response(message: dict[str, Any]) -> RpcError:
    """The exception an outgoing call raises for an error response, however malformed."""
    error = message.get("error")
    if not isinstance(error, dict):
        return RpcError(INVALID_REQUEST, "Malformed error response", data=error)
    code = error.get("code")
    text = error.get("message")
    return RpcError(
        code if isinstance(code, int) and not isinstance(code, bool) else INVALID_REQUEST,
        text if isinstance(text, str) else "Malformed error response",
        error.get("data"),
    )


def _rejected(detail: str, request_id: RequestId) -> RejectedRequest:
    return RejectedRequest(RpcError(INVALID_REQUEST, data=detail), request_id)


def _kind(value: Any) -> str:
    """The JSON name of a decoded value's type, for error messages the remote side reads."""
    if isinstance(value, list):
        return "an array"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    return "a number"
