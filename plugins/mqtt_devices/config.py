"""The ``mqtt_devices:`` YAML key and the settings the integration runs with.

```yaml
mqtt_devices:
  broker: auto            # auto | embedded | mqtt://host:port | mqtts://host:port
  username: hub           # optional, also accepted in the URL (mqtt://user:pass@host)
  password: !secret mqtt_password
  tls: {ca: /etc/ssl/ca.pem, cert: client.pem, key: client.key, insecure: false}
```
Everything else has a default; see docs/mqtt-protocol.md for the full list.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import voluptuous as vol

from hub.backoff import BackoffPolicy

from .const import (
    DEFAULT_EMBEDDED_HOST,
    DEFAULT_EMBEDDED_PORT,
    DEFAULT_LOCAL_BROKER,
    DEFAULT_MAX_DEVICES,
    DEFAULT_MAX_NESTING,
    DEFAULT_MAX_PAYLOAD,
    DEFAULT_NEW_DEVICES_PER_MINUTE,
    EXTERNAL_ID,
    IDENTITIES_DYNSEC,
    IDENTITIES_OFF,
)

AUTO = "auto"
EMBEDDED = "embedded"


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None

    @property
    def url(self) -> str:
        """The address without credentials, safe to log and to show at /api/health."""
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class TlsOptions:
    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    insecure: bool = False


@dataclass(frozen=True, slots=True)
class MqttSettings:
    broker: str
    address: BrokerAddress | None
    local_broker: BrokerAddress
    embedded_host: str
    embedded_port: int
    tls: TlsOptions
    client_id: str | None
    protocol: int
    session_expiry: int
    keepalive: int
    max_payload_bytes: int
    max_nesting: int
    reconnect: BackoffPolicy
    handler_timeout: float
    accept_new_devices: bool
    device_identities: str = IDENTITIES_DYNSEC
    legacy_device_account: str | None = None
    max_devices: int = DEFAULT_MAX_DEVICES
    new_devices_per_minute: int = DEFAULT_NEW_DEVICES_PER_MINUTE


def parse_broker_url(value: Any) -> BrokerAddress:
    """``mqtt://[user:pass@]host[:port]`` or ``mqtts://…``; raises ``vol.Invalid`` saying why."""
    if not isinstance(value, str):
        raise vol.Invalid("must be a string: auto, embedded, mqtt://host:port or mqtts://host:port")
    parts = urlsplit(value)
    if parts.scheme not in ("mqtt", "mqtts"):
        raise vol.Invalid(
            f"{value!r} is not auto, embedded, or an mqtt:// or mqtts:// URL "
            f"(scheme {parts.scheme or 'missing'!r})"
        )
    try:
        port = parts.port
    except ValueError:
        raise vol.Invalid(f"{value!r} has an invalid port") from None
    if not parts.hostname:
        raise vol.Invalid(f"{value!r} names no host")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise vol.Invalid(f"{value!r} must not have a path, query or fragment")
    tls = parts.scheme == "mqtts"
    return BrokerAddress(
        host=parts.hostname,
        port=port or (8883 if tls else 1883),
        tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def _broker(value: Any) -> str:
    if value in (AUTO, EMBEDDED):
        return str(value)
    parse_broker_url(value)
    return str(value)


def _existing_file(value: Any) -> str:
    path = Path(str(value)).expanduser()
    if not path.is_file():
        raise vol.Invalid(f"file {value} does not exist")
    return str(path)


def _port(value: Any) -> int:
    port = vol.Coerce(int)(value)
    if not 1 <= port <= 65535:
        raise vol.Invalid("must be between 1 and 65535")
    return port


CONFIG_SCHEMA = vol.Schema(
    {
        vol.Optional("broker", default=AUTO): _broker,
        vol.Optional("username"): str,
        vol.Optional("password"): str,
        vol.Optional("tls", default={}): vol.Schema(
            {
                vol.Optional("ca"): _existing_file,
                vol.Optional("cert"): _existing_file,
                vol.Optional("key"): _existing_file,
                vol.Optional("insecure", default=False): bool,
            }
        ),
        vol.Optional("client_id"): vol.All(str, vol.Length(min=1, max=128)),
        vol.Optional("protocol", default="3.1.1"): vol.All(
            vol.Coerce(str), vol.In(["3.1.1", "5"], msg="must be '3.1.1' or '5'")
        ),
        vol.Optional("session_expiry", default=7 * 24 * 3600): vol.All(
            vol.Coerce(int), vol.Range(min=0, max=2**32 - 1)
        ),
        vol.Optional("keepalive", default=30): vol.All(vol.Coerce(int), vol.Range(min=5, max=3600)),
        vol.Optional("local_broker", default=DEFAULT_LOCAL_BROKER): parse_broker_url,
        vol.Optional("embedded", default={}): vol.Schema(
            {
                vol.Optional("host", default=DEFAULT_EMBEDDED_HOST): str,
                vol.Optional("port", default=DEFAULT_EMBEDDED_PORT): _port,
            }
        ),
        vol.Optional("max_payload_bytes", default=DEFAULT_MAX_PAYLOAD): vol.All(
            vol.Coerce(int), vol.Range(min=64, max=16 * 1024 * 1024)
        ),
        vol.Optional("max_nesting", default=DEFAULT_MAX_NESTING): vol.All(
            vol.Coerce(int), vol.Range(min=1, max=256)
        ),
        vol.Optional("reconnect", default={}): vol.Schema(
            {
                vol.Optional("initial", default=1.0): vol.All(
                    vol.Coerce(float), vol.Range(min=0.01, max=600)
                ),
                vol.Optional("maximum", default=30.0): vol.All(
                    vol.Coerce(float), vol.Range(min=0.01, max=3600)
                ),
                vol.Optional("jitter", default=0.2): vol.All(
                    vol.Coerce(float), vol.Range(min=0, max=1)
                ),
                vol.Optional("stable_after", default=10.0): vol.All(
                    vol.Coerce(float), vol.Range(min=0)
                ),
            }
        ),
        vol.Optional("handler_timeout", default=10.0): vol.All(
            vol.Coerce(float), vol.Range(min=0.1, max=600)
        ),
        vol.Optional("accept_new_devices", default=True): bool,
        # Per-device broker accounts through Mosquitto's dynamic security plugin, or off
        # (a broker without the plugin; every device can then act as any other).
        vol.Optional("device_identities", default=IDENTITIES_DYNSEC): vol.In(
            [IDENTITIES_DYNSEC, IDENTITIES_OFF], msg="must be 'dynsec' or 'off'"
        ),
        # A shared account devices used before they had their own (migration only).
        vol.Optional("legacy_device_account"): vol.All(
            str, vol.Match(EXTERNAL_ID, msg="must be 1-64 letters, digits, '_' or '-'")
        ),
        vol.Optional("max_devices", default=DEFAULT_MAX_DEVICES): vol.All(
            vol.Coerce(int), vol.Range(min=1, max=10_000_000)
        ),
        vol.Optional("new_devices_per_minute", default=DEFAULT_NEW_DEVICES_PER_MINUTE): vol.All(
            vol.Coerce(int), vol.Range(min=1, max=1_000_000)
        ),
    },
    extra=vol.PREVENT_EXTRA,
)


def settings_from_config(config: dict[str, Any]) -> MqttSettings:
    """Turn the validated YAML into settings; explicit credentials beat those in the URL."""
    broker = config["broker"]
    address = None
    if broker not in (AUTO, EMBEDDED):
        address = parse_broker_url(broker)
        address = BrokerAddress(
            address.host,
            address.port,
            address.tls,
            config.get("username", address.username),
            config.get("password", address.password),
        )
    tls = config["tls"]
    reconnect = config["reconnect"]
    local = config["local_broker"]
    return MqttSettings(
        broker=broker,
        address=address,
        local_broker=BrokerAddress(
            local.host,
            local.port,
            local.tls,
            config.get("username", local.username),
            config.get("password", local.password),
        ),
        embedded_host=config["embedded"]["host"],
        embedded_port=config["embedded"]["port"],
        tls=TlsOptions(tls.get("ca"), tls.get("cert"), tls.get("key"), tls["insecure"]),
        client_id=config.get("client_id"),
        protocol=5 if config["protocol"] == "5" else 4,
        session_expiry=config["session_expiry"],
        keepalive=config["keepalive"],
        max_payload_bytes=config["max_payload_bytes"],
        max_nesting=config["max_nesting"],
        reconnect=BackoffPolicy(
            initial=reconnect["initial"],
            maximum=reconnect["maximum"],
            jitter=reconnect["jitter"],
            stable_after=reconnect["stable_after"],
        ),
        handler_timeout=config["handler_timeout"],
        accept_new_devices=config["accept_new_devices"],
        device_identities=config["device_identities"],
        legacy_device_account=config.get("legacy_device_account"),
        max_devices=config["max_devices"],
        new_devices_per_minute=config["new_devices_per_minute"],
    )
