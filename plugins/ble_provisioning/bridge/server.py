"""The bridge process's loop: commands from stdin, events to stdout, over a BleTransport.

No provisioning logic lives here (the seed's rule: the bridge is pure transport). Every
command runs in its own task so a slow ``connect_and_write`` never holds up
``stop_scan``; a bad line gets an ``error`` event and the loop reads on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from hub.tasks import wait_all
from plugins.ble_provisioning.bridge import protocol
from plugins.ble_provisioning.bridge.protocol import BadCommand
from plugins.ble_provisioning.candidates import newsworthy
from plugins.ble_provisioning.const import DEFAULT_CONNECT_TIMEOUT
from plugins.ble_provisioning.transport import (
    Advertisement,
    BleError,
    BleTransport,
    GattError,
    GattSession,
    Notification,
    NotificationQueue,
)

_LOGGER = logging.getLogger(__name__)

# Repeat an unchanged device at most this often, so listeners can age candidates out.
REDISCOVER_INTERVAL = 1.0


class BridgeServer:
    def __init__(self, transport: BleTransport, emit: Callable[[bytes], None]) -> None:
        self._transport = transport
        self._emit = emit
        self._scan_lock = asyncio.Lock()
        self._scanning = False
        self._seen: dict[str, tuple[Advertisement, float]] = {}
        self._sessions: dict[str, _OpenSession] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def send(self, event: str, **fields: Any) -> None:
        self._emit(protocol.encode(event, **fields))

    async def run(self, lines: asyncio.StreamReader) -> None:
        self.send("ready")
        try:
            while True:
                try:
                    line = await lines.readuntil(b"\n")
                except asyncio.IncompleteReadError as end:
                    if end.partial.strip():
                        self.handle_line(end.partial)
                    break
                except asyncio.LimitOverrunError:
                    # Skip the rest of an over-long line, answer once, carry on.
                    await _discard_line(lines)
                    self.send("error", error=f"line longer than {protocol.MAX_LINE_BYTES} bytes")
                    continue
                if line.strip():
                    self.handle_line(line)
            # stdin closed: let commands in flight finish (each is bounded by its timeout).
            await wait_all(self._tasks)
        finally:
            await self.close()

    def handle_line(self, line: bytes) -> None:
        try:
            command = protocol.decode(line.strip())
        except BadCommand as error:
            self.send("error", error=str(error))
            return
        task = asyncio.get_running_loop().create_task(self._dispatch(command))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _dispatch(self, command: dict[str, Any]) -> None:
        event = command["event"]
        try:
            handler = getattr(self, f"_on_{event}")
            await handler(command)
        except BadCommand as error:
            fields: dict[str, Any] = {"error": str(error)}
            if "id" in command:
                fields["id"] = command["id"]
            self.send("error", **fields)
        except Exception as error:  # the bridge must outlive any single command
            _LOGGER.exception("Bridge command %s failed", event)
            self.send("error", error=f"{event} failed: {type(error).__name__}: {error}")

    # ---- seed commands -----------------------------------------------------------

    async def _on_start_scan(self, command: dict[str, Any]) -> None:
        uuids = _service_uuids(command)
        async with self._scan_lock:
            if self._scanning:
                await self._transport.stop_scan()
                self._scanning = False
            self._seen.clear()
            try:
                await self._transport.start_scan(uuids, self._discovered)
            except BleError as error:
                self.send("error", error=str(error), code=error.code)
                return
            self._scanning = True
        self.send("scan_started")

    async def _on_stop_scan(self, command: dict[str, Any]) -> None:
        async with self._scan_lock:
            if self._scanning:
                await self._transport.stop_scan()
                self._scanning = False
        self.send("scan_stopped")

    async def _on_connect_and_write(self, command: dict[str, Any]) -> None:
        address = protocol.text(command, "address", max_length=64)
        service = protocol.uuid_field(command, "service_uuid")
        characteristic = protocol.uuid_field(command, "characteristic_uuid")
        payload = protocol.payload_bytes(command)
        connect_timeout = protocol.seconds(command, "timeout", DEFAULT_CONNECT_TIMEOUT)
        response = command.get("response", True) is not False
        try:
            async with self._connect(address, connect_timeout) as session:
                await session.write(service, characteristic, payload, response=response)
        except BleError as error:
            self.send("write_result", address=address, ok=False, **_error_fields(error))
            return
        except Exception as error:  # the seed promises a write_result for every attempt
            _LOGGER.exception("connect_and_write to %s failed", address)
            self.send("write_result", address=address, ok=False, error=repr(error), code="error")
            return
        self.send("write_result", address=address, ok=True)

    # ---- session extension -------------------------------------------------------

    async def _on_probe(self, command: dict[str, Any]) -> None:
        ident = protocol.request_id(command)
        try:
            await self._transport.probe()
        except BleError as error:
            self._result(ident, error=error)
            return
        self._result(ident)

    async def _on_connect(self, command: dict[str, Any]) -> None:
        ident = protocol.request_id(command)
        address = protocol.text(command, "address", max_length=64)
        connect_timeout = protocol.seconds(command, "timeout", DEFAULT_CONNECT_TIMEOUT)
        if address in self._sessions:
            self._result(ident, error=BleError(f"{address} is already connected"))
            return
        opened = _OpenSession(self._connect(address, connect_timeout))
        try:
            session = await opened.open()
        except BleError as error:
            self._result(ident, error=error)
            return
        self._sessions[address] = opened
        opened.watch(lambda: self._session_closed(address))
        self._result(
            ident,
            mtu=session.mtu,
            characteristics=[list(pair) for pair in session.characteristics()],
        )

    async def _on_read(self, command: dict[str, Any]) -> None:
        ident, session, service, characteristic = self._session_command(command)
        try:
            value = await session.read(service, characteristic)
        except BleError as error:
            self._result(ident, error=error)
            return
        self._result(ident, value=value.hex())

    async def _on_write(self, command: dict[str, Any]) -> None:
        ident, session, service, characteristic = self._session_command(command)
        payload = protocol.payload_bytes(command)
        response = command.get("response", True) is not False
        try:
            await session.write(service, characteristic, payload, response=response)
        except BleError as error:
            self._result(ident, error=error)
            return
        self._result(ident)

    async def _on_subscribe(self, command: dict[str, Any]) -> None:
        ident, session, service, characteristic = self._session_command(command)
        address = command["address"]
        opened = self._sessions[address]
        try:
            await session.subscribe(service, characteristic, opened.notifications)
        except BleError as error:
            self._result(ident, error=error)
            return
        opened.forward(
            lambda item: self.send(
                "notification",
                address=address,
                characteristic_uuid=item.characteristic,
                value=item.value.hex(),
            )
        )
        self._result(ident)

    async def _on_disconnect(self, command: dict[str, Any]) -> None:
        ident = protocol.request_id(command)
        address = protocol.text(command, "address", max_length=64)
        opened = self._sessions.pop(address, None)
        if opened is not None:
            await opened.close()
        self._result(ident)

    # ---- helpers -----------------------------------------------------------------

    def _connect(
        self, address: str, connect_timeout: float
    ) -> AbstractAsyncContextManager[GattSession]:
        seen = self._seen.get(address)
        handle = seen[0].handle if seen else None
        return self._transport.connect(address, connect_timeout=connect_timeout, handle=handle)

    def _session_command(self, command: dict[str, Any]) -> tuple[int | str, GattSession, str, str]:
        ident = protocol.request_id(command)
        address = protocol.text(command, "address", max_length=64)
        opened = self._sessions.get(address)
        if opened is None or opened.session is None:
            raise BadCommand(f"{command['event']}: {address} is not connected (send connect)")
        service = protocol.uuid_field(command, "service_uuid")
        characteristic = protocol.uuid_field(command, "characteristic_uuid")
        return ident, opened.session, service, characteristic

    def _session_closed(self, address: str) -> None:
        self._sessions.pop(address, None)
        self.send("disconnected", address=address)

    def _result(self, ident: int | str, *, error: BleError | None = None, **fields: Any) -> None:
        if error is not None:
            self.send("result", id=ident, ok=False, **_error_fields(error))
        else:
            self.send("result", id=ident, ok=True, **fields)

    def _discovered(self, advertisement: Advertisement) -> None:
        now = time.monotonic()
        address = advertisement.address
        previous = self._seen.get(address)
        if (
            previous is not None
            and not newsworthy(previous[0], advertisement)
            and now - previous[1] < REDISCOVER_INTERVAL
        ):
            self._seen[address] = (advertisement, previous[1])  # keep the freshest handle
            return
        self._seen[address] = (advertisement, now)
        self.send(
            "discovered",
            address=advertisement.address,
            name=advertisement.name,
            rssi=advertisement.rssi,
            service_uuids=list(advertisement.service_uuids),
            service_data={key: value.hex() for key, value in advertisement.service_data.items()},
        )

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for opened in list(self._sessions.values()):
            await opened.close()
        self._sessions.clear()
        if self._scanning:
            await self._transport.stop_scan()
            self._scanning = False
        await self._transport.close()


class _OpenSession:
    """A connection kept open across commands (the session extension)."""

    def __init__(self, manager: AbstractAsyncContextManager[GattSession]) -> None:
        self._manager = manager
        self.session: GattSession | None = None
        self.notifications: NotificationQueue = asyncio.Queue()
        self._send: Callable[[Notification], None] | None = None
        self._tasks: list[asyncio.Task[Any]] = []

    async def open(self) -> GattSession:
        self.session = await self._manager.__aenter__()
        return self.session

    def watch(self, on_closed: Callable[[], None]) -> None:
        """Report the link dropping on its own (device reset, out of range)."""
        session = self.session
        assert session is not None

        async def wait() -> None:
            await session.wait_disconnected()
            # What the device said before it went counts: send it before "disconnected".
            while self._send is not None and not self.notifications.empty():
                self._send(self.notifications.get_nowait())
            on_closed()

        self._tasks.append(asyncio.get_running_loop().create_task(wait()))

    def forward(self, send: Callable[[Notification], None]) -> None:
        if self._send is not None:
            return
        self._send = send

        async def pump() -> None:
            while True:
                send(await self.notifications.get())

        self._tasks.append(asyncio.get_running_loop().create_task(pump()))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self.session is not None:
            self.session = None
            with contextlib.suppress(Exception):
                await self._manager.__aexit__(None, None, None)


def _service_uuids(command: dict[str, Any]) -> list[str]:
    if "service_uuids" in command:
        values = command["service_uuids"]
        if not isinstance(values, list) or not values or len(values) > 16:
            raise BadCommand("start_scan: 'service_uuids' must be a list of 1-16 UUIDs")
        return [protocol.uuid_field({"event": "start_scan", "u": value}, "u") for value in values]
    return [protocol.uuid_field(command, "service_uuid")]


def _error_fields(error: BleError) -> dict[str, Any]:
    fields: dict[str, Any] = {"error": str(error), "code": error.code}
    if isinstance(error, GattError):
        fields["att_error"] = error.att_code
    return fields


async def _discard_line(reader: asyncio.StreamReader) -> None:
    while True:
        try:
            await reader.readuntil(b"\n")
            return
        except asyncio.LimitOverrunError as overrun:
            await reader.readexactly(overrun.consumed)
        except asyncio.IncompleteReadError:
            return
