"""``BridgeTransport``: the ``BleTransport`` seam, served by the bridge subprocess.

With ``isolation: true`` the hub never touches D-Bus or the controller itself: a crash or
hang in the Bluetooth stack kills a child process, not the hub. Provisioning logic stays
in the hub and talks to the bridge's session extension (``connect``/``write``/...).
A bridge that exits fails whatever was waiting on it, and the next probe starts a new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import orjson

from plugins.ble_provisioning.advertising import normalize_uuid
from plugins.ble_provisioning.bridge.protocol import MAX_LINE_BYTES
from plugins.ble_provisioning.transport import (
    Advertisement,
    AdvertisementCallback,
    AnswerTimeout,
    BleError,
    BleUnavailable,
    CharacteristicMissing,
    ConnectTimeout,
    DeviceDisconnected,
    DeviceNotFound,
    GattError,
    Notification,
    NotificationQueue,
    receive_or_disconnect,
)

_LOGGER = logging.getLogger(__name__)

BRIDGE_MODULE = "plugins.ble_provisioning.bridge"
START_TIMEOUT = 10.0
REQUEST_TIMEOUT = 60.0

_ERRORS: dict[str, type[BleError]] = {
    cls.code: cls
    for cls in (
        BleUnavailable,
        DeviceNotFound,
        ConnectTimeout,
        DeviceDisconnected,
        AnswerTimeout,
        CharacteristicMissing,
    )
}


def error_from(code: Any, message: str, att_error: Any = None) -> BleError:
    if code == GattError.code:
        return GattError(att_error if isinstance(att_error, int) else 0, message)
    return _ERRORS.get(code, BleError)(message) if isinstance(code, str) else BleError(message)


class BridgeTransport:
    def __init__(self, arguments: Sequence[str], python: str = sys.executable) -> None:
        self._command = [python, "-m", BRIDGE_MODULE, *arguments]
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._ready: asyncio.Future[None] | None = None
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._scan_events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._on_advertisement: AdvertisementCallback | None = None
        self._sessions: dict[str, BridgeSession] = {}
        self._start_lock = asyncio.Lock()
        self._closing = False
        # Told when the bridge dies on its own (the runtime marks BLE unavailable).
        self.on_lost: Callable[[str], None] | None = None

    # ---- process ---------------------------------------------------------------------

    async def _ensure_started(self) -> None:
        async with self._start_lock:
            if self._process is not None and self._process.returncode is None:
                return
            self._ready = asyncio.get_running_loop().create_future()
            try:
                self._process = await asyncio.create_subprocess_exec(
                    *self._command,
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    limit=MAX_LINE_BYTES,
                )
            except OSError as error:
                raise BleUnavailable(f"cannot start the BLE bridge: {error}") from error
            self._reader = asyncio.get_running_loop().create_task(self._read_events())
            try:
                async with asyncio.timeout(START_TIMEOUT):
                    await self._ready
            except TimeoutError:
                await self._kill()
                raise BleUnavailable(
                    f"the BLE bridge did not say ready within {START_TIMEOUT:g} s"
                ) from None

    async def _read_events(self) -> None:
        process = self._process
        assert process is not None and process.stdout is not None
        try:
            while True:
                try:
                    line = await process.stdout.readline()
                except ValueError:  # over-long line: skip it, keep reading
                    continue
                if not line:
                    break
                try:
                    event = orjson.loads(line)
                except orjson.JSONDecodeError:
                    _LOGGER.warning("BLE bridge wrote a non-JSON line: %r", line[:200])
                    continue
                if isinstance(event, dict):
                    self._handle(event)
        finally:
            code = await process.wait()
            reason = f"the BLE bridge exited with code {code}"
            self._bridge_gone(reason)
            if not self._closing and self.on_lost is not None:
                self.on_lost(reason)

    def _handle(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "ready" and self._ready is not None and not self._ready.done():
            self._ready.set_result(None)
        elif kind == "result":
            future = self._pending.pop(event.get("id"), None)  # type: ignore[arg-type]
            if future is not None and not future.done():
                future.set_result(event)
        elif kind == "discovered" and self._on_advertisement is not None:
            self._on_advertisement(_advertisement(event))
        elif kind in ("scan_started", "scan_stopped"):
            self._scan_events.put_nowait(event)
        elif kind == "error" and "code" in event and "id" not in event:
            self._scan_events.put_nowait(event)  # a failed start_scan
        elif kind == "notification":
            session = self._sessions.get(str(event.get("address")))
            if session is not None:
                session.deliver(event)
        elif kind == "disconnected":
            session = self._sessions.pop(str(event.get("address")), None)
            if session is not None:
                session.lost()
        elif kind == "error":
            future = self._pending.pop(event.get("id"), None)  # type: ignore[arg-type]
            if future is not None and not future.done():
                future.set_result({"ok": False, "error": event.get("error"), "code": "error"})
            else:
                _LOGGER.warning("BLE bridge reported: %s", event.get("error"))

    def _bridge_gone(self, reason: str) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(BleUnavailable(reason))
        self._pending.clear()
        for session in self._sessions.values():
            session.lost()
        self._sessions.clear()
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(BleUnavailable(reason))
        self._scan_events.put_nowait({"event": "error", "code": "ble_unavailable", "error": reason})

    def _send(self, event: str, **fields: Any) -> None:
        process = self._process
        if process is None or process.stdin is None or process.returncode is not None:
            raise BleUnavailable("the BLE bridge is not running")
        process.stdin.write(orjson.dumps({"event": event, **fields}) + b"\n")

    async def request(self, event: str, *, wait: float = REQUEST_TIMEOUT, **fields: Any) -> dict:
        await self._ensure_started()
        ident = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[ident] = future
        try:
            self._send(event, id=ident, **fields)
            async with asyncio.timeout(wait):
                answer = await future
        except TimeoutError:
            raise BleError(f"the BLE bridge did not answer {event} within {wait:g} s") from None
        finally:
            self._pending.pop(ident, None)
        if not answer.get("ok"):
            raise error_from(answer.get("code"), str(answer.get("error")), answer.get("att_error"))
        return answer

    async def _kill(self) -> None:
        process = self._process
        if process is not None and process.returncode is None:
            process.kill()
            await process.wait()

    # ---- BleTransport ------------------------------------------------------------------

    async def probe(self) -> None:
        await self.request("probe")

    async def start_scan(
        self, service_uuids: Sequence[str], on_advertisement: AdvertisementCallback
    ) -> None:
        await self._ensure_started()
        self._on_advertisement = on_advertisement
        await self._scan_command("start_scan", "scan_started", service_uuids=list(service_uuids))

    async def stop_scan(self) -> None:
        if self._process is None or self._process.returncode is not None:
            return
        await self._scan_command("stop_scan", "scan_stopped")
        self._on_advertisement = None

    async def _scan_command(self, event: str, expected: str, **fields: Any) -> None:
        while not self._scan_events.empty():
            self._scan_events.get_nowait()
        self._send(event, **fields)
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                answer = await self._scan_events.get()
        except TimeoutError:
            raise BleError(f"the BLE bridge did not answer {event}") from None
        if answer.get("event") != expected:
            raise error_from(answer.get("code"), str(answer.get("error")))

    @contextlib.asynccontextmanager
    async def connect(
        self, address: str, *, connect_timeout: float, handle: Any = None
    ) -> AsyncIterator[BridgeSession]:
        answer = await self.request(
            "connect", wait=connect_timeout + 10, address=address, timeout=connect_timeout
        )
        session = BridgeSession(self, address, answer)
        self._sessions[address] = session
        try:
            yield session
        finally:
            self._sessions.pop(address, None)
            if not session.is_lost:
                with contextlib.suppress(BleError):
                    await self.request("disconnect", wait=10, address=address)

    async def close(self) -> None:
        process = self._process
        if process is None:
            return
        self._closing = True
        if process.returncode is None and process.stdin is not None:
            process.stdin.close()
            try:
                async with asyncio.timeout(5):
                    await process.wait()
            except TimeoutError:
                await self._kill()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        self._process = None
        self._closing = False


class BridgeSession:
    """A connection held by the bridge process, spoken to by request/response lines."""

    def __init__(self, bridge: BridgeTransport, address: str, opened: dict[str, Any]) -> None:
        self.address = address
        self._bridge = bridge
        self._mtu = int(opened.get("mtu") or 23)
        self._characteristics = [
            (normalize_uuid(service), normalize_uuid(characteristic))
            for service, characteristic in opened.get("characteristics") or []
        ]
        self._queues: dict[str, NotificationQueue] = {}
        self._disconnected = asyncio.Event()

    @property
    def mtu(self) -> int:
        return self._mtu

    @property
    def connected(self) -> bool:
        return not self._disconnected.is_set()

    @property
    def is_lost(self) -> bool:
        return self._disconnected.is_set()

    def has_characteristic(self, service_uuid: str, characteristic_uuid: str) -> bool:
        return (normalize_uuid(service_uuid), normalize_uuid(characteristic_uuid)) in (
            self._characteristics
        )

    def characteristics(self) -> list[tuple[str, str]]:
        return list(self._characteristics)

    async def wait_disconnected(self) -> None:
        await self._disconnected.wait()

    async def _call(self, event: str, **fields: Any) -> dict[str, Any]:
        if self.is_lost:
            raise DeviceDisconnected(f"{self.address} is not connected")
        return await self._bridge.request(event, address=self.address, **fields)

    async def read(self, service_uuid: str, characteristic_uuid: str) -> bytes:
        answer = await self._call(
            "read", service_uuid=service_uuid, characteristic_uuid=characteristic_uuid
        )
        return bytes.fromhex(str(answer.get("value", "")))

    async def write(
        self, service_uuid: str, characteristic_uuid: str, data: bytes, *, response: bool = True
    ) -> None:
        await self._call(
            "write",
            service_uuid=service_uuid,
            characteristic_uuid=characteristic_uuid,
            payload_hex=data.hex(),
            response=response,
        )

    async def subscribe(
        self, service_uuid: str, characteristic_uuid: str, queue: NotificationQueue | None = None
    ) -> NotificationQueue:
        target: NotificationQueue = queue if queue is not None else asyncio.Queue()
        self._queues[normalize_uuid(characteristic_uuid)] = target
        await self._call(
            "subscribe", service_uuid=service_uuid, characteristic_uuid=characteristic_uuid
        )
        return target

    async def receive(self, queue: NotificationQueue, within: float) -> Notification:
        return await receive_or_disconnect(queue, self._disconnected, within, self.address)

    def deliver(self, event: dict[str, Any]) -> None:
        characteristic = normalize_uuid(str(event.get("characteristic_uuid")))
        queue = self._queues.get(characteristic)
        if queue is not None:
            queue.put_nowait(Notification(characteristic, bytes.fromhex(str(event["value"]))))

    def lost(self) -> None:
        self._disconnected.set()


def _advertisement(event: dict[str, Any]) -> Advertisement:
    data = event.get("service_data") or {}
    return Advertisement(
        address=str(event.get("address")),
        name=event.get("name") if isinstance(event.get("name"), str) else None,
        rssi=int(event.get("rssi") or 0),
        service_uuids=tuple(normalize_uuid(item) for item in event.get("service_uuids") or []),
        service_data={normalize_uuid(key): bytes.fromhex(value) for key, value in data.items()},
    )
