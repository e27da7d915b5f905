"""What a JSON-RPC method handler is given and may raise, whichever transport carries the call.

Methods are registered with ``registrar.rpc_method(name, handler)`` and called as
``handler(params, context)``, ``context`` being a ``CallContext``; the cloud link serves
them today. The context is defined here, not by the cloud link, so an integration's
handler depends on the core only. A handler raises ``InvalidParams`` for bad params (a
``voluptuous.Invalid`` works too) or ``RpcError`` with its own code; anything else
becomes -32603 without the exception's text, so a bug never leaks details to the remote
side. ``hub.testing.call_rpc`` calls a method exactly so in a test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

#: A JSON-RPC request id: the specification allows a string, a number or null.
RequestId = str | int | float | None

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


class RpcPeer(Protocol):
    """The side that called, as a handler may use it: call it back or notify it.

    The cloud link's ``JsonRpcPeer`` is one. ``call`` raises ``RpcError`` for an error
    response, ``TimeoutError`` when no answer came ``within`` seconds, and
    ``ConnectionError`` once the connection is gone: a handler never waits forever.
    """

    async def call(self, method: str, params: Any = None, *, within: float | None = None) -> Any:
        """Call ``method`` on the other side and return its result."""
        ...

    async def notify(self, method: str, params: Any = None) -> None:
        """Send a notification (no answer comes back)."""
        ...


@dataclass(frozen=True, slots=True)
class CallContext:
    """Handed to every RPC handler with the params: who called, and how to answer well."""

    #: The calling side, to call back through (``await context.peer.call(...)``).
    peer: RpcPeer
    #: The method name the caller used.
    method: str
    #: The request's id (None for a notification, or a request that sent ``"id": null``).
    request_id: RequestId
    #: True when nothing will be sent back, so a result is thrown away.
    is_notification: bool
    #: Who called: ``"cloud"`` for the cloud link.
    source: str
    #: Bytes of results the reply may carry; a result above it is answered with an error
    #: instead (-32004), so a handler that can page should stay well under it.
    max_reply_bytes: int
