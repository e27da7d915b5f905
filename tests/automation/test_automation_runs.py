"""Runs on a real hub (no broker): triggers, modes, failures, bounds. Time is a FakeClock."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from plugins.automation import runtime_for
from tests.automation.helpers import Runs, device, fake_clock

START = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def on_event(name: str) -> list[dict]:
    return [{"trigger": "event", "event_type": name}]


async def test_a_threshold_held_for_its_duration_fires_once_and_a_dip_cancels_it(
    automation_hub,
):
    hub = await automation_hub(
        [
            {
                "id": "hot",
                "triggers": [
                    {
                        "trigger": "device_state",
                        "device": "kitchen",
                        "attribute": "temp",
                        "above": 30,
                        "for": 2,
                    }
                ],
                "actions": [{"event": "cooling", "event_data": {"t": "{{ trigger.value }}"}}],
            }
        ]
    )
    clock = await fake_clock(hub, START)
    runs = Runs(hub)
    kitchen = await device(hub, "kitchen", {"temp": 20})
    hub.devices.report_state(kitchen, {"temp": 31})
    await clock.advance(1.5)
    hub.devices.report_state(kitchen, {"temp": 29})  # dips below before 2 s: no run
    await clock.advance(5)
    assert runs.traces == []
    hub.devices.report_state(kitchen, {"temp": 32})
    await clock.advance(1.9)
    assert runs.traces == []
    hub.devices.report_state(kitchen, {"temp": 33})  # still above: the timer goes on
    await clock.advance(0.2)
    trace = await runs.wait_for()
    assert trace["state"] == "finished"
    assert trace["trigger"]["value"] == 32 and trace["trigger"]["for"] == 2
    assert trace["actions"][0]["outcome"] == "ok"
    await clock.advance(10)
    assert len(runs.traces) == 1


async def test_restart_mode_cancels_the_running_delay(automation_hub):
    hub = await automation_hub(
        [
            {
                "id": "lights",
                "mode": "restart",
                "triggers": on_event("motion"),
                "actions": [{"delay": 10}, {"event": "lights_off"}],
            }
        ]
    )
    clock = await fake_clock(hub, START)
    runs = Runs(hub)
    hub.bus.fire("motion", {})
    await clock.advance(6)
    hub.bus.fire("motion", {})
    first = await runs.wait_for()
    assert first["state"] == "cancelled"
    assert first["actions"][0]["action"] == "delay"
    assert first["actions"][0]["outcome"] == "cancelled"
    await clock.advance(9)
    assert len(runs.traces) == 1  # the second delay started at 6 s: 10 s not over yet
    await clock.advance(1)
    second = await runs.wait_for(after=1)
    assert second["state"] == "finished"
    assert [step["outcome"] for step in second["actions"]] == ["ok", "ok"]


async def test_single_ignores_queued_waits_parallel_overlaps_each_bounded(automation_hub):
    def automation(mode: str, **extra) -> dict:
        return {
            "id": mode,
            "mode": mode,
            "triggers": on_event("go"),
            "actions": [{"delay": 5}],
            **extra,
        }

    hub = await automation_hub(
        [automation("single"), automation("queued", max=2), automation("parallel", max=2)]
    )
    clock = await fake_clock(hub, START)
    runs = Runs(hub)
    for _ in range(4):
        hub.bus.fire("go", {})
    await clock.advance(0)
    runtime = runtime_for(hub)
    assert runtime is not None, hub.integrations["automation"].error
    engine = runtime.engine
    assert engine.automations["single"].counters == {
        "runs": 1,
        "skipped": 3,
        "throttled": 0,
        "failed": 0,
    }
    # At most max runs running or waiting: queued runs one and keeps one waiting,
    # parallel runs two; the other two triggers are dropped.
    assert engine.automations["queued"].counters["skipped"] == 2
    assert engine.automations["parallel"].counters["skipped"] == 2
    await clock.advance(5)
    finished = {trace["automationId"] for trace in runs.traces}
    assert len(runs.of("single")) == 1 and len(runs.of("parallel")) == 2
    assert len(runs.of("queued")) == 1 and finished == {"single", "queued", "parallel"}
    await clock.advance(5)
    assert len(runs.of("queued")) == 2
    await clock.advance(5)
    assert len(runs.of("queued")) == 2


async def test_a_failing_action_leaves_a_trace_with_the_error_and_others_go_on(
    automation_hub, caplog
):
    hub = await automation_hub(
        [
            {
                "id": "broken",
                "triggers": on_event("go"),
                "actions": [
                    {"event": "before"},
                    {"action": "device_command", "device": "nowhere", "command": "set"},
                    {"event": "never"},
                ],
            },
            {"id": "healthy", "triggers": on_event("go"), "actions": [{"event": "fine"}]},
        ]
    )
    runs = Runs(hub)
    caplog.set_level(logging.ERROR, logger="plugins.automation")
    for count in range(1, 4):
        hub.bus.fire("go", {})

        def ran(_trace: dict[str, Any], n: int = count) -> bool:
            return len(runs.traces) == 2 * n

        await runs.wait_for(ran)
    broken = runs.of("broken")[0]
    assert broken["state"] == "failed"
    assert "no device 'nowhere'" in broken["error"]
    assert [step["outcome"] for step in broken["actions"]] == ["ok", "failed"]
    assert "no device 'nowhere'" in broken["actions"][1]["error"]
    assert [trace["state"] for trace in runs.of("healthy")] == ["finished"] * 3
    # The same error is logged once, however often it happens, and names the automation.
    assert len(runs.of("broken")) == 3
    logged = [record.getMessage() for record in caplog.records if "broken" in record.getMessage()]
    assert len(logged) == 1 and logged[0].startswith("Automation broken failed:")
    assert hub.status() == "ok"


async def test_an_automation_that_triggers_itself_is_held_to_its_rate(automation_hub):
    hub = await automation_hub(
        [
            {
                "id": "loop",
                "mode": "parallel",
                "max_runs_per_minute": 5,
                "triggers": on_event("again"),
                "actions": [{"event": "again"}],
            }
        ]
    )
    clock = await fake_clock(hub, START)
    runs = Runs(hub)
    hub.bus.fire("again", {})
    await clock.advance(1)
    runtime = runtime_for(hub)
    assert runtime is not None, hub.integrations["automation"].error
    loop = runtime.engine.automations["loop"]
    assert loop.counters["runs"] == 5 and loop.counters["throttled"] >= 1
    assert len(runs.traces) == 5
    await clock.advance(60)  # a minute later it may run again
    hub.bus.fire("again", {})
    await clock.advance(1)
    assert loop.counters["runs"] == 10


async def test_an_action_that_hangs_is_cut_at_its_timeout(automation_hub):
    hub = await automation_hub(
        [
            {
                "id": "waits",
                "triggers": on_event("go"),
                "actions": [
                    {
                        "action": "device_command",
                        "device": "lamp",
                        "command": "set",
                        "wait": True,
                        "timeout": 3,
                    }
                ],
            }
        ]
    )
    clock = await fake_clock(hub, START)
    runs = Runs(hub)
    lamp = await device(hub, "lamp")
    # A transport that accepts the command; no answer ever comes back.
    hub.registrations.transports["none"] = ("test", _SilentTransport())
    hub.bus.fire("go", {})
    await clock.advance(2.9)
    assert runs.traces == []
    await clock.advance(0.2)
    trace = await runs.wait_for()
    assert trace["state"] == "failed"
    assert trace["actions"][0]["outcome"] == "timeout"
    assert trace["actions"][0]["error"] == "no answer within 3 s"
    assert lamp.online


class _SilentTransport:
    async def send_command(self, device, command) -> None:
        return None
