"""Object metadata: CRUD over HTTP, and the bulk sync from the gateway's object list."""

from __future__ import annotations

import orjson
import pytest

from tests.iot_gateway.gateway_double import Answer, auth

OBJECTS = "/api/iot/objects"


@pytest.fixture
async def hub(start_hub):
    return await start_hub()


@pytest.fixture
async def client(hub, hub_client):
    return await hub_client(hub)


async def create(client, role="admin", **fields):
    async with client.post(OBJECTS, json=fields, headers=auth(role)) as response:
        return response.status, await response.json()


async def listed(client, query=""):
    async with client.get(OBJECTS + query, headers=auth("user")) as response:
        assert response.status == 200
        return await response.json()


# ---- CRUD -----------------------------------------------------------------------------


async def test_create_read_update_delete(client):
    status, created = await create(
        client,
        code="B1.T01",
        name="Boiler flow temperature",
        type="sensor",
        description="Flow, after the mixing valve",
        metadata={"unit": "°C", "range": [0, 95], "protocol": "modbus"},
    )
    assert status == 201
    assert created["code"] == "B1.T01" and created["metadata"]["unit"] == "°C"
    assert len(created["id"]) == 36 and created["createdAt"].endswith("+00:00")

    async with client.get(f"{OBJECTS}/{created['id']}", headers=auth("user")) as response:
        assert response.status == 200
        assert await response.json() == created

    async with client.patch(
        f"{OBJECTS}/{created['id']}",
        json={"name": "Flow temperature", "metadata": {"unit": "K"}},
        headers=auth("owner"),
    ) as response:
        assert response.status == 200
        updated = await response.json()
    assert updated["name"] == "Flow temperature" and updated["metadata"] == {"unit": "K"}
    assert updated["description"] == "Flow, after the mixing valve"
    assert updated["updatedAt"] >= created["updatedAt"]

    async with client.delete(f"{OBJECTS}/{created['id']}", headers=auth("admin")) as response:
        assert response.status == 204
    async with client.get(f"{OBJECTS}/{created['id']}", headers=auth("user")) as response:
        assert response.status == 404
    assert (await listed(client))["total"] == 0


async def test_defaults_for_optional_fields(client):
    status, created = await create(client, code="P1", name="Pump 1")
    assert status == 201
    assert (created["type"], created["description"], created["metadata"]) == ("", None, {})


async def test_list_is_ordered_by_code_and_filters_and_pages(client):
    for code, kind in [("c", "meter"), ("a", "sensor"), ("b", "sensor"), ("d", "actuator")]:
        assert (await create(client, code=code, name=code.upper(), type=kind))[0] == 201

    everything = await listed(client)
    assert [item["code"] for item in everything["items"]] == ["a", "b", "c", "d"]
    assert everything["total"] == 4

    sensors = await listed(client, "?type=sensor")
    assert [item["code"] for item in sensors["items"]] == ["a", "b"] and sensors["total"] == 2

    page = await listed(client, "?limit=2&offset=1")
    assert [item["code"] for item in page["items"]] == ["b", "c"] and page["total"] == 4

    async with client.get(OBJECTS + "?limit=0", headers=auth("user")) as response:
        assert response.status == 400
        assert "limit" in (await response.json())["error"]["message"]


async def test_a_duplicate_code_is_a_409(client):
    assert (await create(client, code="X", name="first"))[0] == 201
    status, body = await create(client, code="X", name="second")
    assert status == 409 and body["error"]["code"] == "duplicate_code"
    assert "'X'" in body["error"]["message"]

    _, other = await create(client, code="Y", name="other")
    async with client.patch(
        f"{OBJECTS}/{other['id']}", json={"code": "X"}, headers=auth("admin")
    ) as response:
        assert response.status == 409
    async with client.patch(
        f"{OBJECTS}/{other['id']}", json={"code": "Y", "name": "same code"}, headers=auth("admin")
    ) as response:
        assert response.status == 200
    assert [item["code"] for item in (await listed(client))["items"]] == ["X", "Y"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "no code"}, "code"),
        ({"code": "", "name": "empty code"}, "code"),
        ({"code": " padded", "name": "n"}, "code"),
        ({"code": "ok"}, "name"),
        ({"code": "ok", "name": "n", "metadata": [1, 2]}, "metadata"),
        ({"code": "ok", "name": "n", "type": 5}, "type"),
        ({"code": "ok", "name": "n", "colour": "red"}, "colour"),
        ({"code": "ok", "name": "n", "metadata": {"blob": "x" * 70_000}}, "metadata"),
    ],
)
async def test_invalid_objects_are_refused_with_the_field_named(client, body, field):
    status, answer = await create(client, **body)
    assert status == 400
    assert field in answer["error"]["message"]
    assert (await listed(client))["total"] == 0


async def test_an_empty_update_is_refused(client):
    _, created = await create(client, code="Z", name="z")
    async with client.patch(f"{OBJECTS}/{created['id']}", json={}, headers=auth("admin")) as r:
        assert r.status == 400


