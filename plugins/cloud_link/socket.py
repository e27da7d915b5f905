"""Opening the cloud socket and reading data frames from it.

Automatic pings and pongs are off: the link answers the cloud's pings itself and sees the
cloud's pongs, which is how the heartbeat (docs/cloud-protocol.md) knows the cloud is alive. Text
frames stay bytes (``decode_text=False``) so the size check is exact and orjson parses
them without a second copy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal, TypeAlias

import aiohttp
from aiohttp import ClientWSTimeout, WSMsgType

# aiohttp closes the socket (1009) above this multiple of the frame limit; between the
# limit and the cap a frame is answered with an error and the connection stays up.
HARD_CAP_FACTOR = 4

# A socket opened with decode_text=False. Recent aiohttp types that as
# ClientWebSocketResponse[Literal[False]]; the class is subscripted only for the type
# checker, as the aiohttp versions pyproject.toml allows need not make it generic.
if TYPE_CHECKING:
    WebSocket: TypeAlias = aiohttp.ClientWebSocketResponse[Literal[False]]
else:
    WebSocket = aiohttp.ClientWebSocketResponse


class SocketClosed(ConnectionError):
    """The socket ended; the message says how, for ``lastError``."""


async def open_socket(
    http: aiohttp.ClientSession,
    url: str,
    *,
    connect_timeout: float,
    close_timeout: float,
    max_frame_bytes: int,
) -> WebSocket:
    """Connect and upgrade within ``connect_timeout``; raise OSError, ClientError, TimeoutError."""
    async with asyncio.timeout(connect_timeout):
        return await http.ws_connect(
            url,
            autoping=False,
            decode_text=False,
            max_msg_size=max_frame_bytes * HARD_CAP_FACTOR,
            # ws_close bounds the closing handshake, so ending a session on a cloud that
            # stopped answering takes close_timeout at most, then the TCP socket is dropped.
            timeout=ClientWSTimeout(ws_receive=None, ws_close=close_timeout),
        )


async def receive_data(ws: WebSocket, on_pong: Callable[[], None]) -> bytes:
    """The next text or binary frame; pings are answered and pongs reported on the way."""
    while True:
        message = await ws.receive()
        if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
            data = message.data
            return data if isinstance(data, bytes) else data.encode()
        if message.type is WSMsgType.PING:
            try:
                await ws.pong(message.data)
            except (ConnectionError, RuntimeError) as error:
                raise SocketClosed(f"pong failed: {error}") from error
        elif message.type is WSMsgType.PONG:
            on_pong()
        elif message.type is WSMsgType.ERROR:
            raise SocketClosed(f"socket error: {message.data}")
        else:
            code = ws.close_code
            raise SocketClosed(f"the cloud closed the connection (code {code})")
