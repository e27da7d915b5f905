"""Legacy advertising payloads (AD structures) built and read byte for byte.

Devices must fit what the hub needs into 31 bytes of advertising plus 31 bytes of scan
response; the simulators build their adverts here, the docs' layout is checked against
these functions, and the bumble test backend reads adverts the way BlueZ would.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import IntEnum

LEGACY_PAYLOAD_LIMIT = 31
_BASE_UUID_TAIL = "-0000-1000-8000-00805f9b34fb"


class AdType(IntEnum):
    """The AD types the hub reads (Bluetooth Assigned Numbers, "Common Data Types")."""

    FLAGS = 0x01
    INCOMPLETE_16_BIT_UUIDS = 0x02
    COMPLETE_16_BIT_UUIDS = 0x03
    INCOMPLETE_32_BIT_UUIDS = 0x04
    COMPLETE_32_BIT_UUIDS = 0x05
    INCOMPLETE_128_BIT_UUIDS = 0x06
    COMPLETE_128_BIT_UUIDS = 0x07
    SHORTENED_LOCAL_NAME = 0x08
    COMPLETE_LOCAL_NAME = 0x09
    TX_POWER_LEVEL = 0x0A
    SERVICE_DATA_16_BIT = 0x16
    SERVICE_DATA_32_BIT = 0x20
    SERVICE_DATA_128_BIT = 0x21
    MANUFACTURER_DATA = 0xFF


# LE General Discoverable, BR/EDR not supported: what a provisioning-mode ESP32 sends.
FLAGS_LE_GENERAL_NO_BREDR = 0x06


class AdvertisingTooLong(ValueError):
    """The AD structures do not fit in one legacy advertising PDU."""


@dataclass(slots=True)
class ParsedAdvertisement:
    """What an advertisement says, with UUIDs in bleak's lower-case 128-bit form."""

    local_name: str | None = None
    service_uuids: list[str] = field(default_factory=list)
    service_data: dict[str, bytes] = field(default_factory=dict)
    manufacturer_data: dict[int, bytes] = field(default_factory=dict)
    tx_power: int | None = None
    flags: int | None = None


def normalize_uuid(value: str) -> str:
    """``"180f"`` or ``"0000180F-..."`` → ``"0000180f-0000-1000-8000-00805f9b34fb"``."""
    text = value.strip().lower()
    if len(text) == 4:
        return f"0000{text}{_BASE_UUID_TAIL}"
    if len(text) == 8:
        return f"{text}{_BASE_UUID_TAIL}"
    return str(uuid.UUID(text))


def uuid_from_le_bytes(raw: bytes) -> str:
    """A UUID as advertised (little-endian, 2, 4 or 16 bytes) in 128-bit string form."""
    if len(raw) in (2, 4):
        return normalize_uuid(raw[::-1].hex())
    if len(raw) == 16:
        return str(uuid.UUID(bytes=raw[::-1]))
    raise ValueError(f"a UUID is 2, 4 or 16 bytes, not {len(raw)}")


def uuid_to_le_bytes(value: str) -> bytes:
    """The shortest advertised form: 16-bit for SIG-assigned UUIDs, else 128-bit."""
    full = normalize_uuid(value)
    if full.startswith("0000") and full.endswith(_BASE_UUID_TAIL):
        return bytes.fromhex(full[4:8])[::-1]
    return uuid.UUID(full).bytes[::-1]


def ad_structure(ad_type: int, data: bytes) -> bytes:
    if len(data) > 254:
        raise AdvertisingTooLong(f"AD type 0x{ad_type:02x} carries {len(data)} bytes (max 254)")
    return bytes([len(data) + 1, ad_type]) + data


def build_payload(structures: Iterable[bytes], limit: int = LEGACY_PAYLOAD_LIMIT) -> bytes:
    """Concatenate AD structures, refusing a payload a legacy PDU cannot carry."""
    payload = b"".join(structures)
    if len(payload) > limit:
        raise AdvertisingTooLong(f"advertising payload is {len(payload)} bytes (limit {limit})")
    return payload


def flags(value: int = FLAGS_LE_GENERAL_NO_BREDR) -> bytes:
    return ad_structure(AdType.FLAGS, bytes([value]))


