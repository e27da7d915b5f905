"""``station_reset``: the cloud disowns the station and wipes it back to unclaimed."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from hub.devices.registry import DeviceError
from plugins.cloud_link.const import EXIT_STATION_RESET
from plugins.cloud_link.link import CloudLink
from plugins.cloud_link.store import ClaimStore

if TYPE_CHECKING:
    from hub.core import Hub

_LOGGER = logging.getLogger(__name__)

FACTORY_RESET = "factory_reset"


async def reset_station(
    hub: Hub, store: ClaimStore, link: CloudLink, message: dict[str, Any]
) -> None:
    """Forget the claim first, so a crash half-way still leaves the station unclaimed; then
    reset every device, flush what is pending, and ask the process to exit."""
    _LOGGER.warning("The cloud reset this station; wiping the claim and resetting devices")
    await store.wipe()
    link.set_claim(None)
    failed = 0
    for device in hub.devices.all():
        try:
            await hub.devices.send_command(device.id, FACTORY_RESET, {}, source="cloud")
        except DeviceError as error:
            failed += 1
            _LOGGER.error("factory_reset for %s not delivered: %s", device.external_id, error)
    await hub.devices.flush()
    _LOGGER.warning(
        "Station reset done (%d devices, %d not reached); exiting with code %d",
        len(hub.devices.all()),
        failed,
        EXIT_STATION_RESET,
    )
    hub.request_exit(EXIT_STATION_RESET)
