"""Pick the ``BleTransport`` the YAML asks for: BlueZ, a raw HCI controller, or the bridge."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from plugins.ble_provisioning.bleak_transport import BleakTransport
from plugins.ble_provisioning.config import BleSettings
from plugins.ble_provisioning.transport import (
    AdvertisementCallback,
    BleTransport,
    BleUnavailable,
    GattSession,
)

_LOGGER = logging.getLogger(__name__)


class HciTransport:
    """``BleakTransport`` over a bumble-driven HCI controller, opened on first use.

    Opening is deferred so a controller that is unplugged at start-up only makes the
    integration ``unavailable`` (and the periodic re-check can bring it back).
    """

    def __init__(self, spec: str, mtu: int | None) -> None:
        self._spec = spec
        self._mtu = mtu
        self._central: Any = None
        self._inner: BleakTransport | None = None
        self._opening = asyncio.Lock()  # a probe and a scan must not open it twice
        # Told when the controller goes away on its own (the runtime marks BLE unavailable).
        self.on_lost: Callable[[str], None] | None = None

    async def _transport(self) -> BleakTransport:
        async with self._opening:
            if self._inner is None:
                await self._open()
            assert self._inner is not None
            return self._inner

    async def _open(self) -> None:
        try:
            from plugins.ble_provisioning.bumble_backend import BumbleCentral
        except ImportError as error:
            raise BleUnavailable(
                f"'hci: {self._spec}' needs the bumble package (pip install bumble): {error}"
            ) from error
        try:
            self._central = await BumbleCentral.over_hci(self._spec, mtu=self._mtu)
        except Exception as error:
            raise BleUnavailable(
                f"cannot open HCI controller {self._spec!r} ({type(error).__name__}: {error})"
            ) from error
        self._inner = BleakTransport(
            scanner_backend=self._central.scanner_backend,
            client_backend=self._central.client_backend,
        )
        terminated = self._central.terminated
        if terminated is not None:
            central = self._central
            terminated.add_done_callback(lambda _future: self._controller_gone(central))

    def _controller_gone(self, central: Any) -> None:
        if central is not self._central:
            return  # an old controller we closed ourselves
        self._inner = self._central = None
        asyncio.get_running_loop().create_task(central.close())
        if self.on_lost is not None:
            self.on_lost(f"the HCI controller {self._spec!r} went away")

    async def probe(self) -> None:
        try:
            await (await self._transport()).probe()
        except BleUnavailable:
            # A controller that failed may have been unplugged: reopen on the next probe.
            await self.close()
            raise

    async def start_scan(
        self, service_uuids: Sequence[str], on_advertisement: AdvertisementCallback
    ) -> None:
        await (await self._transport()).start_scan(service_uuids, on_advertisement)

    async def stop_scan(self) -> None:
        if self._inner is not None:
            await self._inner.stop_scan()

    @contextlib.asynccontextmanager
    async def connect(
        self, address: str, *, connect_timeout: float, handle: Any = None
    ) -> AsyncIterator[GattSession]:
        transport = await self._transport()
        async with transport.connect(
            address, connect_timeout=connect_timeout, handle=handle
        ) as session:
            yield session

    async def close(self) -> None:
        inner, central = self._inner, self._central
        self._inner = self._central = None
        if inner is not None:
            await inner.close()
        if central is not None:
            await central.close()


def create_transport(settings: BleSettings) -> BleTransport:
    if settings.isolation:
        from plugins.ble_provisioning.bridge.client import BridgeTransport

        return BridgeTransport(bridge_arguments(settings))
    if settings.hci:
        return HciTransport(settings.hci, settings.mtu)
    return BleakTransport(adapter=settings.adapter)


def bridge_arguments(settings: BleSettings) -> list[str]:
    """Command-line options that give the bridge the same stack as the hub would use."""
    arguments: list[str] = []
    if settings.hci:
        arguments += ["--hci", settings.hci]
    if settings.adapter:
        arguments += ["--adapter", settings.adapter]
    if settings.mtu:
        arguments += ["--mtu", str(settings.mtu)]
    return arguments
