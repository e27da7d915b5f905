"""The client's address when the hub sits behind a reverse proxy the operator trusts.

Behind nginx on the same box every request comes from 127.0.0.1, so anything keyed on
the address (the login throttle's per-address budget) would treat all clients as one.
``X-Forwarded-For`` is believed only when the connection itself comes from a configured
proxy; otherwise it is ignored, since any client can send it. The client is the
right-most address not itself a trusted proxy: a client can prepend whatever it likes,
but each trusted proxy appends what it saw.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from hub.http.errors import ApiError
from hub.http.middleware import Handler

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

HEADER = "X-Forwarded-For"
# A chain longer than this is no proxy setup anyone runs; refuse rather than parse it.
MAX_HOPS = 16


def forwarded_middleware(trusted: Iterable[Network]) -> Any:
    networks = tuple(trusted)

    def is_trusted(address: Address) -> bool:
        return any(address in candidate for candidate in networks)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if HEADER not in request.headers or request.remote is None:
            return await handler(request)
        try:
            peer = ipaddress.ip_address(request.remote)
        except ValueError:  # a Unix socket peer: no address to trust
            return await handler(request)
        if not is_trusted(peer):
            return await handler(request)
        hops = _parse(request.headers.getall(HEADER))
        client = next((hop for hop in reversed(hops) if not is_trusted(hop)), hops[0])
        return await handler(request.clone(remote=str(client)))

    return middleware


def _parse(values: list[str]) -> list[Address]:
    parts = [part.strip() for value in values for part in value.split(",")]
    if len(parts) > MAX_HOPS:
        raise ApiError(400, "bad_request", f"{HEADER} lists more than {MAX_HOPS} addresses")
    try:
        return [ipaddress.ip_address(part) for part in parts]
    except ValueError:
        raise ApiError(
            400, "bad_request", f"{HEADER} must be a comma-separated list of IP addresses"
        ) from None
