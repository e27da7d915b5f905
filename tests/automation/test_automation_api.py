"""/api/automations: members read, owners and admins edit; YAML automations are read-only."""

from __future__ import annotations

import pytest

from plugins.automation import runtime_for
from tests.automation.helpers import Runs

YAML_ONE = {
    "id": "from_yaml",
    "alias": "From the YAML",
    "triggers": [{"trigger": "event", "event_type": "yaml_go"}],
    "actions": [{"event": "yaml_done"}],
}
CREATED = {
    "id": "made_here",
    "alias": "Made over the API",
    "mode": "queued",
    "triggers": [{"trigger": "event", "event_type": "api_go"}],
    "actions": [{"event": "api_done", "event_data": {"by": "{{ trigger.event.data.by }}"}}],
}


async def test_crud_with_roles(automation_hub, hub_client):
    hub = await automation_hub([YAML_ONE])
    owner = await hub_client(hub, token="owner-token")
    admin = await hub_client(hub, token="admin-token")
    member = await hub_client(hub, token="member-token")
    anonymous = await hub_client(hub)

    async with anonymous.get("/api/automations") as response:
        assert response.status == 401
    async with member.post("/api/automations", json=CREATED) as response:
        assert response.status == 403
    async with owner.post("/api/automations", json=CREATED) as response:
        assert response.status == 201, await response.text()
        created = await response.json()
    assert created["origin"] == "api" and created["editable"] and created["state"] == "on"
    assert created["config"]["mode"] == "queued"
    async with admin.post("/api/automations", json=CREATED) as response:
        assert response.status == 409

    async with member.get("/api/automations") as response:
        listed = {item["id"]: item for item in await response.json()}
    assert set(listed) == {"from_yaml", "made_here"}
    assert listed["from_yaml"]["origin"] == "yaml" and not listed["from_yaml"]["editable"]
    assert listed["from_yaml"]["source"].startswith("configuration.yaml, line ")

    runs = Runs(hub)
    hub.bus.fire("api_go", {"by": "test"})
    trace = await runs.wait_for(lambda item: item["automationId"] == "made_here")
    assert trace["state"] == "finished"

    changed = {**CREATED, "triggers": [{"trigger": "event", "event_type": "api_go_2"}]}
    async with member.put("/api/automations/made_here", json=changed) as response:
        assert response.status == 403
    async with admin.put("/api/automations/made_here", json=changed) as response:
        assert response.status == 200
        assert (await response.json())["config"]["triggers"][0]["event_type"] == "api_go_2"
    async with admin.post("/api/automations/made_here/disable") as response:
        assert (await response.json())["state"] == "off"
    hub.bus.fire("api_go_2", {"by": "nobody"})
    async with admin.post("/api/automations/made_here/enable") as response:
        assert (await response.json())["enabled"] is True
    hub.bus.fire("api_go_2", {"by": "again"})
    second = await runs.wait_for(lambda item: item["automationId"] == "made_here", after=1)
    assert second["trigger"]["event"]["data"] == {"by": "again"}

    async with member.get("/api/automations/made_here/traces") as response:
        assert response.status == 403  # what a run saw is for owners and admins
    async with admin.get("/api/automations/made_here/traces") as response:
        traces = await response.json()
    assert [item["trigger"]["event"]["data"]["by"] for item in traces] == ["again", "test"]
    assert traces[1]["actions"][0]["result"] == {"event": "api_done"}

    # Stored: a restart of the integration reads it back from the database.
    runtime = runtime_for(hub)
    assert runtime is not None, hub.integrations["automation"].error
    await runtime.stop()
    await runtime.start()
    assert runtime.engine.automations["made_here"].config["triggers"][0]["event_type"] == (
        "api_go_2"
    )

    async with member.delete("/api/automations/made_here") as response:
        assert response.status == 403
    async with owner.delete("/api/automations/made_here") as response:
        assert response.status == 204
    async with owner.get("/api/automations/made_here") as response:
        assert response.status == 404
    await runtime.stop()
    await runtime.start()
    assert "made_here" not in runtime.engine.automations


async def test_yaml_automations_are_read_only_but_can_be_run(automation_hub, hub_client):
    hub = await automation_hub([YAML_ONE])
    owner = await hub_client(hub, token="owner-token")
    member = await hub_client(hub, token="member-token")
    for method, path in [
        ("PUT", "/api/automations/from_yaml"),
        ("DELETE", "/api/automations/from_yaml"),
        ("POST", "/api/automations/from_yaml/disable"),
    ]:
        body = YAML_ONE if method == "PUT" else None
        async with owner.request(method, path, json=body) as response:
            assert response.status == 409, (method, path)
            message = (await response.json())["error"]["message"]
            assert "defined in the YAML (configuration.yaml, line" in message
    runs = Runs(hub)
    async with member.post("/api/automations/from_yaml/run") as response:
        assert response.status == 403
    async with owner.post("/api/automations/from_yaml/run") as response:
        assert response.status == 202
        run_id = (await response.json())["runId"]
    trace = await runs.wait_for()
    assert trace["runId"] == run_id and trace["trigger"]["trigger"] == "manual"


async def test_invalid_bodies_are_refused_with_the_field(automation_hub, hub_client):
    hub = await automation_hub([])
    owner = await hub_client(hub, token="owner-token")
    cases = [
        ({**CREATED, "mode": "sometimes"}, "mode"),
        ({**CREATED, "triggers": []}, "at least one trigger"),
        ({**CREATED, "actions": [{"action": "teleport"}]}, "unknown action 'teleport'"),
        ({**CREATED, "id": "../x"}, "automation id"),
        (
            {**CREATED, "triggers": [{"trigger": "device_state", "above": 3}]},
            "above/below need an attribute",
        ),
    ]
    for body, expected in cases:
        async with owner.post("/api/automations", json=body) as response:
            assert response.status == 400, body
            assert expected in (await response.json())["error"]["message"]
    async with owner.get("/api/automation-types") as response:
        types = await response.json()
    names = {item["name"] for item in types["triggers"]}
    assert {"device_state", "device_event", "device_presence", "command_status"} <= names
    assert {"time", "time_pattern", "hub_start", "event"} <= names
    assert {item["name"] for item in types["actions"]} == {"device_command", "notify_cloud"}


@pytest.mark.postgres
async def test_api_automations_are_stored_in_postgresql(
    postgres_database, automation_hub, hub_client
):
    hub = await automation_hub([], hub={"database": {"url": postgres_database}})
    owner = await hub_client(hub, token="owner-token")
    async with owner.post("/api/automations", json=CREATED) as response:
        assert response.status == 201, await response.text()
    async with owner.post("/api/automations/made_here/disable") as response:
        assert response.status == 200
    runtime = runtime_for(hub)
    assert runtime is not None, hub.integrations["automation"].error
    await runtime.stop()
    await runtime.start()
    stored = runtime.engine.automations["made_here"]
    assert stored.origin == "api" and stored.enabled is False
