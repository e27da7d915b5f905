"""The hub's side of the device protocol (docs/mqtt-protocol.md): one handler per device topic.

The path of a state message: ``on_state`` → ``_stale`` (retained?) → ``_known_device``
(station, external id, handshake) → ``PayloadDecoder.json_object`` →
``DeviceRegistry.report_state``. Everything a device gets wrong is dropped with a reason
and counted; nothing here creates a device except a valid handshake, and a handshake of an
unknown device only within ``max_devices`` and ``new_devices_per_minute``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import orjson

from hub.devices.models import Device
from hub.registrar import MqttMessage

from . import bodies
from .admission import NewDeviceGate
from .config import MqttSettings
from .const import (
    COMMAND_RESULT,
    DROP_BAD_EXTERNAL_ID,
    DROP_DEVICE_NOT_ACCEPTED,
    DROP_DUPLICATE_EVENT,
    DROP_HANDLER_ERROR,
    DROP_OTHER_STATION,
    DROP_RETAINED,
    DROP_UNKNOWN_COMMAND,
    DROP_UNKNOWN_DEVICE,
    EVENT,
    EXTERNAL_ID,
    HANDSHAKE,
    HANDSHAKE_ACK,
    HEARTBEAT,
    STATE,
    TRANSPORT,
)
from .drops import DropCounter
from .payloads import PayloadDecoder, Rejected
from .topics import device_topic, subscription

if TYPE_CHECKING:
    from hub.devices.registry import DeviceRegistry
    from hub.registrar import Registrar

_LOGGER = logging.getLogger(__name__)

# (topic, payload) → published in the background at QoS 1; a lost ack makes the device retry.
SendSoon = Callable[[str, bytes], None]
# topic → an empty retained message is published there in the background (clears it).
ClearRetained = Callable[[str], None]

# Topics whose retained message the hub is clearing; the empty message it publishes comes
# back to its own subscription and is not a device's doing.
CLEARING_LIMIT = 1024

_Parsed = TypeVar("_Parsed")


def _whole_body(body: dict[str, Any]) -> dict[str, Any]:
    """A state body is free-form: the whole object is the new state."""
    return body


class DeviceProtocol:
    def __init__(
        self,
        station_id: str,
        registry: DeviceRegistry,
        settings: MqttSettings,
        drops: DropCounter,
        send_soon: SendSoon,
        clear_retained: ClearRetained | None = None,
    ) -> None:
        self._station = station_id
        self._registry = registry
        self._decoder = PayloadDecoder(settings.max_payload_bytes, settings.max_nesting)
        self._drops = drops
        self._send_soon = send_soon
        self._clear_retained = clear_retained
        self._clearing: set[str] = set()
        self._accept_new_devices = settings.accept_new_devices
        self.gate = NewDeviceGate(settings.max_devices, settings.new_devices_per_minute)
        self.handled: dict[str, int] = {
            HANDSHAKE: 0,
            STATE: 0,
            EVENT: 0,
            HEARTBEAT: 0,
            COMMAND_RESULT: 0,
        }

    def register(self, registrar: Registrar) -> None:
        registrar.mqtt_topic(subscription(HANDSHAKE), self.on_handshake, qos=1)
        registrar.mqtt_topic(subscription(STATE), self.on_state, qos=1)
        registrar.mqtt_topic(subscription(EVENT), self.on_event, qos=1)
        registrar.mqtt_topic(subscription(HEARTBEAT), self.on_heartbeat, qos=1)
        registrar.mqtt_topic(subscription(COMMAND_RESULT), self.on_command_result, qos=1)

    # ---- device → hub ------------------------------------------------------------------

    def _accept(
        self, message: MqttMessage, parse: Callable[[dict[str, Any]], _Parsed]
    ) -> tuple[Device, _Parsed] | None:
        """The known device and its checked body, or None once the drop is counted.

        Every device-scoped message passes the same gate: a known device, a JSON object,
        no identity field naming another device, then the topic's own body rules.
        """
        if self._stale(message):
            return None
        device = self._known_device(message)
        if device is None:
            return None
        try:
            body = self._decoder.json_object(message.payload)
            bodies.check_identity(body, device.external_id, device)
            return device, parse(body)
        except Rejected as rejected:
            self._drops.drop(rejected.reason, message.topic, rejected.detail)
            return None

    def on_state(self, message: MqttMessage) -> None:
        accepted = self._accept(message, _whole_body)
        if accepted is None:
            return
        device, body = accepted
        self._registry.report_state(device, body)
        self.handled[STATE] += 1

    def on_event(self, message: MqttMessage) -> None:
        accepted = self._accept(message, bodies.event)
        if accepted is None:
            return
        device, report = accepted
        if not self._registry.report_event(device, report.type, report.data, report.seq):
            self._drops.drop(
                DROP_DUPLICATE_EVENT, message.topic, f"seq {report.seq} was already recorded"
            )
            return
        self.handled[EVENT] += 1

    def on_heartbeat(self, message: MqttMessage) -> None:
        accepted = self._accept(message, bodies.heartbeat_rssi)
        if accepted is None:
            return
        device, rssi = accepted
        self._registry.heartbeat(device, rssi=rssi)
        self.handled[HEARTBEAT] += 1

    def on_command_result(self, message: MqttMessage) -> None:
        accepted = self._accept(message, bodies.command_result)
        if accepted is None:
            return
        device, result = accepted
        if not self._registry.command_result(
            device, result.command_id, result.ok, result.result, result.error
        ):
            self._drops.drop(
                DROP_UNKNOWN_COMMAND,
                message.topic,
                f"command {result.command_id[:64]!r} is not one this device has pending",
            )
            return
        self.handled[COMMAND_RESULT] += 1

    def on_handshake(self, message: MqttMessage) -> Awaitable[None] | None:
        """Checks run now; the database write (the only await) is returned to the router."""
        if self._stale(message):
            return None
        external_id = self._topic_device(message)
        if external_id is None:
            return None
        if not EXTERNAL_ID.match(external_id):
            self._drops.drop(
                DROP_BAD_EXTERNAL_ID,
                message.topic,
                "a device id is 1-64 letters, digits, '_' or '-'",
            )
            return None
        existing = self._registry.by_external_id(external_id)
        try:
            body = self._decoder.json_object(message.payload)
            bodies.check_identity(body, external_id, existing)
            handshake = bodies.handshake(body)
        except Rejected as rejected:
            self._drops.drop(rejected.reason, message.topic, rejected.detail)
            self._ack(external_id, {"ok": False, "error": rejected.detail})
            return None
        if existing is None and not self._accept_new_devices:
            reason = "this hub accepts only provisioned devices (accept_new_devices is off)"
            self._drops.drop(DROP_DEVICE_NOT_ACCEPTED, message.topic, reason)
            self._ack(external_id, {"ok": False, "error": reason})
            return None
        if existing is None:
            refusal = self.gate.refusal(len(self._registry.all()))
            if refusal is not None:
                self._drops.drop(refusal[0], message.topic, refusal[1])
                self._ack(external_id, {"ok": False, "error": refusal[1]})
                return None
        return self._record_handshake(external_id, handshake, message.topic)

    async def _record_handshake(
        self, external_id: str, handshake: bodies.Handshake, topic: str
    ) -> None:
        try:
            device = await self._registry.handshake(
                external_id,
                device_type=handshake.device_type,
                firmware=handshake.firmware,
                capabilities=handshake.capabilities,
                commands=handshake.commands,
                transport=TRANSPORT,
            )
        except Exception as error:
            _LOGGER.exception("Could not record the handshake of %s", external_id)
            self._drops.drop(DROP_HANDLER_ERROR, topic, f"handshake not recorded: {error}")
            self._ack(external_id, {"ok": False, "error": "the hub could not record the handshake"})
            return
        self.handled[HANDSHAKE] += 1
        self._ack(
            external_id,
            {"ok": True, "deviceId": device.id, "serverTime": int(time.time() * 1000)},
        )

    # ---- helpers -----------------------------------------------------------------------

    def _stale(self, message: MqttMessage) -> bool:
        """True when the message must not be applied: the broker had it stored (retained).

        A retained message is replayed to every new subscription, long after it was sent and
        whoever sent it: applying it would resurrect an old state, repeat an event, or let a
        forgery outlive its author's access. It is counted and cleared from the broker. With
        MQTT 5 the hub subscribes with "retain as published", so a device's retained
        publish is refused the moment it is sent, not only when it is replayed.
        """
        if not message.payload and message.topic in self._clearing:
            self._clearing.discard(message.topic)  # our own clearing, echoed back
            return True
        if not message.retain:
            return False
        self._drops.drop(
            DROP_RETAINED,
            message.topic,
            "device messages must not be retained; the stored copy is ignored and cleared",
        )
        levels = message.topic.split("/", 2)
        if (
            message.payload
            and self._clear_retained is not None
            and len(levels) > 1
            and levels[1] == self._station
            and len(self._clearing) < CLEARING_LIMIT
        ):
            self._clearing.add(message.topic)
            self._clear_retained(message.topic)
        return True

    def _topic_device(self, message: MqttMessage) -> str | None:
        """The external id in ``station/S/device/D/...`` if S is this station."""
        levels = message.topic.split("/", 4)
        if levels[1] != self._station:
            self._drops.drop(
                DROP_OTHER_STATION, message.topic, f"this hub is station {self._station}"
            )
            return None
        return levels[3]

    def _known_device(self, message: MqttMessage) -> Device | None:
        external_id = self._topic_device(message)
        if external_id is None:
            return None
        device = self._registry.by_external_id(external_id)
        if device is None or not device.handshaken or device.transport != TRANSPORT:
            if not EXTERNAL_ID.match(external_id):
                self._drops.drop(
                    DROP_BAD_EXTERNAL_ID,
                    message.topic,
                    "a device id is 1-64 letters, digits, '_' or '-'",
                )
            else:
                self._drops.drop(
                    DROP_UNKNOWN_DEVICE,
                    message.topic,
                    "no MQTT handshake from this device; it must handshake first",
                )
            return None
        return device

    def _ack(self, external_id: str, body: dict[str, Any]) -> None:
        if EXTERNAL_ID.match(external_id):
            self._send_soon(
                device_topic(self._station, external_id, HANDSHAKE_ACK), orjson.dumps(body)
            )
