"""The ``ble_provisioning:`` YAML key and the settings it resolves to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import voluptuous as vol

from plugins.ble_provisioning.advertising import normalize_uuid
from plugins.ble_provisioning.const import (
    CUSTOM_CREDENTIALS_UUID,
    CUSTOM_SERVICE_UUID,
    CUSTOM_STATUS_UUID,
    DEFAULT_ANSWER_TIMEOUT,
    DEFAULT_CONNECT_TIMEOUT,
)


def ble_uuid(value: Any) -> str:
    if not isinstance(value, str):
        raise vol.Invalid("must be a UUID string")
    try:
        return normalize_uuid(value)
    except ValueError:
        raise vol.Invalid(f"{value!r} is not a UUID (16-bit hex or 128-bit form)") from None


def broker_url(value: Any) -> str:
    if not isinstance(value, str):
        raise vol.Invalid("must be an mqtt:// or mqtts:// URL")
    parts = urlsplit(value.strip())
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise vol.Invalid("must be an mqtt:// or mqtts:// URL with a host devices can reach")
    return value.strip()


def _seconds(maximum: float) -> vol.All:
    return vol.All(vol.Coerce(float), vol.Range(min=0.05, max=maximum))


CONFIG_SCHEMA = vol.Schema(
    {
        vol.Optional("service_uuid", default=CUSTOM_SERVICE_UUID): ble_uuid,
        vol.Optional("credentials_uuid", default=CUSTOM_CREDENTIALS_UUID): ble_uuid,
        vol.Optional("status_uuid", default=CUSTOM_STATUS_UUID): ble_uuid,
        # BlueZ adapter name, e.g. hci0.
        vol.Optional("adapter"): vol.All(str, vol.Match(r"^hci[0-9]{1,3}\Z")),
        # A bumble HCI transport (usb:0, serial:/dev/ttyUSB0,1000000, tcp-client:h:p)
        # instead of BlueZ; needs the optional ``bumble`` package.
        vol.Optional("hci"): vol.All(str, vol.Length(min=3)),
        # ATT MTU to request when driving a controller through ``hci`` (BlueZ negotiates
        # on its own).
        vol.Optional("mtu"): vol.All(vol.Coerce(int), vol.Range(min=23, max=517)),
        # Run scanning and provisioning in the stdio bridge subprocess.
        vol.Optional("isolation", default=False): bool,
        vol.Optional("improv", default=True): bool,
        vol.Optional("connect_timeout", default=DEFAULT_CONNECT_TIMEOUT): _seconds(120),
        vol.Optional("answer_timeout", default=DEFAULT_ANSWER_TIMEOUT): _seconds(300),
        vol.Optional("candidate_ttl", default=60.0): _seconds(3600),
        vol.Optional("recheck_interval", default=30.0): _seconds(3600),
        # Where provisioned devices find the broker; derived when left out.
        vol.Optional("broker_url"): broker_url,
    }
)


@dataclass(frozen=True, slots=True)
class BleSettings:
    service_uuid: str
    credentials_uuid: str
    status_uuid: str
    adapter: str | None
    hci: str | None
    mtu: int | None
    isolation: bool
    improv: bool
    connect_timeout: float
    answer_timeout: float
    candidate_ttl: float
    recheck_interval: float
    broker_url: str | None

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> BleSettings:
        config = CONFIG_SCHEMA(dict(config or {}))
        return cls(
            service_uuid=config["service_uuid"],
            credentials_uuid=config["credentials_uuid"],
            status_uuid=config["status_uuid"],
            adapter=config.get("adapter"),
            hci=config.get("hci"),
            mtu=config.get("mtu"),
            isolation=config["isolation"],
            improv=config["improv"],
            connect_timeout=config["connect_timeout"],
            answer_timeout=config["answer_timeout"],
            candidate_ttl=config["candidate_ttl"],
            recheck_interval=config["recheck_interval"],
            broker_url=config.get("broker_url"),
        )
