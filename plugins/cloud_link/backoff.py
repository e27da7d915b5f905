"""How long to wait before the next connection attempt.

Exponential from ``initial`` to ``maximum`` with ±``jitter`` spread, so a cloud restart is
not met by every station reconnecting in the same second. The attempt counter resets only
after a connection stayed up for ``stable_after`` seconds: a cloud that accepts and then
drops at once must not pull the station into a tight reconnect loop.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from plugins.cloud_link.config import Backoff


class BackoffPolicy:
    def __init__(
        self, settings: Backoff, uniform: Callable[[float, float], float] | None = None
    ) -> None:
        self._settings = settings
        self._uniform = uniform or random.uniform
        self.attempt = 0

    def bounds(self, attempt: int) -> tuple[float, float]:
        """The smallest and largest delay ``next_delay`` may return for ``attempt``."""
        base = self._base(attempt)
        low = base * (1 - self._settings.jitter)
        high = min(base * (1 + self._settings.jitter), self._settings.maximum)
        return low, max(low, high)

    def next_delay(self) -> float:
        low, high = self.bounds(self.attempt)
        self.attempt += 1
        return self._uniform(low, high)

    def connection_ended(self, lasted: float) -> None:
        """Forget earlier failures once a connection has proved stable."""
        if lasted >= self._settings.stable_after:
            self.attempt = 0

    def _base(self, attempt: int) -> float:
        # Cap the exponent so a station offline for weeks never overflows a float.
        return min(self._settings.initial * 2 ** min(attempt, 64), self._settings.maximum)
