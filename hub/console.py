"""What the operator reads on the console: the start-up summary and one-line failures.

A person starting the hub wants to know, without reading a log, where it is listening,
what it stores where, and which integrations work. A person whose hub cannot start wants
one line naming the problem and the fix, not a traceback.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import ipaddress
import logging
import socket
import struct
from collections.abc import Iterable
from typing import TYPE_CHECKING

from hub import __version__, integrations

if TYPE_CHECKING:
    from hub.core import Hub

_SIOCGIFADDR = 0x8915  # Linux: read an interface's IPv4 address.
_EVERY_INTERFACE = ("0.0.0.0", "", "::")


class StartupError(Exception):
    """A start-up failure the operator can fix; its text is the whole message."""


def listen_error(host: str, port: int, error: OSError) -> StartupError:
    """One line for a socket that could not be bound, naming the fix."""
    where = f"{host or '0.0.0.0'}:{port}"
    if error.errno == errno.EADDRINUSE:
        problem = f"port {port} is already in use on {where}"
    elif error.errno == errno.EACCES:
        problem = f"not allowed to listen on {where} (ports below 1024 need privileges)"
    elif error.errno == errno.EADDRNOTAVAIL:
        problem = f"this machine has no address {host}"
    else:
        problem = f"cannot listen on {where}: {error.strerror or error}"
    return StartupError(
        f"HTTP API: {problem}. Stop the other program, or choose another port with "
        "--port, HUB_HTTP_PORT or hub: http: port in configuration.yaml."
    )


# Libraries whose INFO lines are about their own machinery, not the station: quiet unless
# the operator asks for debug output.
_CHATTY_LIBRARIES = ("alembic", "amqtt", "transitions", "bumble", "aiosqlite")


LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


def apply_log_level(level: str) -> None:
    """Set the hub's log level, keeping library chatter and secrets out of the log."""
    if level.lower() not in LOG_LEVELS:
        raise StartupError(
            f"unknown log level {level!r} (from --log-level, hub: log_level or HUB_LOG_LEVEL):"
            f" use one of {', '.join(LOG_LEVELS)}"
        )
    root = logging.getLogger()
    root.setLevel(level.upper())
    quiet = logging.DEBUG if root.level <= logging.DEBUG else logging.WARNING
    for name in _CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(quiet)
    # aiosqlite logs every statement with its values at DEBUG: tokens and hashes would
    # reach the log. Never below INFO, whatever the hub's level.
    logging.getLogger("aiosqlite").setLevel(max(logging.INFO, quiet))


def interface_addresses() -> list[str]:
    """The machine's IPv4 addresses, loopback first; best effort, Linux only."""
    found: list[str] = []
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for _index, name in socket.if_nameindex():
            with contextlib.suppress(OSError):
                request = struct.pack("256s", name.encode()[:15])
                answer = fcntl.ioctl(probe.fileno(), _SIOCGIFADDR, request)
                found.append(socket.inet_ntoa(answer[20:24]))
    return sorted(set(found), key=lambda text: (not ipaddress.ip_address(text).is_loopback, text))


def http_urls(host: str, port: int, addresses: Iterable[str] | None = None) -> list[str]:
    """The URLs a browser can use; for 0.0.0.0, one per interface address."""
    if host not in _EVERY_INTERFACE:
        shown = f"[{host}]" if ":" in host else host
        return [f"http://{shown}:{port}"]
    listed = list(addresses if addresses is not None else interface_addresses())
    return [f"http://{address}:{port}" for address in listed or ["127.0.0.1"]]


def startup_summary(hub: Hub) -> list[str]:
    """The ordered lines printed once the hub has started."""
    http = hub.config.get("hub", {}).get("http", {})
    host = str(http.get("host", ""))
    port = hub.http.port if hub.http is not None else int(http.get("port", 0))
    urls = http_urls(host, port)
    lines = [
        f"Station Hub {__version__} started: station {hub.station_id!r} ({hub.name})",
        f"  config     {hub.config_dir}",
        f"  database   {hub.db.describe()}",
    ]
    if host in _EVERY_INTERFACE:
        lines.append(
            f"  HTTP API   every interface ({host or '0.0.0.0'}:{port}): {', '.join(urls)}"
        )
    else:
        lines.append(f"  HTTP API   {urls[0]}")
    for name, integration in hub.integrations.items():
        state = integration.state
        reason = f": {integration.error}" if integration.error else ""
        lines.append(f"  {name:<18} {state}{reason}")
    lines.extend(f"  {note}" for note in hub.startup_notes)
    if any(item.state == integrations.FAILED for item in hub.integrations.values()):
        lines.append(
            "  Some integrations did not start; the rest run (GET /api/health says degraded)."
            " Fix the errors above, then restart."
        )
    return lines
