"""One page of the device listing, bounded by count and by encoded size.

Shared by ``GET /api/devices`` and the cloud's ``devices.snapshot`` so both answer a fleet
of any size in pieces of bounded memory. A page ends at ``limit`` devices or once the
encoded devices reach ``max_bytes`` (a page always holds at least one device, so a device
bigger than the budget still gets through, alone). The cursor is the last device's id:
opaque to clients, stable while devices come and go.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson

if TYPE_CHECKING:
    from hub.devices.models import Device
    from hub.devices.registry import DeviceRegistry

#: Devices per page when the caller does not say; also the most a caller may ask for.
DEFAULT_PAGE_SIZE = 1000
MAX_PAGE_SIZE = 1000
#: Encoded bytes per page: a 10 000-device fleet with small states is ~10 pages.
MAX_PAGE_BYTES = 512 * 1024
#: Longest cursor accepted (device ids are 32 hex characters today).
MAX_CURSOR_CHARS = 128


@dataclass(frozen=True, slots=True)
class DevicePage:
    devices: list[Device]
    #: Each device's JSON (``Device.as_dict``), in order.
    encoded: list[bytes]
    #: Pass as ``cursor`` to get the next page; None on the last page.
    next_cursor: str | None

    def json_array(self) -> bytes:
        return b"[" + b",".join(self.encoded) + b"]"


def device_page(
    registry: DeviceRegistry,
    *,
    cursor: str | None,
    limit: int = DEFAULT_PAGE_SIZE,
    max_bytes: int = MAX_PAGE_BYTES,
) -> DevicePage:
    """The page after ``cursor`` (None: the first page)."""
    # One extra device tells whether another page follows, without a second lookup.
    candidates = registry.page(after=cursor, limit=limit + 1)
    devices: list[Device] = []
    encoded: list[bytes] = []
    size = 0
    for device in candidates[:limit]:
        data = orjson.dumps(device.as_dict(), option=orjson.OPT_NON_STR_KEYS)
        if devices and size + len(data) > max_bytes:
            break
        devices.append(device)
        encoded.append(data)
        size += len(data) + 1
    more = len(devices) < len(candidates)
    return DevicePage(devices, encoded, devices[-1].id if more and devices else None)
