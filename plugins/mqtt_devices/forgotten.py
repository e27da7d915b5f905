"""A device the hub forgets loses its broker account too.

``DELETE /api/devices/{id}`` (or a failed provisioning) removes a device from the registry;
its account would otherwise still log in, and its next handshake would register it again.
The ``device_removed`` event names only the hub's device id, so this keeps the id →
external id map for every device it may have to revoke: those loaded at start, those
registered by a handshake, and those BLE provisioning reports (``remember``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hub import events

from .dynsec import DynsecError
from .identities import DeviceIdentities

if TYPE_CHECKING:
    from hub.devices.registry import DeviceRegistry
    from hub.event_bus import Event, EventBus

_LOGGER = logging.getLogger(__name__)


class ForgottenDevices:
    def __init__(
        self,
        identities: DeviceIdentities,
        registry: DeviceRegistry,
        bus: EventBus,
        create_task: Callable[..., asyncio.Task[Any]],
    ) -> None:
        self._identities = identities
        self._create_task = create_task
        self._external_ids = {device.id: device.external_id for device in registry.all()}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.revoked = 0
        self._unsubscribe = [
            bus.listen(events.DEVICE_REGISTERED, self._registered),
            bus.listen(events.DEVICE_REMOVED, self._removed),
        ]

    def remember(self, device_id: str, external_id: str) -> None:
        self._external_ids[device_id] = external_id

    def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()

    async def settle(self) -> None:
        """Wait for the revocations started so far (tests; the hub stopping)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks))

    def _registered(self, event: Event[events.DeviceRegisteredData]) -> None:
        device = event.data.get("device") or {}
        if isinstance(device.get("id"), str) and isinstance(device.get("externalId"), str):
            self._external_ids[device["id"]] = device["externalId"]

    def _removed(self, event: Event[events.DeviceRemovedData]) -> None:
        external_id = self._external_ids.pop(str(event.data.get("deviceId")), None)
        if external_id is None:
            return
        task = self._create_task(self._revoke(external_id), name="mqtt-revoke-identity")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _revoke(self, external_id: str) -> None:
        try:
            if await self._identities.revoke(external_id):
                self.revoked += 1
                _LOGGER.info("Deleted the MQTT account of forgotten device %s", external_id)
        except DynsecError as error:
            _LOGGER.warning(
                "Could not delete the MQTT account of forgotten device %s (%s); remove it with "
                "'mosquitto_ctrl ... dynsec deleteClient %s'",
                external_id,
                error,
                external_id,
            )
