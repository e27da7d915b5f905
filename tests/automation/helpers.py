"""Helpers for the automation tests: waiting for runs, making devices, a fake clock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

from hub.core import Hub
from hub.devices.models import Device
from hub.event_bus import Event
from plugins.automation import runtime_for
from plugins.automation.clock import FakeClock
from plugins.automation.const import EVENT_AUTOMATION_RUN_FINISHED

WAIT = 10.0


class Runs:
    """Every finished run's trace on a hub, awaitable by condition."""

    def __init__(self, hub: Hub) -> None:
        self.traces: list[dict[str, Any]] = []
        self._arrived = asyncio.Event()
        self.unsubscribe = hub.bus.listen(EVENT_AUTOMATION_RUN_FINISHED, self._on_event)

    def _on_event(self, event: Event) -> None:
        self.traces.append(event.data)
        self._arrived.set()

    async def wait_for(
        self,
        predicate: Callable[[dict[str, Any]], bool] = lambda _trace: True,
        *,
        after: int = 0,
        within: float = WAIT,
    ) -> dict[str, Any]:
        async with asyncio.timeout(within):
            seen = after
            while True:
                for trace in self.traces[seen:]:
                    if predicate(trace):
                        return trace
                seen = len(self.traces)
                self._arrived.clear()
                await self._arrived.wait()

    def of(self, automation_id: str) -> list[dict[str, Any]]:
        return [trace for trace in self.traces if trace["automationId"] == automation_id]


async def device(hub: Hub, external_id: str, state: dict[str, Any] | None = None) -> Device:
    """A device known to the registry (by handshake, as a transport would make it)."""
    made = await hub.devices.handshake(external_id, device_type="test", transport="none")
    if state is not None:
        hub.devices.report_state(made, state)
    return made


async def fake_clock(hub: Hub, start: datetime) -> FakeClock:
    """Give the hub's automations a clock the test moves (they are attached again)."""
    clock = FakeClock(start)
    runtime = runtime_for(hub)
    assert runtime is not None, hub.integrations["automation"].error
    await runtime.engine.use_clock(clock)
    return clock


def automation_hub_config(automations: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"automation": automations, **extra}
