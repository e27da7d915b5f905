"""Automations driving simulated ESP32s through a real Mosquitto and the mqtt_devices integration."""

from __future__ import annotations

import asyncio
import time

import pytest
import yaml

from hub.core import Hub
from hub.event_bus import Event
from hub.testing import static_auth
from plugins.automation import runtime_for
from plugins.mqtt_devices.config import parse_broker_url
from plugins.mqtt_devices.simulator.device import SimulatedDevice
from plugins.mqtt_devices.simulator.fleet import Link
from tests.automation.helpers import Runs
from tests.automation.test_automation_config import ISSUE_EXAMPLE
from tests.mqtt_devices.helpers import STATION, TOKEN, EventRecorder

KITCHEN = "esp-kitchen-1"


def more_automations() -> list[dict]:
    return [
        {
            "id": "relay_when_hot",
            "triggers": [
                {
                    "trigger": "device_state",
                    "device": KITCHEN,
                    "attribute": "temperature",
                    "above": 30,
                    "for": 2,
                }
            ],
            "actions": [
                {
                    "action": "device_command",
                    "device": KITCHEN,
                    "command": "set",
                    "params": {"relay": True, "cause": "{{ trigger.value }}"},
                    "wait": True,
                }
            ],
        },
        {
            "id": "kitchen_gone",
            "triggers": [
                {"trigger": "device_presence", "device": KITCHEN, "online": False, "for": 0.5}
            ],
            "actions": [
                {"event": "kitchen_gone", "event_data": {"id": "{{ trigger.externalId }}"}}
            ],
        },
    ]


@pytest.fixture
async def hub_with_issue_example(tmp_path, mosquitto):
    """A hub whose configuration.yaml holds the issue's example as text, read by the hub's
    own YAML loader (so ``{on: true}`` is read exactly as a user would write it)."""
    others = {
        "hub": {
            "station_id": STATION,
            "http": {"host": "127.0.0.1", "port": 0},
            "presence": {"heartbeat_interval": 0.2, "missed_heartbeats": 2},
        },
        "static_auth": {"users": {TOKEN: "owner"}},
        "mqtt_devices": {"broker": mosquitto.url},
    }
    more = yaml.safe_dump(more_automations(), sort_keys=False)
    text = yaml.safe_dump(others, sort_keys=False) + ISSUE_EXAMPLE
    text += "".join(f"  {line}\n" for line in more.splitlines())
    (tmp_path / "configuration.yaml").write_text(text)
    hub = Hub(tmp_path, extra_integrations={"static_auth": static_auth})
    try:
        await hub.start()
        yield hub
    finally:
        await hub.stop()


async def test_simulated_devices_trigger_commands_they_execute_and_acknowledge(
    hub_with_issue_example, mosquitto
) -> None:
    hub = hub_with_issue_example
    runtime = runtime_for(hub)
    assert runtime is not None, hub.integrations["automation"].error
    assert len(runtime.engine.automations) == 3
    runs = Runs(hub)
    statuses = EventRecorder(hub.bus, "command_status_changed")
    states = EventRecorder(hub.bus, "device_state_changed")
    kitchen = SimulatedDevice(
        station_id=STATION,
        external_id=KITCHEN,
        rate=20,
        heartbeat_interval=0.1,
        event_probability=0,
        state={"temperature": 21.0, "humidity": 40.0, "relay": False, "temp": 21},
    )
    link = Link(parse_broker_url(mosquitto.url), "sim-kitchen", [kitchen])
    crossed: list[float] = []

    def note_crossing(event) -> None:
        # Called in the same dispatch that starts the trigger's 2 s timer.
        if event.data["state"].get("temperature", 0) > 30 and not crossed:
            crossed.append(time.monotonic())

    hub.bus.listen("device_state_changed", note_crossing)
    running = asyncio.ensure_future(link.run())
    try:
        await states.wait_for(lambda data: data["externalId"] == KITCHEN)
        device = hub.devices.by_external_id(KITCHEN)
        assert device.online
        # Someone heats the kitchen: the device itself reports the new values.
        heat = await hub.devices.send_command(device.id, "set", {"temp": 31, "temperature": 35.0})
        await statuses.wait_for(
            lambda data: data["commandId"] == heat.id and data["status"] == "succeeded"
        )

        # The issue's example, exactly as written: the command goes out at once; this
        # simulator does not know "fan" and says so in its acknowledgement.
        fan = await runs.wait_for(lambda trace: trace["automationId"] == "fan_when_hot")
        assert fan["state"] == "finished"
        assert [item["result"] for item in fan["conditions"]] == [True]
        fan_command = fan["actions"][0]["result"]["commandId"]
        refused = await statuses.wait_for(
            lambda data: data["commandId"] == fan_command and data["status"] == "failed"
        )
        assert refused["error"] == "unsupported command 'fan'"
        assert hub.devices.command(fan_command).params == {"on": True}

        # Above 30 for 2 s: "set" goes out, the device executes it and acknowledges.
        relay = await runs.wait_for(
            lambda trace: trace["automationId"] == "relay_when_hot", within=15
        )
        assert time.monotonic() - crossed[0] >= 1.99  # asyncio may wake a tick early
        assert relay["state"] == "finished", relay
        step = relay["actions"][0]
        assert step["outcome"] == "ok" and step["result"]["status"] == "succeeded"
        assert step["result"]["result"]["state"]["relay"] is True
        assert kitchen.state["relay"] is True and kitchen.state["cause"] >= 30
        assert hub.devices.command(step["result"]["commandId"]).source == (
            "automation:relay_when_hot"
        )
        assert len(runs.of("relay_when_hot")) == 1  # it stays hot: no second run

        # The device goes silent: offline after 0.4 s, and the trigger waits 0.5 s more.
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        offline_at: list[float] = []
        runs_before: list[int] = []

        def note_offline(event: Event) -> None:
            if not event.data["online"] and not offline_at:
                offline_at.append(time.monotonic())
                runs_before.append(len(runs.traces))

        hub.bus.listen("device_presence_changed", note_offline)
        offline = EventRecorder(hub.bus, "device_presence_changed")
        went = await offline.wait_for(lambda data: data["online"] is False)
        assert went["externalId"] == KITCHEN
        # Only a run after this going offline counts: on a busy box a late heartbeat may
        # have flapped the device offline (0.2 s heartbeats) and run it earlier already.
        gone = await runs.wait_for(
            lambda trace: trace["automationId"] == "kitchen_gone", after=runs_before[0]
        )
        assert time.monotonic() - offline_at[0] >= 0.49
        assert gone["trigger"]["online"] is False and gone["trigger"]["for"] == 0.5
        assert gone["state"] == "finished"
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
