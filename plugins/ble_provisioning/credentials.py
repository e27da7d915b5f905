"""Wi-Fi credentials as IEEE 802.11 and WPA2 allow them, checked before any radio work.

An SSID is 1-32 *bytes* (UTF-8 names with accents run out sooner than 32 characters); a
WPA2 passphrase is 8-63 printable ASCII characters, or exactly 64 hex digits when it is
the raw pre-shared key. NUL is refused everywhere because ESP-IDF copies these into C
strings, where a NUL would silently cut the value short.

The device's own MQTT account (``MqttAccount``) travels in the same document; it is made
by the mqtt_devices integration, which alone talks to the broker.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

import orjson

SSID_MAX_BYTES = 32
PASSPHRASE_MIN = 8
PASSPHRASE_MAX = 63
PSK_HEX_LENGTH = 64
_HEX = frozenset(string.hexdigits)
_PRINTABLE_ASCII = frozenset(chr(code) for code in range(0x20, 0x7F))


class InvalidCredentials(ValueError):
    """The message names the field and the rule it broke, never the secret itself."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True, slots=True)
class WifiCredentials:
    ssid: str
    password: str

    def __repr__(self) -> str:
        # Keep passphrases out of logs and tracebacks.
        return f"WifiCredentials(ssid={self.ssid!r}, password=<{len(self.password)} chars>)"


def validate_ssid(ssid: object) -> str:
    if not isinstance(ssid, str):
        raise InvalidCredentials("ssid", "must be a string")
    if "\x00" in ssid:
        raise InvalidCredentials("ssid", "must not contain a NUL character")
    size = len(ssid.encode("utf-8"))
    if not 1 <= size <= SSID_MAX_BYTES:
        raise InvalidCredentials(
            "ssid", f"must be 1-{SSID_MAX_BYTES} bytes in UTF-8 (this one is {size})"
        )
    return ssid


def validate_password(password: object) -> str:
    if not isinstance(password, str):
        raise InvalidCredentials("password", "must be a string")
    if "\x00" in password:
        raise InvalidCredentials("password", "must not contain a NUL character")
    if len(password) == PSK_HEX_LENGTH:
        if set(password) <= _HEX:
            return password
        raise InvalidCredentials(
            "password", f"{PSK_HEX_LENGTH} characters is only allowed as a hex pre-shared key"
        )
    if not PASSPHRASE_MIN <= len(password) <= PASSPHRASE_MAX:
        raise InvalidCredentials(
            "password",
            f"must be {PASSPHRASE_MIN}-{PASSPHRASE_MAX} characters, or {PSK_HEX_LENGTH} hex "
            f"digits (this one has {len(password)})",
        )
    if not set(password) <= _PRINTABLE_ASCII:
        raise InvalidCredentials(
            "password", "a WPA2 passphrase may only hold printable ASCII characters"
        )
    return password


def validate(ssid: object, password: object) -> WifiCredentials:
    return WifiCredentials(validate_ssid(ssid), validate_password(password))


# ---- the device's own MQTT account (mqtt_devices' per-device identities) ---------------


@dataclass(frozen=True, slots=True)
class MqttAccount:
    """The broker login a provisioned device uses: its own, never the hub's."""

    username: str
    password: str
    client_id: str

    def __repr__(self) -> str:
        return f"MqttAccount(username={self.username!r}, password=<hidden>)"


def with_mqtt_account(payload: bytes, account: MqttAccount | None) -> bytes:
    """The provisioning document with ``mqttUsername``/``mqttPassword``/``mqttClientId``.

    Without an account (identities off, no MQTT integration) the document is unchanged, so
    devices provisioned for a broker without per-device accounts see exactly what they did.
    """
    if account is None:
        return payload
    document = orjson.loads(payload)
    document.update(
        mqttUsername=account.username,
        mqttPassword=account.password,
        mqttClientId=account.client_id,
    )
    return orjson.dumps(document)