@pytest.mark.parametrize("object_id", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
async def test_unknown_ids_are_404(client, object_id):
    for method in ("GET", "PATCH", "DELETE"):
        async with client.request(
            method, f"{OBJECTS}/{object_id}", json={"name": "n"}, headers=auth("owner")
        ) as response:
            assert response.status == 404, method


async def test_writes_need_owner_or_admin(client):
    status, _ = await create(client, role="user", code="U", name="by a user")
    assert status == 403
    _, created = await create(client, code="U", name="by an admin")
    async with client.patch(
        f"{OBJECTS}/{created['id']}", json={"name": "x"}, headers=auth("user")
    ) as response:
        assert response.status == 403
    async with client.delete(f"{OBJECTS}/{created['id']}", headers=auth("user")) as response:
        assert response.status == 403
    async with client.post(f"{OBJECTS}/sync", headers=auth("user")) as response:
        assert response.status == 403
    async with client.get(OBJECTS) as response:
        assert response.status == 401


async def test_objects_survive_a_restart(start_hub, hub_client, hub, client):
    _, created = await create(client, code="KEEP", name="kept", metadata={"a": 1})
    await hub.stop()
    again = await start_hub(config_dir=hub.config_dir)
    other = await hub_client(again)
    async with other.get(f"{OBJECTS}/{created['id']}", headers=auth("user")) as response:
        assert await response.json() == created


# ---- bulk sync ----------------------------------------------------------------------------


def gateway_list(gateway, entries, *, wrap=None, status=200):
    body = orjson.dumps({wrap: entries} if wrap else entries)
    gateway.answers["/objects"] = Answer(status, body, {"Content-Type": "application/json"})


async def sync(client):
    async with client.post(f"{OBJECTS}/sync", headers=auth("admin")) as response:
        return response.status, await response.json()


async def test_sync_creates_updates_and_keeps(client, gateway):
    _, manual = await create(
        client, code="T1", name="hand-named", description="written by hand", type="sensor"
    )
    _, local_only = await create(client, code="LOCAL", name="not upstream")
    gateway_list(
        gateway,
        [
            {"code": "T1", "name": "Temp 1", "metadata": {"unit": "°C"}, "vendorField": 7},
            {"code": "T2", "name": "Temp 2", "type": "sensor", "description": "d"},
            {"code": "M1"},
        ],
    )

    status, report = await sync(client)

    assert status == 200
    assert report == {
        "received": 3,
        "created": 2,
        "updated": 1,
        "unchanged": 0,
        "skippedCount": 0,
        "skipped": [],
    }
    request = gateway.received[-1]
    assert (request.method, request.path) == ("GET", "/objects")
    assert request.token == gateway.issued[0]["accessToken"]
    items = {item["code"]: item for item in (await listed(client))["items"]}
    assert set(items) == {"T1", "T2", "M1", "LOCAL"}
    assert items["T1"]["id"] == manual["id"]
    assert items["T1"]["name"] == "Temp 1" and items["T1"]["description"] == "written by hand"
    assert items["T1"]["type"] == "sensor" and items["T1"]["metadata"] == {"unit": "°C"}
    assert items["M1"]["name"] == "M1" and items["M1"]["type"] == ""
    assert items["LOCAL"] == local_only

    status, again = await sync(client)
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 3)


@pytest.mark.parametrize("wrap", ["objects", "data"])
async def test_sync_accepts_a_wrapped_list(client, gateway, wrap):
    gateway_list(gateway, [{"code": "W1", "name": "wrapped"}], wrap=wrap)
    status, report = await sync(client)
    assert status == 200 and report["created"] == 1


async def test_sync_skips_bad_entries_and_applies_the_rest(client, gateway):
    gateway_list(
        gateway,
        [
            {"code": "GOOD1", "name": "ok"},
            {"name": "no code"},
            "not an object",
            {"code": "GOOD1", "name": "duplicate"},
            {"code": "BAD", "metadata": "not an object"},
            {"code": "GOOD2", "name": None, "metadata": None, "description": None},
        ],
    )
    status, report = await sync(client)
    assert status == 200
    assert report["created"] == 2 and report["skippedCount"] == 4
    reasons = {entry["index"]: entry["reason"] for entry in report["skipped"]}
    assert set(reasons) == {1, 2, 3, 4}
    assert "code" in reasons[1] and "duplicate" in reasons[3] and "metadata" in reasons[4]
    names = {item["code"]: item["name"] for item in (await listed(client))["items"]}
    assert names == {"GOOD1": "ok", "GOOD2": "GOOD2"}


@pytest.mark.parametrize(
    ("status", "body", "code"),
    [
        (500, b'{"error": "boom"}', "gateway_bad_response"),
        (200, b"<html>not json</html>", "gateway_bad_response"),
        (200, b'{"total": 3}', "gateway_bad_response"),
    ],
)
async def test_a_bad_object_list_is_a_502_and_changes_nothing(client, gateway, status, body, code):
    await create(client, code="KEEP", name="kept")
    gateway.answers["/objects"] = Answer(status, body, {"Content-Type": "application/json"})
    answer_status, answer = await sync(client)
    assert answer_status == 502 and answer["error"]["code"] == code
    assert [item["code"] for item in (await listed(client))["items"]] == ["KEEP"]


async def test_the_sync_path_is_configurable(start_hub, hub_client, gateway):
    hub = await start_hub({"paths": {"objects": "/meta/points"}})
    client = await hub_client(hub)
    gateway.answers["/meta/points"] = Answer(
        200, b'[{"code": "C1"}]', {"Content-Type": "application/json"}
    )
    status, report = await sync(client)
    assert status == 200 and report["created"] == 1
    assert gateway.paths_received() == ["/meta/points"]


async def test_a_large_sync_is_applied_in_one_go(client, gateway):
    gateway_list(gateway, [{"code": f"P{index:05d}", "type": "meter"} for index in range(3000)])
    status, report = await sync(client)
    assert status == 200 and report["created"] == 3000
    gateway_list(
        gateway,
        [{"code": f"P{index:05d}", "type": "meter", "name": "renamed"} for index in range(3000)],
    )
    status, report = await sync(client)
    assert report["updated"] == 3000
    assert (await listed(client, "?type=meter&limit=1"))["total"] == 3000
