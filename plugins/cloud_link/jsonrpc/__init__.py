"""An in-house JSON-RPC 2.0 peer: calls and serves over a socket someone else opened."""

# What handlers get and raise is the core's (hub/rpc.py), re-exported for the peer's users.
from hub.rpc import CallContext
from plugins.cloud_link.jsonrpc.errors import (
    BATCH_TOO_LARGE,
    FRAME_TOO_LARGE,
    HANDLER_TIMEOUT,
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    REPLY_TOO_LARGE,
    SERVER_BUSY,
    CallTimeout,
    ConnectionClosed,
    InvalidParams,
    RpcError,
)
from plugins.cloud_link.jsonrpc.peer import Handler, JsonRpcPeer, PeerLimits

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
    "SERVER_BUSY",
    "CallContext",
    "CallTimeout",
    "ConnectionClosed",
    "Handler",
    "InvalidParams",
    "JsonRpcPeer",
    "PeerLimits",
    "RpcError",
]
