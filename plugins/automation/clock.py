"""Time for automations: an aware wall clock for "at 07:00", a monotonic one for durations.

Everything in the integration that waits goes through a ``Clock`` so tests can drive time
with ``FakeClock`` instead of sleeping. Time-of-day triggers sleep in chunks of at most
``MAX_CHUNK`` seconds of monotonic time and read the wall clock again after each, so a
clock that jumps (NTP after boot, a manual change) is noticed within a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import os
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Protocol, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_LOGGER = logging.getLogger(__name__)

MAX_CHUNK = 60.0

T = TypeVar("T")


class Clock(Protocol):
    """What automations need of time."""

    zone: tzinfo

    def now(self) -> datetime:
        """The current wall time, aware, in ``zone``."""

    def monotonic(self) -> float:
        """Seconds on a clock that never jumps."""

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of monotonic time."""


class RealClock:
    def __init__(self, zone: tzinfo | None = None) -> None:
        self.zone = zone or local_zone()

    def now(self) -> datetime:
        return datetime.now(self.zone)

    def monotonic(self) -> float:
        return asyncio.get_running_loop().time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class FakeClock:
    """A clock tests move by hand: ``advance`` moves both clocks, ``jump`` only the wall.

    Sleepers wake in deadline order, each given the loop until it has nothing left to do,
    so what a woken task starts (another sleep, a run) happens before the next one wakes.
    """

    def __init__(self, start: datetime, zone: tzinfo | None = None) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware start time")
        self.zone = zone or start.tzinfo
        self._now = start.astimezone(UTC)
        self._mono = 0.0
        self._order = itertools.count()
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []

    def now(self) -> datetime:
        return self._now.astimezone(self.zone)

    def monotonic(self) -> float:
        return self._mono

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._mono + max(0.0, seconds), next(self._order), future))
        await future

    @property
    def sleeping(self) -> int:
        """How many sleeps are waiting (tests wait for a task to start sleeping)."""
        return sum(1 for *_rest, future in self._sleepers if not future.done())

    async def advance(self, seconds: float) -> None:
        """Move both clocks forward, waking every sleeper due on the way, in order."""
        end = self._mono + seconds
        await settle()
        while self._sleepers and self._sleepers[0][0] <= end:
            deadline, _order, future = heapq.heappop(self._sleepers)
            if future.done():
                continue
            self._now += timedelta(seconds=deadline - self._mono)
            self._mono = deadline
            future.set_result(None)
            await settle()
        self._now += timedelta(seconds=end - self._mono)
        self._mono = end
        await settle()

    def jump(self, seconds: float) -> None:
        """Move the wall clock only (an NTP step, a manual change); sleepers stay asleep."""
        self._now += timedelta(seconds=seconds)


async def settle(rounds: int = 50) -> None:
    """Give every ready task the loop until none is left (a bounded number of turns)."""
    for _ in range(rounds):
        await asyncio.sleep(0)


def local_zone() -> tzinfo:
    """The box's time zone as a DST-aware ``ZoneInfo`` (``TZ``, then /etc/localtime).

    ``datetime.now().astimezone()`` would give a fixed offset, which is wrong for half of
    the year; UTC is the fallback when the zone cannot be named.
    """
    candidates: list[str] = []
    if os.environ.get("TZ"):
        candidates.append(os.environ["TZ"].lstrip(":"))
    timezone_file = Path("/etc/timezone")
    if timezone_file.is_file():
        candidates.append(timezone_file.read_text().strip())
    localtime = Path("/etc/localtime")
    if localtime.is_symlink():
        target = str(localtime.resolve())
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    for name in candidates:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return UTC


async def run_with_timeout(clock: Clock, awaitable: Awaitable[T], seconds: float) -> T:
    """``await awaitable``, cancelled after ``seconds`` on ``clock`` (TimeoutError)."""
    task = asyncio.ensure_future(awaitable)
    sleeper = asyncio.ensure_future(clock.sleep(seconds))
    try:
        await asyncio.wait({task, sleeper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        sleeper.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    if task.cancelled():
        raise TimeoutError
    return task.result()
