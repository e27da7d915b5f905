"""Identifiers are matched in full: a trailing newline is not a valid name."""

from __future__ import annotations

import hashlib

import pytest

from hub.config import ConfigError, validate_core

TOKEN = "device-secret-token-456"


async def test_an_event_type_with_a_trailing_newline_is_refused(authed_hub, hub_client):
    hub = authed_hub
    await hub.devices.expect_device(
        "esp-nl", token_digest=hashlib.sha256(TOKEN.encode()).hexdigest(), transport="echo"
    )
    client = await hub_client(hub)
    headers = {"X-Device-Token": TOKEN}
    async with client.post(
        "/api/device/events", json={"type": "alarm\n"}, headers=headers
    ) as response:
        assert response.status == 400
        assert "type" in (await response.json())["error"]["message"]
    async with client.post("/api/device/events", json={"type": "alarm"}, headers=headers) as ok:
        assert ok.status == 202


def test_a_station_id_with_a_trailing_newline_is_refused():
    with pytest.raises(ConfigError, match="station_id"):
        validate_core({"hub": {"station_id": "station-1\n"}})
    assert validate_core({"hub": {"station_id": "station-1"}})["station_id"] == "station-1"
