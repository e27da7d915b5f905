"""The plugin manager: loading, ordering, failure isolation, third-party packages."""

from pathlib import Path
from typing import cast

import pytest

from hub.auth import AuthScheme
from hub.registrar import DeviceTransport, Registrar, RegistrationError, Registrations
from hub.testing.packages import install_private


async def test_declared_integrations_run_and_dependencies_come_first(
    hub_factory, fakes, hub_client
):
    hub = await hub_factory({"needs_echo": {}, "echo": {"greeting": "hi"}}, integrations=fakes)
    assert hub.integration_state("echo") == "running"
    assert hub.integration_state("needs_echo") == "running"
    # needs_echo saw echo already running when it was set up.
    assert fakes["needs_echo"].ORDER == ["running"]
    client = await hub_client(hub)
    async with client.get("/api/echo/greet") as response:
        assert await response.json() == {"greeting": "hi"}


async def test_an_after_dependency_orders_setup_and_shutdown_but_is_optional(hub_factory, fakes):
    hub = await hub_factory({"after_echo": {}, "echo": {}}, integrations=fakes)
    await hub.stop()
    # "after_echo" sorts first, yet it was set up after echo and shut down before it.
    assert fakes["after_echo"].SEEN == [("setup", "running"), ("shutdown", "running")]

    fakes["after_echo"].SEEN.clear()
    alone = await hub_factory({"after_echo": {}}, integrations=fakes)
    assert alone.integration_state("after_echo") == "running"
    assert fakes["after_echo"].SEEN == [("setup", None)]


async def test_installed_but_undeclared_integration_is_not_set_up(hub_factory, fakes):
    hub = await hub_factory({}, integrations=fakes)
    assert "echo" not in hub.integrations
    assert fakes["echo"].EVENTS == []
    assert ("GET", "/api/echo/greet") not in hub.registrations.routes


async def test_failing_setup_is_reported_and_the_rest_keep_running(hub_factory, fakes, hub_client):
    hub = await hub_factory(
        {
            "echo": {},
            "broken_setup": {},
            "slow_setup": {},
            "static_auth": {"users": {"owner-token": "owner"}},
            "hub": {"setup_timeout": 0.3},
        },
        integrations=fakes,
    )
    client = await hub_client(hub)
    async with client.get("/api/health") as response:
        assert response.status == 200
        public = await response.json()
    # Without credentials: up or not, and each integration's state; no error texts.
    assert public == {
        "status": hub.status(),
        "integrations": {
            "broken_setup": "failed",
            "echo": "running",
            "slow_setup": "failed",
            "static_auth": "running",
        },
    }
    owner = {"Authorization": "Bearer owner-token"}
    async with client.get("/api/health", headers=owner) as response:
        health = await response.json()
    assert health["integrations"] == public["integrations"]
    assert "the frobnicator is missing" in health["details"]["broken_setup"]["error"]
    assert "within 0.3 s" in health["details"]["slow_setup"]["error"]
    # The failed integration's route is withdrawn and answers 503, never its handler.
    async with client.get("/api/broken/thing") as response:
        assert response.status == 503
        assert (await response.json())["error"]["code"] == "integration_unavailable"
    async with client.get("/api/echo/greet") as response:
        assert response.status == 200
    # What the failed integration stored on the hub went with it.
    assert fakes["broken_setup"].STATE not in hub.runtime_data


async def test_misspelt_hook_marks_the_integration_failed(hub_factory, fakes):
    hub = await hub_factory({"misspelt": {}, "echo": {}}, integrations=fakes)
    assert hub.integration_state("misspelt") == "failed"
    assert "hub_setpu" in hub.integrations["misspelt"].error
    assert hub.integration_state("echo") == "running"


async def test_missing_dependency_and_failed_dependency(hub_factory, fakes):
    hub = await hub_factory({"needs_echo": {}}, integrations=fakes)
    assert hub.integration_state("needs_echo") == "failed"
    assert "'echo', which is not in the configuration" in hub.integrations["needs_echo"].error


