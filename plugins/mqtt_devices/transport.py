"""The ``mqtt`` device transport: how the core's ``send_command`` reaches a device."""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from hub.devices.models import Command, Device

from .const import COMMAND
from .topics import device_topic

if TYPE_CHECKING:
    from .connection import MqttConnection

PUBLISH_TIMEOUT = 5.0


class MqttCommandTransport:
    """Publishes ``{id, command, params}`` at QoS 1; returns once the broker has it.

    Never retained: a retained command (a ``factory_reset``) would be replayed to the device
    on every reconnect, long after anyone meant it.
    """

    def __init__(self, station_id: str) -> None:
        self._station = station_id
        self.connection: MqttConnection | None = None
        self.sent = 0

    async def send_command(self, device: Device, command: Command) -> None:
        if self.connection is None:
            raise ConnectionError("the MQTT connection has not started")
        payload = orjson.dumps(
            {"id": command.id, "command": command.command, "params": command.params}
        )
        await self.connection.publish(
            device_topic(self._station, device.external_id, COMMAND),
            payload,
            qos=1,
            retain=False,
            ack_within=PUBLISH_TIMEOUT,
        )
        self.sent += 1
