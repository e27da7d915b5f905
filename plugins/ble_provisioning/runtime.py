"""The running integration: transport availability, scan lifecycle, provisioning.

Bluetooth may be missing at start (no adapter, no D-Bus, bluetoothd down) or disappear
later. Either way the integration reports ``unavailable`` with the reason, its routes
answer 503 with that reason, and a background re-check brings it back when it can.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from hub.integrations import RUNNING, UNAVAILABLE
from plugins.ble_provisioning.candidates import CandidateSet
from plugins.ble_provisioning.config import BleSettings
from plugins.ble_provisioning.const import DOMAIN, IMPROV_SERVICE_UUID
from plugins.ble_provisioning.provisioner import Provisioner
from plugins.ble_provisioning.scan_manager import ScanManager
from plugins.ble_provisioning.transport import BleTransport, BleUnavailable
from plugins.ble_provisioning.wifi_store import WifiStore

if TYPE_CHECKING:
    from hub.core import Hub

_LOGGER = logging.getLogger(__name__)

# Start-up must stay fast (docs/performance.md: under 1.5 s); a slower stack is re-checked
# in the background.
SETUP_PROBE_TIMEOUT = 1.0
PROBE_TIMEOUT = 10.0


class BleProvisioningRuntime:
    def __init__(self, hub: Hub, settings: BleSettings, transport: BleTransport) -> None:
        self.hub = hub
        self.settings = settings
        self._transport = transport
        if hasattr(transport, "on_lost"):
            transport.on_lost = self.mark_unavailable  # e.g. the bridge process died
        self.available = False
        self.reason: str | None = "not started"
        self.probed = asyncio.Event()  # set once the first probe has an answer
        self._recheck: asyncio.Task[Any] | None = None
        self._first: asyncio.Task[Any] | None = None
        self.wifi = WifiStore(hub.db.require_engine())
        service_uuids = [settings.service_uuid]
        if settings.improv:
            service_uuids.append(IMPROV_SERVICE_UUID)
        self.scans = ScanManager(
            self.transport,
            CandidateSet(settings.service_uuid, settings.improv),
            service_uuids,
            candidate_ttl=settings.candidate_ttl,
            unavailable_reason=lambda: self.reason,
            on_unavailable=self.mark_unavailable,
            spawn=self._spawn,
        )
        self.provisioner = Provisioner(
            hub, settings, self.transport, self.scans.candidates.get, self.scans.broadcast
        )

    def transport(self) -> BleTransport | None:
        return self._transport if self.available else None

    async def start(self) -> None:
        """Probe the stack, waiting at most SETUP_PROBE_TIMEOUT; a slower probe (the
        bridge process starting, a sluggish bluetoothd) finishes in the background."""
        self._first = first = self._spawn(self._first_probe(), "ble-provisioning-probe")
        done, _ = await asyncio.wait({first}, timeout=SETUP_PROBE_TIMEOUT)
        if not done:
            self.reason = "still checking the Bluetooth stack"
            self.hub.set_integration_state(DOMAIN, UNAVAILABLE, self.reason)

    async def _first_probe(self) -> None:
        try:
            await self._probe()
        finally:
            self.probed.set()

    async def _probe(self) -> bool:
        try:
            async with asyncio.timeout(PROBE_TIMEOUT):
                await self._transport.probe()
        except TimeoutError:
            self.mark_unavailable(f"the Bluetooth stack did not answer within {PROBE_TIMEOUT:g} s")
            return False
        except BleUnavailable as error:
            self.mark_unavailable(str(error))
            return False
        self._mark_available()
        await self.scans.ensure_scanning()
        return True

    async def stop(self) -> None:
        for task in (self._first, self._recheck):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.scans.shutdown()
        await self._transport.close()

    def mark_unavailable(self, reason: str) -> None:
        """Report why Bluetooth cannot be used, and keep checking whether it came back."""
        was_available, previous = self.available, self.reason
        self.available = False
        self.reason = reason
        self.hub.set_integration_state(DOMAIN, UNAVAILABLE, reason)
        if was_available:
            _LOGGER.warning("BLE provisioning unavailable: %s", reason)
            self._spawn(self.scans.transport_lost(reason), "ble-provisioning-lost")
        elif reason != previous:  # the periodic re-check must not repeat itself in the log
            _LOGGER.info("BLE provisioning unavailable: %s", reason)
        current = asyncio.current_task()
        if self._recheck is None or (self._recheck.done() and self._recheck is not current):
            self._recheck = self._spawn(self._recheck_loop(), "ble-provisioning-recheck")

    def _mark_available(self) -> None:
        self.available = True
        self.reason = None
        self.hub.set_integration_state(DOMAIN, RUNNING)

    async def _recheck_loop(self) -> None:
        while not self.available:
            await asyncio.sleep(self.settings.recheck_interval)
            if await self._probe():
                _LOGGER.info("BLE provisioning is available again")

    def _spawn(self, coroutine: Awaitable[Any], name: str) -> asyncio.Task[Any]:
        return self.hub.create_task(coroutine, name=name)  # type: ignore[arg-type]

    def health(self) -> dict[str, Any]:
        return {
            "available": self.available,
            "reason": self.reason,
            "scanning": self.scans.scanning,
            "watchers": self.scans.watcher_count,
            "candidates": len(self.scans.candidates),
        }
