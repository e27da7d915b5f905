"""The ``cloud_link:`` YAML key and the settings the link runs with.

Only ``url`` and ``station_token`` are meant for operators; the timings exist so tests run
in milliseconds and a site on a poor uplink can be tuned; their defaults are those in
docs/cloud-protocol.md.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

import voluptuous as vol
from yarl import URL

from hub.backoff import BackoffPolicy
from plugins.cloud_link.const import ALL_CHANNELS, CLOUD_PATH
from plugins.cloud_link.jsonrpc import PeerLimits

MEBIBYTE = 1024 * 1024


def cloud_url(value: Any) -> str:
    """A ``wss://`` URL; plain ``ws://`` only to loopback, since the token travels on it."""
    if not isinstance(value, str) or not value.strip():
        raise vol.Invalid("must be a wss:// URL such as wss://cloud.example/ws/station")
    try:
        url = URL(value.strip())
    except ValueError as error:
        raise vol.Invalid(f"is not a valid URL ({error})") from None
    if url.scheme not in ("ws", "wss") or not url.host:
        raise vol.Invalid("must be a wss:// URL with a host, e.g. wss://cloud.example/ws/station")
    if url.scheme == "ws" and not _is_loopback(url.host):
        raise vol.Invalid(
            "plain ws:// is only allowed to a loopback address: the station token would "
            "cross the network in clear; use wss://"
        )
    return str(url)


def url_from_cloud_host(host: str) -> str:
    """``CLOUD_HOST`` names a host (and optional port), never a scheme or a path."""
    host = host.strip().rstrip("/")
    if not host or "://" in host or "/" in host:
        raise vol.Invalid(f"CLOUD_HOST must be a host name such as cloud.example, not {host!r}")
    return cloud_url(f"wss://{host}{CLOUD_PATH}")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _seconds(minimum: float, maximum: float) -> vol.All:
    return vol.All(vol.Coerce(float), vol.Range(min=minimum, max=maximum))


def _count(minimum: int, maximum: int) -> vol.All:
    return vol.All(vol.Coerce(int), vol.Range(min=minimum, max=maximum))


CONFIG_SCHEMA = vol.Schema(
    {
        vol.Optional("url"): cloud_url,
        vol.Optional("station_token"): vol.All(str, vol.Length(min=1, max=4096)),
        vol.Optional("channels", default=list(ALL_CHANNELS)): [vol.In(ALL_CHANNELS)],
        vol.Optional("heartbeat_interval", default=30.0): _seconds(0.01, 3600),
        vol.Optional("backoff_initial", default=2.0): _seconds(0.001, 3600),
        vol.Optional("backoff_max", default=60.0): _seconds(0.001, 86400),
        vol.Optional("backoff_jitter", default=0.2): vol.All(
            vol.Coerce(float), vol.Range(min=0, max=0.9)
        ),
        vol.Optional("stable_after", default=60.0): _seconds(0, 86400),
        vol.Optional("auth_retry", default=300.0): _seconds(0.001, 86400),
        vol.Optional("auth_timeout", default=10.0): _seconds(0.01, 600),
        vol.Optional("connect_timeout", default=10.0): _seconds(0.01, 600),
        vol.Optional("close_timeout", default=5.0): _seconds(0.01, 600),
        vol.Optional("call_timeout", default=30.0): _seconds(0.01, 3600),
        vol.Optional("handler_timeout", default=30.0): _seconds(0.01, 3600),
        vol.Optional("max_frame_bytes", default=MEBIBYTE): _count(1024, 64 * MEBIBYTE),
        vol.Optional("max_batch", default=100): _count(1, 10_000),
        vol.Optional("max_reply_bytes", default=MEBIBYTE): _count(16 * 1024, 64 * MEBIBYTE),
        vol.Optional("max_in_flight", default=64): _count(1, 10_000),
        vol.Optional("offline_devices", default=10_000): _count(1, 1_000_000),
        vol.Optional("max_queued_events", default=1000): _count(1, 1_000_000),
    },
    extra=vol.PREVENT_EXTRA,
)


@dataclass(frozen=True, slots=True)
class LinkSettings:
    """Everything the connection loop needs, resolved once at setup."""

    url: str | None
    configured_token: str | None
    channels: tuple[str, ...]
    heartbeat_interval: float
    auth_timeout: float
    connect_timeout: float
    close_timeout: float
    max_frame_bytes: int
    backoff: BackoffPolicy
    #: After ``auth_failed``, the wait before trying the same token again (not a backoff:
    #: a refused token stays refused until someone changes it).
    auth_retry: float
    peer_limits: PeerLimits
    offline_devices: int
    max_queued_events: int
    url_error: str | None = None

    @classmethod
    def from_config(cls, config: dict[str, Any], cloud_host: str | None) -> LinkSettings:
        """Validated YAML plus ``CLOUD_HOST``; a bad CLOUD_HOST is reported, not fatal."""
        config = CONFIG_SCHEMA(dict(config or {}))
        url = config.get("url")
        url_error = None
        if url is None and cloud_host:
            try:
                url = url_from_cloud_host(cloud_host)
            except vol.Invalid as error:
                url_error = str(error)
        return cls(
            url=url,
            configured_token=config.get("station_token"),
            channels=tuple(config["channels"]),
            heartbeat_interval=config["heartbeat_interval"],
            auth_timeout=config["auth_timeout"],
            connect_timeout=config["connect_timeout"],
            close_timeout=config["close_timeout"],
            max_frame_bytes=config["max_frame_bytes"],
            backoff=BackoffPolicy(
                initial=config["backoff_initial"],
                maximum=config["backoff_max"],
                jitter=config["backoff_jitter"],
                stable_after=config["stable_after"],
            ),
            auth_retry=config["auth_retry"],
            peer_limits=PeerLimits(
                call_timeout=config["call_timeout"],
                handler_timeout=config["handler_timeout"],
                max_batch=config["max_batch"],
                max_in_flight=config["max_in_flight"],
                max_reply_bytes=config["max_reply_bytes"],
            ),
            offline_devices=config["offline_devices"],
            max_queued_events=config["max_queued_events"],
            url_error=url_error,
        )
