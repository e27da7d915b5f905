"""Flow steps, conditions, templates and the remaining triggers, each with its trace."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hub.devices.registry import DeviceError
from plugins.automation import runtime_for
from tests.automation.helpers import Runs, device, fake_clock
from tests.mqtt_devices.helpers import EventRecorder

START = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def on(name: str) -> list[dict]:
    return [{"trigger": "event", "event_type": name}]


async def test_choose_if_repeat_and_templates(automation_hub):
    hub = await automation_hub(
        [
            {
                "id": "flow",
                "triggers": on("go"),
                "conditions": [
                    {
                        "condition": "or",
                        "conditions": [
                            {
                                "condition": "device_numeric_state",
                                "device": "probe",
                                "attribute": "t",
                                "above": 25,
                            },
                            {
                                "condition": "not",
                                "conditions": [
                                    {
                                        "condition": "device_presence",
                                        "device": "probe",
                                        "online": True,
                                    }
                                ],
                            },
                        ],
                    }
                ],
                "actions": [
                    {
                        "choose": [
                            {
                                "conditions": [
                                    {
                                        "condition": "template",
                                        "value_template": "{{ trigger.event.data.level > 5 }}",
                                    }
                                ],
                                "sequence": [{"event": "chosen", "event_data": {"which": "high"}}],
                            }
                        ],
                        "default": [{"event": "chosen", "event_data": {"which": "default"}}],
                    },
                    {
                        "if": [
                            {
                                "condition": "device_state",
                                "device": "probe",
                                "attribute": "mode",
                                "state": "eco",
                            }
                        ],
                        "then": [{"event": "branch", "event_data": {"b": "then"}}],
                        "else": [{"event": "branch", "event_data": {"b": "else"}}],
                    },
                    {
                        "repeat": {
                            "count": "{{ trigger.event.data.level }}",
                            "sequence": [
                                {"event": "tick", "event_data": {"i": "{{ repeat.index }}"}}
                            ],
                        }
                    },
                ],
            }
        ]
    )
    runs = Runs(hub)
    chosen = EventRecorder(hub.bus, "chosen")
    branch = EventRecorder(hub.bus, "branch")
    ticks = EventRecorder(hub.bus, "tick")
    await device(hub, "probe", {"t": 30, "mode": "eco"})
    hub.bus.fire("go", {"level": 7})
    trace = await runs.wait_for()
    assert trace["state"] == "finished", trace
    # Conditions inside steps are traced too, under their step's path.
    assert [item["path"] for item in trace["conditions"][2:]] == [
        "actions/0/choose/0/conditions/0",
        "actions/1/if/0",
    ]
    assert trace["conditions"][:2] == [
        {"path": "conditions/0/conditions/0", "condition": "device_numeric_state", "result": True},
        {"path": "conditions/0", "condition": "or", "result": True},
    ]
    assert chosen.events == [{"which": "high"}] and branch.events == [{"b": "then"}]
    assert [item["i"] for item in ticks.events] == [1, 2, 3, 4, 5, 6, 7]
    steps = {step["path"]: step for step in trace["actions"]}
    assert steps["actions/0"]["result"] == {"chosen": 0}
    assert steps["actions/1"]["result"] == {"branch": "then"}
    assert steps["actions/2"]["result"] == {"iterations": 7}

    probe = hub.devices.by_external_id("probe")
    hub.devices.report_state(probe, {"t": 20, "mode": "boost"})
    hub.bus.fire("go", {"level": 1})
    stopped = await runs.wait_for(after=1)
    assert stopped["state"] == "stopped"  # not above 25 and online: the or is false
    assert [item["result"] for item in stopped["conditions"]] == [False, True, False, False]


async def test_wait_for_trigger_times_out_or_continues_with_the_trigger(automation_hub):
    hub = await automation_hub(
        [
            {
                "id": "door",
                "triggers": on("opened"),
                "actions": [
                    {
                        "wait_for_trigger": [{"trigger": "event", "event_type": "closed"}],
                        "timeout": 30,
                        "continue_on_timeout": False,
                    },
                    {
                        "event": "closed_in_time",
                        "event_data": {"by": "{{ wait.trigger.event.data.by }}"},
                    },
                ],
            }
        ]
    )
    clock = await fake_clock(hub, START)
    runs = Runs(hub)
    closed = EventRecorder(hub.bus, "closed_in_time")
    hub.bus.fire("opened", {})
    await clock.advance(10)
    hub.bus.fire("closed", {"by": "ana"})
    first = await runs.wait_for()
    assert first["state"] == "finished" and closed.events == [{"by": "ana"}]
    hub.bus.fire("opened", {})
    await clock.advance(30)
    second = await runs.wait_for(after=1)
    assert second["state"] == "stopped"
    assert second["actions"][0]["outcome"] == "timeout"
    assert second["actions"][0]["error"] == "no trigger within 30 s"
    assert len(second["actions"]) == 1


async def test_stop_condition_steps_and_bounded_repeat(automation_hub):
    hub = await automation_hub(
        [
            {
                "id": "guarded",
                "triggers": on("go"),
                "actions": [
                    {"condition": "template", "value_template": "{{ trigger.event.data.ok }}"},
                    {
                        "repeat": {
                            "while": [{"condition": "template", "value_template": "{{ true }}"}],
                            "max": 3,
                            "sequence": [{"event": "spin"}],
                        }
                    },
                ],
            },
            {
                "id": "halts",
                "triggers": on("halt"),
                "actions": [{"stop": "nothing to do", "error": True}, {"event": "never"}],
            },
        ]
    )
    runs = Runs(hub)
    hub.bus.fire("go", {"ok": False})
    first = await runs.wait_for()
    assert first["state"] == "stopped" and first["error"] == "condition at actions/0 was false"
    hub.bus.fire("go", {"ok": True})
    second = await runs.wait_for(after=1)
    assert second["state"] == "failed"
    assert "repeat while was still true after max 3 iterations" in second["error"]
    assert sum(1 for step in second["actions"] if step["action"] == "event") == 3
    hub.bus.fire("halt", {})
    halted = await runs.wait_for(after=2)
    assert halted["state"] == "failed" and halted["error"] == "nothing to do"
    assert len(halted["actions"]) == 1


async def test_device_event_command_status_hub_start_and_cloud_without_a_link(
    automation_hub,
):
    hub = await automation_hub(
        [
            {
                "id": "button",
                "triggers": [
                    {
                        "trigger": "device_event",
                        "device": "remote",
                        "type": "pressed",
                        "data": {"button": "a"},
                    }
                ],
                "actions": [
                    {"action": "notify_cloud", "message": "button {{ trigger.data.button }}"}
                ],
            },
            {
                "id": "command_failed",
                "triggers": [{"trigger": "command_status", "device": "remote", "status": "failed"}],
                "actions": [{"event": "noted", "event_data": {"error": "{{ trigger.error }}"}}],
            },
        ]
    )
    runs = Runs(hub)
    remote = await device(hub, "remote")
    hub.devices.report_event(remote, "pressed", {"button": "b"})
    hub.devices.report_event(remote, "released", {"button": "a"})
    hub.devices.report_event(remote, "pressed", {"button": "a", "long": True})
    pressed = await runs.wait_for()
    assert pressed["automationId"] == "button" and pressed["trigger"]["data"]["button"] == "a"
    assert pressed["state"] == "finished"
    assert pressed["actions"][0]["outcome"] == "skipped"
    assert pressed["actions"][0]["error"] == "the cloud link is not configured"
    # The transport cannot deliver; the trigger named the device by its external id.
    hub.registrations.transports["none"] = ("test", _BrokenTransport())
    with pytest.raises(DeviceError):
        await hub.devices.send_command(remote.id, "set", {})
    failed = await runs.wait_for(lambda trace: trace["automationId"] == "command_failed")
    assert failed["trigger"]["error"] == "delivery failed: the radio is off"
    assert len(runs.traces) == 2


class _BrokenTransport:
    async def send_command(self, device, command) -> None:
        raise ConnectionError("the radio is off")


async def test_hub_start_trigger(hub_factory):
    hub = await hub_factory(
        {
            "automation": [
                {"id": "boot", "triggers": [{"trigger": "hub_start"}], "actions": [{"event": "up"}]}
            ]
        }
    )
    runtime = runtime_for(hub)
    assert runtime is not None, hub.integrations["automation"].error
    engine = runtime.engine
    await engine.automations["boot"].wait_idle()
    [trace] = engine.traces.of("boot")
    assert trace.trigger["trigger"] == "hub_start" and trace.state == "finished"


async def test_devices_are_named_by_hub_id_as_well_as_external_id(automation_hub):
    hub = await automation_hub([])
    runs = Runs(hub)
    sensor = await device(hub, "sensor-7", {"on": False})
    runtime = runtime_for(hub)
    assert runtime is not None, hub.integrations["automation"].error
    await runtime.save(
        {
            "id": "by_hub_id",
            "triggers": [
                {"trigger": "device_state", "device": sensor.id, "attribute": "on", "to": True}
            ],
            "conditions": [
                {"condition": "device_state", "device": sensor.id, "attribute": "on", "state": True}
            ],
            "actions": [{"event": "seen", "event_data": {"who": "{{ trigger.externalId }}"}}],
        }
    )
    hub.devices.report_state(sensor, {"on": True})
    trace = await runs.wait_for()
    assert trace["state"] == "finished" and trace["trigger"]["externalId"] == "sensor-7"
    assert trace["trigger"]["oldValue"] is False
