"""The import path the core and integrations have used for the WebSocket API.

The API itself lives in the ``hub.http.websocket`` package; the auth phase and
``SessionGuard`` every authenticated socket shares are in ``hub.http.websocket.session``.
"""

from __future__ import annotations

from hub.http.websocket import register
from hub.http.websocket.session import (
    AUTH_TIMEOUT,
    RECHECK_INTERVAL,
    SessionGuard,
    authenticate_socket,
)

__all__ = ["AUTH_TIMEOUT", "RECHECK_INTERVAL", "SessionGuard", "authenticate_socket", "register"]
