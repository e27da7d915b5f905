"""Sorting what the cloud sends into auth replies, legacy messages and JSON-RPC.

The cloud speaks two dialects on one socket: JSON-RPC 2.0, and older plain messages with a
``type`` and no ``jsonrpc``. Routing happens once here, on the parsed frame, so neither
the peer nor the legacy handlers ever see the other's traffic. Anything that is neither a
legacy message nor an auth reply goes to the peer, which answers it as the spec says.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from hub.http.json import parse_json_bytes
from plugins.cloud_link.jsonrpc import FRAME_TOO_LARGE, PARSE_ERROR, RpcError

AUTH_OK = "auth_ok"
AUTH_FAILED = "auth_failed"
AUTH_REPLY_TYPES = frozenset({AUTH_OK, AUTH_FAILED})


class FrameKind(enum.Enum):
    AUTH = "auth"
    LEGACY = "legacy"
    RPC = "rpc"
    UNREADABLE = "unreadable"


@dataclass(frozen=True, slots=True)
class Frame:
    kind: FrameKind
    payload: Any = None
    error: RpcError | None = None


def classify(data: bytes, max_bytes: int) -> Frame:
    """Parse one text frame and say who should handle it; never raises."""
    if len(data) > max_bytes:
        detail = f"frame of {len(data)} bytes exceeds the limit of {max_bytes}"
        return Frame(FrameKind.UNREADABLE, error=RpcError(FRAME_TOO_LARGE, data=detail))
    try:
        payload = parse_json_bytes(data)
    except ValueError as error:
        return Frame(FrameKind.UNREADABLE, error=RpcError(PARSE_ERROR, data=str(error)))
    if isinstance(payload, dict) and "jsonrpc" not in payload and "type" in payload:
        if payload["type"] in AUTH_REPLY_TYPES:
            return Frame(FrameKind.AUTH, payload)
        return Frame(FrameKind.LEGACY, payload)
    return Frame(FrameKind.RPC, payload)
