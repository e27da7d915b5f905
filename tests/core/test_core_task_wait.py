"""Waiting for a live set of tasks ends on every interpreter (Python 3.12+ included).

On 3.12 and later, ``asyncio.gather`` over futures that are already done returns without
yielding to the loop, so a ``while tasks: await gather(*tasks)`` loop whose set is emptied by
done-callbacks spins forever. These tests hang (and time out) with that loop.
"""

from __future__ import annotations

import asyncio

from hub.event_bus import EventBus
from hub.tasks import wait_all


async def test_wait_all_returns_when_no_callback_empties_the_set():
    async def work(n: int) -> int:
        await asyncio.sleep(0)
        return n

    tasks = {asyncio.ensure_future(work(n)) for n in range(5)}
    await asyncio.wait_for(wait_all(tasks), 2)
    assert tasks == set()


async def test_wait_all_also_waits_for_tasks_added_while_waiting() -> None:
    tasks: set[asyncio.Task[None]] = set()
    finished: list[str] = []
    release = asyncio.Event()

    async def late() -> None:
        await release.wait()
        finished.append("late")

    async def first() -> None:
        tasks.add(asyncio.ensure_future(late()))
        release.set()
        finished.append("first")

    tasks.add(asyncio.ensure_future(first()))
    await asyncio.wait_for(wait_all(tasks), 2)
    assert finished == ["first", "late"]
    assert tasks == set()


async def test_bus_drain_ends_once_failed_and_finished_listeners_are_done(caplog):
    bus = EventBus()

    async def broken(_event: object) -> None:
        raise ValueError("async boom")

    async def fine(_event: object) -> None:
        return None

    bus.listen("thing", broken)
    bus.listen("thing", fine)
    bus.fire("thing", {})
    await asyncio.wait_for(bus.drain(), 2)
    assert "async boom" in caplog.text
