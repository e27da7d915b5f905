"""How long a reconnecting client waits before its next attempt.

Exponential from ``initial`` to ``maximum`` with ±``jitter`` spread, so a broker or cloud
restart is not met by every client in the same second. The attempt counter resets only
after a connection stayed up for ``stable_after`` seconds: a server that accepts and then
drops at once must not pull its clients into a tight reconnect loop. Shared by every
integration that keeps a connection open (the MQTT client, the cloud link, yours): each
reads the four numbers from its own YAML keys, with its own defaults, into one
``BackoffPolicy``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

# Caps the exponent so a station offline for weeks never overflows a float.
_MAX_DOUBLINGS = 64


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    """The four numbers a backoff needs (seconds, except ``jitter``, a fraction)."""

    #: The first delay, doubled at each failed attempt...
    initial: float
    #: ...up to this; a maximum below ``initial`` is taken as ``initial`` (no growth).
    maximum: float
    #: Each delay is spread by ± this fraction, so clients do not retry in step.
    jitter: float
    #: A connection must last this long before the delays start again from ``initial``,
    #: so a server that accepts and drops at once is not hammered.
    stable_after: float

    def __post_init__(self) -> None:
        if self.maximum < self.initial:
            object.__setattr__(self, "maximum", self.initial)


class Backoff:
    def __init__(
        self, policy: BackoffPolicy, uniform: Callable[[float, float], float] | None = None
    ) -> None:
        """``uniform`` picks a delay within the bounds; tests pass the low or high end."""
        self._policy = policy
        self._uniform = uniform or random.uniform
        self.attempt = 0

    def bounds(self, attempt: int) -> tuple[float, float]:
        """The smallest and largest delay ``next_delay`` may return for ``attempt``."""
        policy = self._policy
        base = min(policy.initial * 2 ** min(attempt, _MAX_DOUBLINGS), policy.maximum)
        low = max(0.0, base * (1 - policy.jitter))
        high = min(base * (1 + policy.jitter), policy.maximum)
        return low, max(low, high)

    def next_delay(self) -> float:
        low, high = self.bounds(self.attempt)
        self.attempt += 1
        return self._uniform(low, high)

    def connection_ended(self, lasted: float) -> None:
        """Forget earlier failures once a connection has proved stable."""
        if lasted >= self._policy.stable_after:
            self.attempt = 0
