"""Does an MQTT broker answer at an address? (``broker: auto`` asks this of 127.0.0.1:1883.)

A TCP connect alone would take any service on the port for a broker, so the probe sends a
minimal MQTT 3.1.1 CONNECT and waits for a CONNACK. Any CONNACK counts, a refusal for bad
credentials included: a broker is there, and the hub's own connection will say why it
cannot log in.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl

from .config import BrokerAddress

CONNACK = 0x20
DISCONNECT = b"\xe0\x00"


def connect_packet(client_id: str, keepalive: int = 5) -> bytes:
    identifier = client_id.encode()
    variable = b"\x00\x04MQTT\x04\x02" + keepalive.to_bytes(2, "big")
    payload = len(identifier).to_bytes(2, "big") + identifier
    body = variable + payload
    return bytes([0x10, len(body)]) + body


async def broker_answers(address: BrokerAddress, within: float = 1.0) -> bool:
    context = ssl.create_default_context() if address.tls else None
    writer = None
    try:
        async with asyncio.timeout(within):
            reader, writer = await asyncio.open_connection(address.host, address.port, ssl=context)
            writer.write(connect_packet(f"station-hub-probe-{os.urandom(4).hex()}"))
            await writer.drain()
            answer = await reader.readexactly(4)
            writer.write(DISCONNECT)
            await writer.drain()
    except (OSError, TimeoutError, asyncio.IncompleteReadError, ssl.SSLError):
        return False
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
    return answer[0] == CONNACK and answer[1] == 2
