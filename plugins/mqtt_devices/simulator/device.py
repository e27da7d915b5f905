"""One simulated ESP32 speaking the device protocol: handshake, state, events, heartbeat, commands.

The device does not know how it is connected; it is given a ``publish`` coroutine and is
told of messages on its own topics through ``on_message``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..const import COMMAND, COMMAND_RESULT, EVENT, HANDSHAKE, HANDSHAKE_ACK, HEARTBEAT, STATE
from ..topics import device_topic

_LOGGER = logging.getLogger(__name__)

Publish = Callable[[str, bytes, int], Awaitable[None]]

ACK_TIMEOUT = 5.0
# What _answer implements; announced in the handshake so the hub lists them for the type.
ACCEPTED_COMMANDS = ("set", "ping", "reboot", "factory_reset")
EVENT_TYPES = ("button_pressed", "motion_detected", "door_opened", "threshold_crossed")


@dataclass(slots=True)
class DeviceStats:
    handshakes: int = 0
    states: int = 0
    events: int = 0
    heartbeats: int = 0
    commands: int = 0
    publish_errors: int = 0


@dataclass(slots=True)
class SimulatedDevice:
    station_id: str
    external_id: str
    device_type: str = "esp32-sim"
    firmware: str = "sim-1.0.0"
    rate: float = 1.0
    heartbeat_interval: float = 10.0
    event_probability: float = 0.05
    state_qos: int = 1
    rng: random.Random = field(default_factory=random.Random)
    state: dict[str, Any] = field(default_factory=dict)
    device_id: str | None = None
    seq: int = 0
    stats: DeviceStats = field(default_factory=DeviceStats)
    _acked: asyncio.Event = field(default_factory=asyncio.Event)
    _rehandshake: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        if not self.state:
            self.state = self.initial_state()

    def initial_state(self) -> dict[str, Any]:
        return {
            "temperature": round(self.rng.uniform(18, 24), 2),
            "humidity": round(self.rng.uniform(30, 60), 1),
            "relay": False,
        }

    def topic(self, leaf: str) -> str:
        return device_topic(self.station_id, self.external_id, leaf)

    @property
    def subscriptions(self) -> list[str]:
        return [self.topic(COMMAND), self.topic(HANDSHAKE_ACK)]

    # ---- what the device does on its own ----------------------------------------------

    async def run(self, publish: Publish) -> None:
        """Handshake, then report until cancelled; re-handshakes when a command asks."""
        while True:
            await self._handshake(publish)
            self._rehandshake.clear()
            reporter = asyncio.ensure_future(self._report(publish))
            beater = asyncio.ensure_future(self._heartbeat(publish))
            try:
                await self._rehandshake.wait()
            finally:
                for task in (reporter, beater):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    async def _handshake(self, publish: Publish) -> None:
        body = {
            "deviceType": self.device_type,
            "firmware": self.firmware,
            "capabilities": ["temperature", "humidity", "relay"],
            "commands": list(ACCEPTED_COMMANDS),
        }
        delay = 1.0
        while True:
            self._acked.clear()
            await self._send(publish, self.topic(HANDSHAKE), body, 1)
            try:
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for drops a
                # cancellation that arrives with the ack, and the device would run on.
                async with asyncio.timeout(ACK_TIMEOUT):
                    await self._acked.wait()
                self.stats.handshakes += 1
                return
            except TimeoutError:
                await asyncio.sleep(delay * self.rng.uniform(0.8, 1.2))
                delay = min(delay * 2, 30.0)

    async def _report(self, publish: Publish) -> None:
        period = 1.0 / self.rate if self.rate > 0 else None
        while period is not None:
            await asyncio.sleep(period * self.rng.uniform(0.9, 1.1))
            self._drift()
            if await self._send(publish, self.topic(STATE), self.state, self.state_qos):
                self.stats.states += 1
            if self.rng.random() < self.event_probability:
                await self.send_event(publish, self.rng.choice(EVENT_TYPES), {"at": self.state})

    async def _heartbeat(self, publish: Publish) -> None:
        uptime = 0.0
        while True:
            body = {"uptime": round(uptime, 1), "rssi": self.rng.randint(-80, -40)}
            if await self._send(publish, self.topic(HEARTBEAT), body, 0):
                self.stats.heartbeats += 1
            await asyncio.sleep(self.heartbeat_interval)
            uptime += self.heartbeat_interval

    async def send_event(self, publish: Publish, event_type: str, data: Any = None) -> None:
        self.seq += 1
        if await self._send(
            publish, self.topic(EVENT), {"type": event_type, "data": data, "seq": self.seq}, 1
        ):
            self.stats.events += 1

    def _drift(self) -> None:
        self.state = {
            **self.state,
            "temperature": round(self.state["temperature"] + self.rng.uniform(-0.2, 0.2), 2),
            "humidity": round(
                min(100.0, max(0.0, self.state["humidity"] + self.rng.uniform(-0.5, 0.5))), 1
            ),
        }

    async def _send(self, publish: Publish, topic: str, body: Any, qos: int) -> bool:
        try:
            await publish(topic, orjson.dumps(body), qos)
        except Exception as error:
            self.stats.publish_errors += 1
            _LOGGER.debug("%s could not publish to %s: %s", self.external_id, topic, error)
            return False
        return True

    # ---- what the hub sends -----------------------------------------------------------

    async def on_message(self, leaf: str, payload: bytes, publish: Publish) -> None:
        try:
            body = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return
        if not isinstance(body, dict):
            return
        if leaf == HANDSHAKE_ACK:
            if body.get("ok") is True:
                self.device_id = body.get("deviceId")
                self._acked.set()
            else:
                _LOGGER.warning("%s: handshake refused: %s", self.external_id, body.get("error"))
        elif leaf == COMMAND:
            await self._answer(body, publish)

    async def _answer(self, body: dict[str, Any], publish: Publish) -> None:
        command_id, command = body.get("id"), body.get("command")
        raw_params = body.get("params")
        params: dict[str, Any] = raw_params if isinstance(raw_params, dict) else {}
        self.stats.commands += 1
        answer: dict[str, Any] = {"id": command_id, "ok": True}
        if command == "set":
            self.state = {**self.state, **params}
            answer["result"] = {"state": self.state}
            await self._send(publish, self.topic(STATE), self.state, self.state_qos)
        elif command == "ping":
            answer["result"] = {"pong": True}
        elif command in ("reboot", "factory_reset"):
            if command == "factory_reset":
                self.state = self.initial_state()
                self.seq = 0
            self._rehandshake.set()
        else:
            answer = {"id": command_id, "ok": False, "error": f"unsupported command {command!r}"}
        await self._send(publish, self.topic(COMMAND_RESULT), answer, 1)