async def test_invalid_integration_config_fails_only_that_integration(hub_factory, fakes):
    hub = await hub_factory({"echo": {"greeting": 42}, "static_auth": {}}, integrations=fakes)
    assert hub.integration_state("echo") == "failed"
    error = hub.integrations["echo"].error
    assert "echo.greeting" in error and "line" in error
    assert hub.integration_state("static_auth") == "running"


async def test_duplicate_route_is_refused_and_names_the_owner(hub_factory, fakes, hub_client):
    hub = await hub_factory({"duplicate_route": {}}, integrations=fakes)
    assert hub.integration_state("duplicate_route") == "failed"
    assert "already registered by hub" in hub.integrations["duplicate_route"].error
    client = await hub_client(hub)
    async with client.get("/api/health") as response:
        # The core's own route still answers, and tells the truth.
        assert (await response.json())["status"] == "degraded"


def test_registrar_refuses_duplicates_and_malformed_registrations():
    registrations = Registrations()
    first = Registrar(registrations, "one")
    second = Registrar(registrations, "two")

    async def handler(_request):
        return None

    from hub.auth import PUBLIC

    first.http_route("GET", "/api/x", handler, auth=PUBLIC)
    first.mqtt_topic("a/+/b", lambda message: None)
    first.rpc_method("thing.do", lambda params, context: None)
    first.auth_scheme("user", cast(AuthScheme, object()))  # stand-ins: only the names count
    first.device_transport("mqtt", cast(DeviceTransport, object()))
    cases = [
        (
            lambda: second.http_route("GET", "/api/x", handler, auth=PUBLIC),
            "already registered by one",
        ),
        (lambda: second.http_route("OPTIONS", "/api/y", handler, auth=PUBLIC), "not allowed"),
        (
            lambda: second.http_route("GET", "/api/y", handler, auth=None),  # type: ignore[arg-type]  # the refused value
            "needs auth=",
        ),
        (lambda: second.mqtt_topic("a/+/b", lambda m: None), "already handled by one"),
        (lambda: second.mqtt_topic("a/#/b", lambda m: None), "not a valid MQTT topic filter"),
        (lambda: second.mqtt_topic("a/b+", lambda m: None), "not a valid MQTT topic filter"),
        (lambda: second.rpc_method("thing.do", lambda p, c: None), "already registered by one"),
        (lambda: second.rpc_method("rpc.discover", lambda p, c: None), "reserved"),
        (
            lambda: second.auth_scheme("user", cast(AuthScheme, object())),
            "auth scheme 'user' is already",
        ),
        (
            lambda: second.device_transport("mqtt", cast(DeviceTransport, object())),
            "device transport 'mqtt'",
        ),
    ]
    for register, message in cases:
        with pytest.raises(RegistrationError, match=message.replace("+", r"\+")):
            register()
    registrations.withdraw("one")
    assert not registrations.routes and not registrations.topics
    assert registrations.auth_scheme("user") is None


def test_topic_matching():
    from hub.registrar import topic_matches

    assert topic_matches("station/+/device/+/state", "station/s/device/d/state")
    assert not topic_matches("station/+/device/+/state", "station/s/device/d/state/x")
    assert topic_matches("station/#", "station/s/device/d")
    assert not topic_matches("station/+", "other/s")


@pytest.fixture(scope="module")
def installed_hello(tmp_path_factory):
    """pip-install the tiny third-party package into a private directory."""
    return install_private(
        Path(__file__).parent / "third_party" / "station-hub-hello", tmp_path_factory
    )


async def test_third_party_package_loads_through_its_entry_point(
    installed_hello, monkeypatch, hub_factory, hub_client
):
    from hub.plugins import available_integrations

    assert "hello" not in available_integrations()
    monkeypatch.syspath_prepend(str(installed_hello))
    assert "hello" in available_integrations()
    hub = await hub_factory({"hello": {}})
    assert hub.integration_state("hello") == "running"
    client = await hub_client(hub)
    async with client.get("/api/hello") as response:
        assert await response.json() == {"hello": "from a third-party package"}
