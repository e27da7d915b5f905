"""How long to wait before the next connection attempt to the broker.

Doubles from ``initial`` up to ``maximum`` with ±``jitter`` spread, so a broker restart is
not met by every client in the same millisecond. Only a connection that stayed up for
``stable_after`` seconds resets the sequence.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from .config import ReconnectPolicy


class Backoff:
    def __init__(
        self, policy: ReconnectPolicy, uniform: Callable[[float, float], float] = random.uniform
    ) -> None:
        self._policy = policy
        self._uniform = uniform
        self.attempt = 0

    def next_delay(self) -> float:
        policy = self._policy
        base = min(policy.initial * 2 ** min(self.attempt, 32), policy.maximum)
        self.attempt += 1
        spread = base * policy.jitter
        return max(0.0, min(self._uniform(base - spread, base + spread), policy.maximum))

    def connection_ended(self, lasted: float) -> None:
        if lasted >= self._policy.stable_after:
            self.attempt = 0
