"""Which names the hub answers to, and which web pages may change its state.

Two browser-borne attacks reach a hub on a LAN through a page its user opens elsewhere:

- **Cross-site requests.** A foreign page can make the browser send a POST to the hub
  (a form, or ``fetch`` with ``mode: "no-cors"``). The browser says where it came from in
  ``Origin``; a state-changing request whose ``Origin`` is neither the hub itself nor one
  of ``hub: http: cors_origins`` is refused (``origin_middleware``).
- **DNS rebinding.** A page at ``evil.example`` re-points its own name at the hub's LAN
  address; the browser then treats the hub as ``evil.example`` and lets the page read the
  answers. The only trace is the ``Host`` header, which still says ``evil.example``. While
  the hub is unclaimed (onboarding open: whoever creates the first user owns it) a request
  whose ``Host`` is not a name the hub answers to is refused (``HostPolicy``).

The names the hub answers to: ``localhost`` (and ``*.localhost``), any loopback address,
the address the request arrived on (the box's own IP, whichever interface), the box's
host name, any ``*.local`` (mDNS) name, and whatever the
operator lists in ``hub: http: allowed_hosts`` (exact names, IPs, or ``*.suffix``).
``.local`` names are resolved by multicast on the LAN only, so a remote page cannot
rebind one; anyone who could is already on the LAN and can talk to the hub directly.
"""

from __future__ import annotations

import inspect
import ipaddress
import logging
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiohttp import web
from yarl import URL

from hub.http.errors import ApiError
from hub.runtime_data import RuntimeData, RuntimeKey

_LOGGER = logging.getLogger(__name__)

#: Answers "must the Host header be checked right now?"; sync or async, keep it cheap
#: (it runs for every request while registered), e.g. a cached "no users yet" flag.
HostCheckPredicate = Callable[[], bool | Awaitable[bool]]

STATE_CHANGING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}

HOST_POLICY_KEY: web.AppKey[HostPolicy] = web.AppKey("host_policy")


def split_host(value: str) -> tuple[str, int | None]:
    """``host[:port]`` of a Host header → (lower-case host without brackets, port)."""
    value = value.strip()
    port: int | None = None
    if value.startswith("["):  # [v6]:port
        end = value.find("]")
        host, rest = value[1:end], value[end + 1 :]
        if rest.startswith(":") and rest[1:].isascii() and rest[1:].isdigit():
            port = int(rest[1:])
    elif value.count(":") == 1:
        host, _, tail = value.partition(":")
        if tail.isascii() and tail.isdigit():
            port = int(tail)
    else:
        host = value
    return host.lower().rstrip("."), port


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


def own_host_names() -> frozenset[str]:
    """The box's host name, as configured and as its mDNS ``.local`` name.

    ``socket.getfqdn()`` is not asked: it does a reverse DNS lookup that can stall start-up
    for seconds on a site with broken DNS. A fully qualified name goes in ``allowed_hosts``.
    """
    name = socket.gethostname().lower().rstrip(".")
    if not name:
        return frozenset()
    return frozenset({name, f"{name.split('.', 1)[0]}.local"})


