"""How many unknown devices a handshake may add, and how fast.

Auto-registration is convenient on a bench and a liability on a LAN: every new external id
costs a registry entry, a database row and, on the portal, a line. ``max_devices`` caps the
registry for handshakes of unknown devices; a token bucket (``new_devices_per_minute``,
with a burst of the same size) caps how fast new ids arrive, so one misbehaving client
cannot fill the cap in a second. Known and provisioned devices are never limited.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from .const import DROP_DEVICE_LIMIT, DROP_NEW_DEVICE_RATE


class NewDeviceGate:
    def __init__(
        self,
        max_devices: int,
        per_minute: int,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_devices = max_devices
        self.per_minute = per_minute
        self._clock = clock
        self._tokens = float(per_minute)
        self._updated = clock()

    def refusal(self, current_devices: int) -> tuple[str, str] | None:
        """(drop reason, explanation) when one more new device is not allowed now, else None.

        Takes a token when it says yes, so call it once per new device.
        """
        if current_devices >= self.max_devices:
            return (
                DROP_DEVICE_LIMIT,
                f"the hub has {current_devices} devices, its limit (max_devices: "
                f"{self.max_devices}); forget unused devices or raise the limit",
            )
        now = self._clock()
        rate = self.per_minute / 60.0
        self._tokens = min(float(self.per_minute), self._tokens + (now - self._updated) * rate)
        self._updated = now
        if self._tokens < 1.0:
            return (
                DROP_NEW_DEVICE_RATE,
                f"more than {self.per_minute} new devices per minute "
                "(new_devices_per_minute); retry later",
            )
        self._tokens -= 1.0
        return None
