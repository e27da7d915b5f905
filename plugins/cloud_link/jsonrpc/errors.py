"""JSON-RPC 2.0 error codes and the exceptions that carry them across the peer.

Handlers raise ``RpcError`` (or ``InvalidParams``) to answer with a chosen code; any other
exception becomes -32603 so a bug never leaks a stack trace to the remote side.
"""

from __future__ import annotations

# The codes and the handler-facing errors live in the core (hub/rpc.py), so any
# integration's RPC method can answer with a JSON-RPC error without importing this peer.
from hub.rpc import (
    BATCH_TOO_LARGE,
    FRAME_TOO_LARGE,
    HANDLER_TIMEOUT,
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    SERVER_BUSY,
    STANDARD_MESSAGES,
    InvalidParams,
    RpcError,
)

# Implementation-defined server error of the peer itself (beside -32000..-32003 in hub.rpc).
REPLY_TOO_LARGE = -32004
REPLY_TOO_LARGE_MESSAGE = "Reply too large"

__all__ = [
    "BATCH_TOO_LARGE",
    "FRAME_TOO_LARGE",
    "HANDLER_TIMEOUT",
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "PARSE_ERROR",
    "REPLY_TOO_LARGE",
    "REPLY_TOO_LARGE_MESSAGE",
    "SERVER_BUSY",
    "STANDARD_MESSAGES",
    "CallTimeout",
    "ConnectionClosed",
    "InvalidParams",
    "RpcError",
]


class ConnectionClosed(ConnectionError):
    """The socket under the peer went away; pending and later calls fail with this."""


class CallTimeout(TimeoutError):
    """No response to an outgoing call arrived within its timeout."""
