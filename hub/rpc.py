"""What a JSON-RPC method handler may raise, whichever transport carries the call.

Methods are registered with ``registrar.rpc_method(name, handler)``; the cloud link serves
them today. A handler raises ``InvalidParams`` for bad params (a ``voluptuous.Invalid``
works too) or ``RpcError`` with its own code; anything else becomes -32603 without the
exception's text, so a bug never leaks details to the remote side.
"""

from __future__ import annotations

from typing import Any

# Codes defined by the specification.
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603

# Implementation-defined server errors (the spec reserves -32000 to -32099 for these).
SERVER_BUSY = -32000
HANDLER_TIMEOUT = -32001
BATCH_TOO_LARGE = -32002
FRAME_TOO_LARGE = -32003

STANDARD_MESSAGES = {
    PARSE_ERROR: "Parse error",
    INVALID_REQUEST: "Invalid Request",
    METHOD_NOT_FOUND: "Method not found",
    INVALID_PARAMS: "Invalid params",
    INTERNAL_ERROR: "Internal error",
    SERVER_BUSY: "Server busy",
    HANDLER_TIMEOUT: "Handler timed out",
    BATCH_TOO_LARGE: "Batch too large",
    FRAME_TOO_LARGE: "Frame too large",
}


class RpcError(Exception):
    """An error response, raised by a handler or received for an outgoing call."""

    def __init__(self, code: int, message: str | None = None, data: Any = None) -> None:
        self.code = code
        self.message = message or STANDARD_MESSAGES.get(code, "Server error")
        self.data = data
        super().__init__(f"{self.code} {self.message}" + (f": {data}" if data is not None else ""))

    def as_error_object(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


class InvalidParams(RpcError):
    """Raised by a handler whose params are missing or wrong; ``detail`` says which."""

    def __init__(self, detail: str) -> None:
        super().__init__(INVALID_PARAMS, data=detail)
