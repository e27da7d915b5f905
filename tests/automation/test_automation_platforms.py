"""hub_automation_platforms: a pip-installed third-party package adds an action and a trigger."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.testing.packages import install_private
from tests.automation.helpers import Runs


@pytest.fixture(scope="module")
def installed_garage(tmp_path_factory):
    """pip-install the third-party test package into a private directory."""
    return install_private(
        Path(__file__).parent / "third_party" / "station-hub-garage", tmp_path_factory
    )


async def test_a_third_party_action_and_trigger_run_like_built_ins(
    installed_garage, monkeypatch, automation_hub, hub_client
):
    monkeypatch.syspath_prepend(str(installed_garage))
    hub = await automation_hub(
        [
            {
                "id": "open_on_arrival",
                "triggers": [{"trigger": "event", "event_type": "arrived"}],
                "actions": [
                    {"action": "garage.open", "seconds": "{{ trigger.event.data.seconds }}"}
                ],
            },
            {
                "id": "too_long",
                "triggers": [{"trigger": "event", "event_type": "stuck"}],
                "actions": [{"action": "garage.open", "seconds": 600}],
            },
            {
                "id": "when_opened",
                "triggers": [{"trigger": "garage.opened", "at_least": 10}],
                "actions": [{"event": "garage_noticed"}],
            },
        ],
        garage={},
    )
    assert hub.integration_state("garage") == "running"
    runs = Runs(hub)
    hub.bus.fire("arrived", {"seconds": 20})
    opened = await runs.wait_for(lambda trace: trace["automationId"] == "open_on_arrival")
    assert opened["state"] == "finished"
    assert opened["actions"][0]["action"] == "garage.open"
    assert opened["actions"][0]["result"] == {"opened": 20}
    noticed = await runs.wait_for(lambda trace: trace["automationId"] == "when_opened")
    assert noticed["trigger"] == {"trigger": "garage.opened", "id": "0", "seconds": 20}

    # A template's value is checked against the type's schema once rendered.
    hub.bus.fire("arrived", {"seconds": "soon"})
    wrong = await runs.wait_for(
        lambda trace: trace["automationId"] == "open_on_arrival", after=len(runs.traces)
    )
    assert wrong["state"] == "failed"
    assert wrong["actions"][0]["error"] == "field 'seconds': expected int"

    hub.bus.fire("stuck", {})
    failed = await runs.wait_for(lambda trace: trace["automationId"] == "too_long")
    assert failed["state"] == "failed"
    assert failed["actions"][0]["error"] == "the door motor runs 60 s at most"

    client = await hub_client(hub, token="member-token")
    async with client.get("/api/automation-types") as response:
        types = await response.json()
    assert {"name": "garage.open", "integration": "garage", "description": "open it"} in types[
        "actions"
    ]
    assert "garage.opened" in {item["name"] for item in types["triggers"]}
