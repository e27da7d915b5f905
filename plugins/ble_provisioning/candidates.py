"""Provisioning candidates: devices whose adverts name a provisioning service."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from plugins.ble_provisioning.const import IMPROV_SERVICE_DATA_UUID, IMPROV_SERVICE_UUID
from plugins.ble_provisioning.improv import ServiceData, state_name
from plugins.ble_provisioning.transport import Advertisement

PROTOCOL_CUSTOM = "custom"
PROTOCOL_IMPROV = "improv"

# An RSSI change smaller than this is not news worth a WebSocket message.
RSSI_REPORT_STEP = 5


@dataclass(slots=True)
class Candidate:
    advertisement: Advertisement
    protocol: str
    last_seen: float = field(default_factory=time.monotonic)

    @property
    def address(self) -> str:
        return self.advertisement.address

    def as_dict(self) -> dict[str, Any]:
        advert = self.advertisement
        data: dict[str, Any] = {
            "address": advert.address,
            "name": advert.name,
            "rssi": advert.rssi,
            "serviceUuids": list(advert.service_uuids),
            "serviceData": {key: value.hex() for key, value in advert.service_data.items()},
            "protocol": self.protocol,
        }
        if self.protocol == PROTOCOL_IMPROV:
            parsed = ServiceData.parse(advert.service_data.get(IMPROV_SERVICE_DATA_UUID, b""))
            if parsed is not None:
                data["improv"] = {
                    "state": state_name(parsed.state),
                    "capabilities": parsed.capabilities,
                }
        return data


def protocol_for(advertisement: Advertisement, custom_service: str, improv: bool) -> str | None:
    """Which provisioning protocol an advert offers; None when it is not a candidate."""
    if custom_service in advertisement.service_uuids:
        return PROTOCOL_CUSTOM
    if improv and IMPROV_SERVICE_UUID in advertisement.service_uuids:
        return PROTOCOL_IMPROV
    return None


class CandidateSet:
    """The latest advert per address, and whether a new advert is worth telling clients."""

    def __init__(self, custom_service: str, improv: bool) -> None:
        self._custom_service = custom_service
        self._improv = improv
        self._items: dict[str, Candidate] = {}

    def update(self, advertisement: Advertisement) -> Candidate | None:
        """Store the advert; return the candidate when clients should hear about it."""
        protocol = protocol_for(advertisement, self._custom_service, self._improv)
        if protocol is None:
            return None
        previous = self._items.get(advertisement.address)
        # A scan response without the name must not erase the name the advert carried.
        if previous is not None and advertisement.name is None and previous.advertisement.name:
            advertisement = _with_name(advertisement, previous.advertisement.name)
        candidate = Candidate(advertisement, protocol)
        self._items[advertisement.address] = candidate
        if previous is None or newsworthy(previous.advertisement, advertisement):
            return candidate
        return None

    def get(self, address: str) -> Candidate | None:
        return self._items.get(_canonical(address)) or self._items.get(address)

    def remove(self, address: str) -> Candidate | None:
        return self._items.pop(address, None)

    def expire(self, max_age: float, now: float | None = None) -> list[Candidate]:
        now = time.monotonic() if now is None else now
        stale = [item for item in self._items.values() if now - item.last_seen > max_age]
        for item in stale:
            del self._items[item.address]
        return stale

    def clear(self) -> None:
        self._items.clear()

    def all(self) -> list[Candidate]:
        return list(self._items.values())

    def __len__(self) -> int:
        return len(self._items)


def _canonical(address: str) -> str:
    return address.strip().upper()


def newsworthy(before: Advertisement, after: Advertisement) -> bool:
    """Whether listeners should hear about ``after`` given they already saw ``before``."""
    return (
        before.name != after.name
        or before.service_uuids != after.service_uuids
        or dict(before.service_data) != dict(after.service_data)
        or abs(before.rssi - after.rssi) >= RSSI_REPORT_STEP
    )


def _with_name(advertisement: Advertisement, name: str) -> Advertisement:
    return Advertisement(
        address=advertisement.address,
        name=name,
        rssi=advertisement.rssi,
        service_uuids=advertisement.service_uuids,
        service_data=advertisement.service_data,
        manufacturer_data=advertisement.manufacturer_data,
        handle=advertisement.handle,
    )
