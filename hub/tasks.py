"""Waiting for a live set of tasks to finish.

Several owners keep their background tasks in a set that a done-callback empties. Looping
``while tasks: await gather(*tasks)`` over such a set spins forever on Python 3.12 and later:
gathering futures that are already done returns without yielding to the event loop, so the
done-callbacks that would shrink the set never get to run. ``wait_all`` removes what it has
waited for itself, and so ends on every interpreter whatever the callbacks do.
"""

from __future__ import annotations

import asyncio
from typing import Any


async def wait_all(tasks: set[asyncio.Task[Any]] | set[asyncio.Future[Any]]) -> None:
    """Return once every task in ``tasks``, including ones added meanwhile, has finished.

    Exceptions are left to the tasks' own done-callbacks to report; the set is emptied of
    every task waited for.
    """
    while tasks:
        snapshot = set(tasks)
        await asyncio.wait(snapshot)
        tasks.difference_update(snapshot)