def complete_service_uuids(uuids: Iterable[str]) -> bytes:
    """One "complete list" structure; all UUIDs must share a width (16 or 128 bit)."""
    encoded = [uuid_to_le_bytes(item) for item in uuids]
    widths = {len(item) for item in encoded}
    if len(widths) != 1:
        raise ValueError("put 16-bit and 128-bit UUIDs in separate structures")
    ad_type = AdType.COMPLETE_16_BIT_UUIDS if widths == {2} else AdType.COMPLETE_128_BIT_UUIDS
    return ad_structure(ad_type, b"".join(encoded))


def service_data(service_uuid: str, data: bytes) -> bytes:
    raw = uuid_to_le_bytes(service_uuid)
    ad_type = AdType.SERVICE_DATA_16_BIT if len(raw) == 2 else AdType.SERVICE_DATA_128_BIT
    return ad_structure(ad_type, raw + data)


def local_name(name: str, *, complete: bool) -> bytes:
    ad_type = AdType.COMPLETE_LOCAL_NAME if complete else AdType.SHORTENED_LOCAL_NAME
    return ad_structure(ad_type, name.encode("utf-8"))


def parse_payload(payload: bytes) -> ParsedAdvertisement:
    """Read AD structures; a truncated or malformed tail is ignored as radios do.

    A complete local name wins over a shortened one, and repeated UUIDs appear once,
    because an advert and its scan response are read as one.
    """
    parsed = ParsedAdvertisement()
    shortened: str | None = None
    index = 0
    while index < len(payload):
        length = payload[index]
        if length == 0:
            break
        chunk = payload[index + 1 : index + 1 + length]
        index += 1 + length
        if len(chunk) < length:
            break
        ad_type, data = chunk[0], chunk[1:]
        try:
            shortened = _apply(parsed, ad_type, data, shortened)
        except ValueError:
            continue
    if parsed.local_name is None:
        parsed.local_name = shortened
    return parsed


def _apply(
    parsed: ParsedAdvertisement, ad_type: int, data: bytes, shortened: str | None
) -> str | None:
    if ad_type == AdType.FLAGS and data:
        parsed.flags = data[0]
    elif ad_type in (AdType.INCOMPLETE_16_BIT_UUIDS, AdType.COMPLETE_16_BIT_UUIDS):
        _add_uuids(parsed, data, 2)
    elif ad_type in (AdType.INCOMPLETE_32_BIT_UUIDS, AdType.COMPLETE_32_BIT_UUIDS):
        _add_uuids(parsed, data, 4)
    elif ad_type in (AdType.INCOMPLETE_128_BIT_UUIDS, AdType.COMPLETE_128_BIT_UUIDS):
        _add_uuids(parsed, data, 16)
    elif ad_type == AdType.COMPLETE_LOCAL_NAME:
        parsed.local_name = data.decode("utf-8", errors="replace")
    elif ad_type == AdType.SHORTENED_LOCAL_NAME:
        return data.decode("utf-8", errors="replace")
    elif ad_type == AdType.TX_POWER_LEVEL and data:
        parsed.tx_power = int.from_bytes(data[:1], "little", signed=True)
    elif ad_type == AdType.SERVICE_DATA_16_BIT and len(data) >= 2:
        parsed.service_data[uuid_from_le_bytes(data[:2])] = bytes(data[2:])
    elif ad_type == AdType.SERVICE_DATA_32_BIT and len(data) >= 4:
        parsed.service_data[uuid_from_le_bytes(data[:4])] = bytes(data[4:])
    elif ad_type == AdType.SERVICE_DATA_128_BIT and len(data) >= 16:
        parsed.service_data[uuid_from_le_bytes(data[:16])] = bytes(data[16:])
    elif ad_type == AdType.MANUFACTURER_DATA and len(data) >= 2:
        parsed.manufacturer_data[int.from_bytes(data[:2], "little")] = bytes(data[2:])
    return shortened


def _add_uuids(parsed: ParsedAdvertisement, data: bytes, width: int) -> None:
    for offset in range(0, len(data) - width + 1, width):
        value = uuid_from_le_bytes(data[offset : offset + width])
        if value not in parsed.service_uuids:
            parsed.service_uuids.append(value)
