"""The ``iot_gateway:`` key: validation, environment fallback, and what a mistake looks like."""

from __future__ import annotations

import pytest
import voluptuous as vol
from yarl import URL

from hub.settings import HubSettings
from hub.yaml_loader import ConfigError
from plugins.iot_gateway.config import CONFIG_SCHEMA, resolve_settings
from tests.iot_gateway.gateway_double import APP_ID, auth

ENV_NAMES = ("BASE_URL", "HUB_BASE_URL", "APP_ID", "HUB_APP_ID", "APP_SECRET", "HUB_APP_SECRET")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


def settings(**values) -> HubSettings:
    return HubSettings(**values)


def test_yaml_values_win_over_the_environment():
    resolved = resolve_settings(
        {"base_url": "https://gw.example/api", "app_id": "yaml-app"},
        settings(base_url="https://env.example", app_id="env-app", app_secret="env-secret"),
    )
    assert resolved.base_url == URL("https://gw.example/api")
    assert resolved.app_id == "yaml-app"
    assert resolved.app_secret == "env-secret"


def test_the_environment_fills_what_the_yaml_leaves_out():
    resolved = resolve_settings({}, settings(base_url="http://10.0.0.5:8080", app_id="env-app"))
    assert str(resolved.base_url) == "http://10.0.0.5:8080"
    assert resolved.app_id == "env-app" and resolved.app_secret is None


def test_urls_join_the_base_path_and_the_mapped_path():
    resolved = resolve_settings(
        {"base_url": "https://gw.example/iot/v1/", "app_id": "a", "paths": {"alarms": "/al/x"}},
        settings(),
    )
    assert str(resolved.url("codes_values")) == "https://gw.example/iot/v1/codes/values"
    assert str(resolved.url("alarms")) == "https://gw.example/iot/v1/al/x"
    assert str(resolved.url("token")) == "https://gw.example/iot/v1/auth/token"


@pytest.mark.parametrize(
    ("config", "env", "needle"),
    [
        ({"app_id": "a"}, {}, "BASE_URL"),
        ({"base_url": "http://gw"}, {}, "APP_ID"),
        ({"app_id": "a"}, {"base_url": "ftp://gw"}, "http"),
    ],
)
def test_missing_or_bad_values_name_the_key_and_the_variable(config, env, needle):
    with pytest.raises(ConfigError) as raised:
        resolve_settings(config, settings(**env))
    assert needle in str(raised.value)
    assert raised.value.integration == "iot_gateway"


@pytest.mark.parametrize(
    "config",
    [
        {"base_url": "gw.example"},
        {"base_url": "https://user:pw@gw.example"},
        {"base_url": "https://gw.example/?x=1"},
        {"paths": {"codes_values": "codes/values"}},
        {"paths": {"codes_values": "//evil.example/x"}},
        {"paths": {"codes_values": "/a/../../auth/token"}},
        {"paths": {"codes_values": "/x?y=1"}},
        {"paths": {"delete_everything": "/x"}},
        {"timeout": 0},
        {"max_response_bytes": 10},
        {"colour": "red"},
    ],
)
def test_the_schema_refuses_bad_values(config):
    with pytest.raises(vol.Invalid):
        CONFIG_SCHEMA(config)


def test_the_secret_is_kept_out_of_repr():
    resolved = resolve_settings(
        {"base_url": "http://gw", "app_id": "a", "app_secret": "do-not-print"}, settings()
    )
    assert "do-not-print" not in repr(resolved)


async def test_the_hub_runs_with_the_gateway_from_the_environment(
    start_hub, hub_client, gateway, monkeypatch
):
    monkeypatch.setenv("BASE_URL", gateway.base_url)
    monkeypatch.setenv("APP_ID", APP_ID)
    hub = await start_hub({"base_url": None, "app_id": None})
    assert hub.integration_state("iot_gateway") == "running"
    client = await hub_client(hub)
    async with client.post("/api/iot/alarms", data=b"{}", headers=auth("user")) as response:
        assert response.status == 200
    assert gateway.logins == 1


async def test_a_hub_without_a_gateway_address_reports_why_and_keeps_running(start_hub, hub_client):
    hub = await start_hub({"base_url": None})
    assert hub.integration_state("iot_gateway") == "failed"
    assert "BASE_URL" in hub.integration_failure("iot_gateway")
    client = await hub_client(hub)
    async with client.get("/api/health") as response:
        assert response.status == 200
        assert (await response.json())["integrations"]["static_auth"] == "running"
    async with client.post("/api/iot/alarms", data=b"{}", headers=auth("user")) as response:
        assert response.status == 404  # its routes were withdrawn with it


async def test_a_bad_path_in_the_yaml_fails_the_integration_naming_the_key(start_hub):
    hub = await start_hub({"paths": {"codes_values": "https://elsewhere.example/x"}})
    assert hub.integration_state("iot_gateway") == "failed"
    failure = hub.integration_failure("iot_gateway")
    assert "paths.codes_values" in failure and "line" in failure
