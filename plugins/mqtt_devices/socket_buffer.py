"""Reading the broker's stream in chunks instead of a few bytes at a time.

paho reads each packet with at least three ``recv`` calls (the command byte, the length
bytes one by one, the rest), and aiomqtt's reader reads one packet per wake-up of the
event loop, so every message costs three system calls and a loop turn. Wrapping paho's
plain TCP socket in ``ChunkedSocket`` makes a wake-up read up to 64 KiB at once; its
``pending()`` (the hook aiomqtt already honours for TLS sockets, whose decrypted bytes
also wait inside the socket object) keeps aiomqtt's reader reading until the chunk is used
up. TLS sockets are left as they are.
"""

from __future__ import annotations

import socket
from typing import Any

CHUNK = 65536


class ChunkedSocket:
    """A non-blocking TCP socket whose ``recv`` serves from a chunk read ahead."""

    __slots__ = ("_buffer", "_position", "_sock")

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = b""
        self._position = 0

    def recv(self, size: int) -> bytes:
        buffer = self._buffer
        position = self._position
        if position >= len(buffer):
            # BlockingIOError and b"" (closed) reach paho exactly as from the socket.
            buffer = self._sock.recv(CHUNK)
            if not buffer:
                return buffer
            self._buffer = buffer
            position = 0
        end = min(position + size, len(buffer))
        self._position = end
        return buffer[position:end]

    def pending(self) -> int:
        """Bytes read ahead and not yet handed out (aiomqtt's reader loops while > 0)."""
        return len(self._buffer) - self._position

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def chunked(sock: Any) -> Any:
    """``sock`` wrapped when it is a plain TCP socket; anything else as it is."""
    if type(sock) is socket.socket:
        return ChunkedSocket(sock)
    return sock
