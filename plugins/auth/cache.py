"""Short-lived in-memory caches for the request hot path.

Every authenticated request needs the user (is it still active?) and sometimes a station
role; reading them from the database each time would halve the API's throughput. Writes
through the store clear every cache at once, so a deleted or deactivated user is refused
on the very next request. The TTL only bounds how long a write made by another process
(the CLI, a second hub on the same database) can go unseen.

A reader that started before a write must not put what it read back after the write
cleared the cache; the generation counter catches that race.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class CacheGroup:
    """Caches that are cleared together, sharing one generation counter."""

    def __init__(self) -> None:
        self.generation = 0
        self._caches: list[TtlCache[Hashable, object]] = []

    def add(self, cache: TtlCache[K, V]) -> TtlCache[K, V]:
        self._caches.append(cache)  # type: ignore[arg-type]
        return cache

    def clear(self) -> None:
        self.generation += 1
        for cache in self._caches:
            cache.entries.clear()


class TtlCache(Generic[K, V]):
    def __init__(
        self,
        group: CacheGroup,
        *,
        ttl: float,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.group = group
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self.entries: dict[K, tuple[float, V]] = {}
        group.add(self)

    def lookup(self, key: K) -> tuple[bool, V | None]:
        entry = self.entries.get(key)
        if entry is None:
            return False, None
        stored_at, value = entry
        if self.clock() - stored_at >= self.ttl:
            self.entries.pop(key, None)
            return False, None
        return True, value

    def put(self, key: K, value: V, generation: int) -> None:
        """Store ``value`` read while the group was at ``generation``, if still current."""
        if generation != self.group.generation or self.ttl <= 0:
            return
        if len(self.entries) >= self.max_entries:
            # Oldest first: dicts keep insertion order.
            self.entries.pop(next(iter(self.entries)))
        self.entries[key] = (self.clock(), value)
