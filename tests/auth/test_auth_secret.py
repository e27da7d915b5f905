"""Where the JWT secret comes from, and that an unusable one closes the API."""

from __future__ import annotations

import os
import stat
import time

import jwt

from plugins.auth import get_user_store
from plugins.auth.const import SECRET_FILE
from tests.auth.conftest import FAST_HASHING, SECRET, hub_config


def _no_secret_config() -> dict:
    return hub_config({"password_hashing": FAST_HASHING})


async def _token_works(hub, hub_client, secret: bytes | str) -> int:
    """The status of GET /api/auth/me with a fresh token signed with ``secret``."""
    store = get_user_store(hub)
    user = await store.get_user_by_username("mia") or await store.create_user("mia", "user")
    now = int(time.time())
    token = jwt.encode(
        {"userId": user.id, "role": "user", "iat": now, "exp": now + 60}, secret, algorithm="HS256"
    )
    client = await hub_client(hub)
    async with client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}) as response:
        return response.status


async def test_generated_secret_is_private_and_survives_restarts(
    hub_factory, integrations, hub_client, tmp_path
):
    config_dir = tmp_path / "config"
    hub = await hub_factory(_no_secret_config(), config_dir=config_dir, integrations=integrations)
    secret_file = config_dir / SECRET_FILE
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    secret = secret_file.read_text().strip()
    assert len(secret.encode()) >= 32
    assert await _token_works(hub, hub_client, secret) == 200
    await hub.stop()

    again = await hub_factory(_no_secret_config(), config_dir=config_dir, integrations=integrations)
    assert secret_file.read_text().strip() == secret
    assert await _token_works(again, hub_client, secret) == 200


async def test_secret_from_the_environment(
    hub_factory, integrations, hub_client, tmp_path, monkeypatch
):
    from_env = "environment-secret-" + "e" * 32
    monkeypatch.setenv("JWT_SECRET", from_env)
    config_dir = tmp_path / "config"
    hub = await hub_factory(_no_secret_config(), config_dir=config_dir, integrations=integrations)
    assert not (config_dir / SECRET_FILE).exists()
    assert await _token_works(hub, hub_client, from_env) == 200
    assert await _token_works(hub, hub_client, SECRET) == 401


async def test_yaml_secret_wins_over_the_environment(
    hub_factory, integrations, hub_client, monkeypatch
):
    monkeypatch.setenv("HUB_JWT_SECRET", "environment-secret-" + "e" * 32)
    hub = await hub_factory(hub_config(), integrations=integrations)
    assert await _token_works(hub, hub_client, SECRET) == 200


async def _assert_failed_closed(hub, hub_client, fragment: str) -> None:
    assert hub.integration_state("auth") == "failed"
    assert fragment in hub.integrations["auth"].error
    client = await hub_client(hub)
    # Core routes that name the user scheme answer 401: nobody provides it.
    async with client.get("/api/devices", headers={"Authorization": "Bearer anything"}) as response:
        assert response.status == 401
        assert (await response.json())["error"]["code"] == "auth_unavailable"
    async with client.get("/api/health") as response:
        assert (await response.json())["integrations"]["auth"] == "failed"


async def test_short_yaml_secret_fails_the_integration(hub_factory, integrations, hub_client):
    hub = await hub_factory(hub_config({"jwt_secret": "too-short"}), integrations=integrations)
    await _assert_failed_closed(hub, hub_client, "at least 32 bytes")
    assert "auth.jwt_secret" in hub.integrations["auth"].error


async def test_short_environment_secret_fails_the_integration(
    hub_factory, integrations, hub_client, monkeypatch
):
    monkeypatch.setenv("JWT_SECRET", "short")
    hub = await hub_factory(_no_secret_config(), integrations=integrations)
    await _assert_failed_closed(hub, hub_client, "JWT_SECRET")


async def test_readable_secret_file_fails_the_integration(
    hub_factory, integrations, hub_client, tmp_path
):
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    secret_file = config_dir / SECRET_FILE
    secret_file.write_text("s" * 64)
    os.chmod(secret_file, 0o644)
    hub = await hub_factory(_no_secret_config(), config_dir=config_dir, integrations=integrations)
    await _assert_failed_closed(hub, hub_client, "chmod 600")


async def test_short_secret_file_fails_the_integration(
    hub_factory, integrations, hub_client, tmp_path
):
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    secret_file = config_dir / SECRET_FILE
    secret_file.write_text("short\n")
    os.chmod(secret_file, 0o600)
    hub = await hub_factory(_no_secret_config(), config_dir=config_dir, integrations=integrations)
    await _assert_failed_closed(hub, hub_client, "at least 32 bytes")


async def test_empty_environment_secret_counts_as_unset(
    hub_factory, integrations, tmp_path, monkeypatch
):
    monkeypatch.setenv("JWT_SECRET", "")
    config_dir = tmp_path / "config"
    hub = await hub_factory(_no_secret_config(), config_dir=config_dir, integrations=integrations)
    assert hub.integration_state("auth") == "running"
    assert (config_dir / SECRET_FILE).is_file()


async def _agent_status(hub, hub_client, token: str) -> int:
    client = await hub_client(hub)
    async with client.put(
        "/api/test/agent/wifi", headers={"Authorization": f"Bearer {token}"}
    ) as response:
        return response.status


async def test_agent_token_from_the_environment(hub_factory, integrations, hub_client, monkeypatch):
    monkeypatch.setenv("AGENT_TOKEN", "agent-token-from-the-environment")
    hub = await hub_factory(
        hub_config({"jwt_secret": SECRET, "password_hashing": FAST_HASHING}),
        integrations=integrations,
    )
    assert await _agent_status(hub, hub_client, "agent-token-from-the-environment") == 200


async def test_empty_yaml_agent_token_disables_it_despite_the_environment(
    hub_factory, integrations, hub_client, monkeypatch
):
    monkeypatch.setenv("AGENT_TOKEN", "agent-token-from-the-environment")
    hub = await hub_factory(
        hub_config({"jwt_secret": SECRET, "agent_token": ""}), integrations=integrations
    )
    assert await _agent_status(hub, hub_client, "agent-token-from-the-environment") == 401


async def test_weak_agent_tokens_fail_the_integration(
    hub_factory, integrations, hub_client, monkeypatch
):
    hub = await hub_factory(
        hub_config({"jwt_secret": SECRET, "agent_token": "short"}), integrations=integrations
    )
    assert hub.integration_state("auth") == "failed"
    assert "auth.agent_token" in hub.integrations["auth"].error
    monkeypatch.setenv("AGENT_TOKEN", "has spaces in the agent token")
    hub = await hub_factory(hub_config({"jwt_secret": SECRET}), integrations=integrations)
    await _assert_failed_closed(hub, hub_client, "printable ASCII without spaces")
