"""Failed-login throttling per client address, and per username *from that address*.

Each key keeps the times of its recent failures (a sliding window). A key with as many
failures as its limit inside the window is refused until the oldest one ages out. An
attempt counts as a failure from the moment it starts, so a burst of parallel guesses
cannot all slip through while the first ones are still being verified; a success then
takes its provisional failure back.

The username budget is kept per (username, client address), never per username alone:
a username budget shared by every address would let anyone on the LAN keep the owner
locked out for good by failing five times every window. This way a guesser locks only
themselves out, and the per-address budget bounds how fast one address may guess across
all names (as Home Assistant's ``ip_ban`` bounds one address). Guessing from many
addresses at once is bounded by the number of addresses the attacker holds (an IPv6
host counts as its /64), and then by the password's strength and the hash's cost.

Memory is bounded: the least recently failed keys are dropped beyond ``max_keys``.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from .validation import username_key


def address_key(remote: str | None) -> str:
    """The unit an address budget is kept for: the IPv4 address, or the IPv6 /64 (one
    host usually holds a whole /64 and could otherwise rotate through it)."""
    if not remote:
        return "unknown"
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:
        return remote
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


class _Window:
    def __init__(self, limit: int, window: float, max_keys: int) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self.failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, key: str, now: float) -> deque[float] | None:
        times = self.failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self.failures[key]
            return None
        return times

    def wait(self, key: str, now: float) -> float:
        times = self._recent(key, now)
        if times is None or len(times) < self.limit:
            return 0.0
        return times[-self.limit] + self.window - now

    def add(self, key: str, now: float) -> None:
        times = self.failures.pop(key, None) or deque()
        times.append(now)
        while len(times) > self.limit:
            times.popleft()
        self.failures[key] = times
        while len(self.failures) > self.max_keys:
            self.failures.popitem(last=False)

    def take_back(self, key: str) -> None:
        times = self.failures.get(key)
        if times:
            times.pop()

    def forget(self, key: str) -> None:
        self.failures.pop(key, None)


class LoginThrottle:
    def __init__(
        self,
        *,
        max_failures_per_user: int,
        max_failures_per_ip: int,
        window: float,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._users = _Window(max_failures_per_user, window, max_keys)
        self._addresses = _Window(max_failures_per_ip, window, max_keys)
        self.clock = clock

    def begin(self, address: str, username: str) -> int | None:
        """Seconds to wait if this attempt is refused; else None, and the attempt counts
        as a failure until ``succeeded`` takes it back."""
        now = self.clock()
        user_key = _user_key(address, username)
        wait = max(self._addresses.wait(address, now), self._users.wait(user_key, now))
        if wait > 0:
            return max(1, math.ceil(wait))
        self._addresses.add(address, now)
        self._users.add(user_key, now)
        return None

    def succeeded(self, address: str, username: str) -> None:
        self._addresses.take_back(address)
        self._users.forget(_user_key(address, username))


def _user_key(address: str, username: str) -> str:
    # Folded like stored usernames, so "Olivia" and "olivia" share one budget.
    return f"{address} {username_key(username)}"