class HostPolicy:
    """The names the hub answers to, and when a request's ``Host`` must be one of them."""

    def __init__(self, allowed: Iterable[str] = (), *, own_names: Iterable[str] = ()) -> None:
        self._exact: set[str] = set(own_names)
        self._suffixes: set[str] = {".localhost", ".local"}
        self._networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        self._predicates: list[HostCheckPredicate] = []
        self.allow(allowed)

    def allow(self, patterns: Iterable[str]) -> None:
        """Add names (``hub.example``), wildcards (``*.site.lan``), IPs or CIDR blocks."""
        for pattern in patterns:
            item = pattern.strip().lower().rstrip(".")
            if item.startswith("*."):
                self._suffixes.add(item[1:])
                continue
            try:
                self._networks.append(ipaddress.ip_network(item.strip("[]"), strict=False))
            except ValueError:
                self._exact.add(item)

    def require_when(self, predicate: HostCheckPredicate) -> None:
        """Check ``Host`` on every request while ``predicate()`` is true.

        For integrations whose state makes the hub worth rebinding to: the auth
        integration's "no user exists yet" is the example. Register in ``hub_register``.
        """
        self._predicates.append(predicate)

    async def required_now(self) -> bool:
        for predicate in self._predicates:
            try:
                result = predicate()
                if inspect.isawaitable(result):
                    result = await result
            except Exception:
                _LOGGER.exception("A host-check predicate failed; checking Host to be safe")
                return True
            if result:
                return True
        return False

    def answers_to(self, request: web.Request) -> bool:
        """Whether the request's ``Host`` names this hub."""
        raw = request.headers.get("Host")
        if raw is None:  # HTTP/1.0 without Host: no browser sends that
            return True
        host, _port = split_host(raw)
        if not host:
            return False
        address = _ip(host)
        if address is not None:
            return (
                address.is_loopback
                or address == _local_address(request)
                or any(address in network for network in self._networks)
            )
        return (
            host == "localhost"
            or host in self._exact
            or any(host.endswith(suffix) for suffix in self._suffixes)
        )

    def check(self, request: web.Request) -> None:
        """Refuse a request whose ``Host`` is not one of the hub's names (DNS rebinding)."""
        if not self.answers_to(request):
            host, _ = split_host(request.headers.get("Host", ""))
            raise ApiError(
                421,
                "host_not_allowed",
                f"this hub does not answer to the name {host!r} now; open it by its IP "
                "address, localhost or its .local name, or add the name to "
                "hub: http: allowed_hosts",
            )


def _local_address(request: web.Request) -> Any:
    """The address this connection arrived on (an IPv4 client of a dual-stack socket is
    seen as ``::ffff:a.b.c.d``; the Host header then says ``a.b.c.d``)."""
    transport = request.transport
    sockname = transport.get_extra_info("sockname") if transport is not None else None
    if not sockname or not isinstance(sockname, tuple):
        return None
    address = _ip(str(sockname[0]))
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def require_allowed_host(request: web.Request) -> None:
    """For a route that must never be reached by a rebound name (onboarding): refuse a
    request whose ``Host`` the hub does not answer to, whatever the predicates say."""
    policy = request.app.get(HOST_POLICY_KEY)
    if policy is not None:
        policy.check(request)


#: The core's own runtime value: the hub's host policy.
HOST_POLICY: RuntimeKey[HostPolicy] = RuntimeKey("hub", "http.hosts")


def host_policy(runtime_data: RuntimeData) -> HostPolicy:
    """The hub's policy, kept in ``hub.runtime_data`` so integrations can register
    predicates before the HTTP app exists; ``build_app`` adds the configured names to it."""
    return runtime_data.setdefault(HOST_POLICY, lambda: HostPolicy(own_names=own_host_names()))


def same_origin(origin: str, host_header: str | None) -> bool:
    """Whether ``Origin`` names the host and port the request was sent to."""
    if not host_header:
        return False
    try:
        url = URL(origin)
    except ValueError:
        return False
    if url.scheme not in _DEFAULT_PORTS or not url.host:
        return False
    origin_port = url.port or _DEFAULT_PORTS[url.scheme]
    host, port = split_host(host_header)
    return url.host.lower().rstrip(".") == host and origin_port == (
        port or _DEFAULT_PORTS[url.scheme]
    )


def origin_middleware(
    policy: HostPolicy, allowed_origins: Iterable[str]
) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Refuse cross-site state changes, and a foreign ``Host`` while a predicate asks."""
    origins = frozenset(origin.rstrip("/").lower() for origin in allowed_origins)

    @web.middleware
    async def middleware(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.method in STATE_CHANGING_METHODS:
            origin = request.headers.get("Origin")
            if (
                origin is not None
                and origin.rstrip("/").lower() not in origins
                and not same_origin(origin, request.headers.get("Host"))
            ):
                raise ApiError(
                    403,
                    "origin_not_allowed",
                    f"requests from the web page at {origin!r} may not change this hub; "
                    "if that page is yours, add its origin to hub: http: cors_origins",
                )
        if await policy.required_now():
            policy.check(request)
        return await handler(request)

    return middleware
