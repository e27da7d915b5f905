"""In-memory shapes of the device domain (the hot path touches only these), and its error."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, TypedDict

from hub.timestamps import iso


@dataclass(slots=True)
class DeviceType:
    name: str
    description: str = ""
    capabilities: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "capabilities": list(self.capabilities),
            "commands": list(self.commands),
        }


class DeviceDict(TypedDict):
    """A device as the API shows it (``Device.as_dict``): REST, WebSocket and cloud alike."""

    id: str
    externalId: str
    name: str
    type: str
    online: bool
    lastSeen: str | None
    state: dict[str, Any]
    firmware: str | None
    capabilities: list[str]
    transport: str
    pending: bool


@dataclass(slots=True, eq=False)
class Device:
    id: str
    external_id: str
    name: str
    type: str
    transport: str
    firmware: str | None = None
    capabilities: list[str] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    online: bool = False
    last_seen: float | None = None
    rssi: int | None = None
    handshaken: bool = False
    created_at: float = field(default_factory=time.time)
    recent_event_seqs: deque[int] = field(default_factory=lambda: deque(maxlen=256))
    _last_seen_text: tuple[float | None, str | None] = (None, None)

    def last_seen_iso(self) -> str | None:
        # Formatting a timestamp dominates GET /api/devices; devices report far less
        # often than the portal polls, so remember the last rendering.
        cached_at, text = self._last_seen_text
        if cached_at != self.last_seen:
            text = iso(self.last_seen)
            self._last_seen_text = (self.last_seen, text)
        return text

    def as_dict(self) -> DeviceDict:
        """The API shape; serialize it right away, it shares the device's own lists."""
        return {
            "id": self.id,
            "externalId": self.external_id,
            "name": self.name,
            "type": self.type,
            "online": self.online,
            "lastSeen": self.last_seen_iso(),
            "state": self.state,
            "firmware": self.firmware,
            "capabilities": self.capabilities,
            "transport": self.transport,
            "pending": not self.handshaken,
        }


COMMAND_PENDING = "pending"
COMMAND_SENT = "sent"
COMMAND_SUCCEEDED = "succeeded"
COMMAND_FAILED = "failed"


@dataclass(slots=True)
class Command:
    id: str
    device_id: str
    command: str
    params: dict[str, Any]
    status: str = COMMAND_PENDING
    result: Any = None
    error: str | None = None
    source: str = "api"
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        return {
            "commandId": self.id,
            "deviceId": self.device_id,
            "command": self.command,
            "params": self.params,
            "status": self.status,
            "result": self.result,
            "error": self.error,
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
        }


class DeviceError(Exception):
    """A device operation that cannot be done; ``code`` is the API error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
