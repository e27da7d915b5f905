"""Hubs with the real auth integration, a fake station app, and a cast of users."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest

from hub.core import Hub
from plugins.auth import User, UserStore, get_user_store, runtime_for
from plugins.auth.sessions import SessionStore
from tests.auth import station_app

SECRET = "test-secret-that-is-long-enough-for-hs256-and-for-hs512-0123456789"
AGENT_TOKEN = "agent-token-for-the-tests-0123456789"
PASSWORD = "correct horse battery staple"
# Cheap argon2 parameters keep the suite fast; production defaults are exercised by
# test_auth_passwords.
FAST_HASHING = {"time_cost": 1, "memory_kib": 8192, "parallelism": 1}
STATION = "station-a"
OTHER_STATION = "station-b"


def auth_config(**overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "jwt_secret": SECRET,
        "agent_token": AGENT_TOKEN,
        "password_hashing": FAST_HASHING,
    }
    config.update(overrides)
    return config


def hub_config(auth: dict[str, Any] | None = None, **core: Any) -> dict[str, Any]:
    return {
        "hub": {"station_id": STATION, "name": "Station A", **core},
        "auth": auth if auth is not None else auth_config(),
        "station_app": {},
    }


def mint(
    claims: dict[str, Any],
    *,
    secret: str | bytes = SECRET,
    algorithm: str = "HS256",
    headers: dict[str, Any] | None = None,
) -> str:
    return jwt.encode(claims, secret, algorithm=algorithm, headers=headers)


def raw_jwt(header: dict[str, Any], payload: Any, signature: bytes = b"") -> str:
    """A token assembled by hand, for shapes a JWT library refuses to produce."""

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return ".".join((part(json.dumps(header).encode()), part(body), part(signature)))


def claims_for(user: User, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {"userId": user.id, "role": user.role, "iat": now, "exp": now + 600}
    claims.update(overrides)
    return {key: value for key, value in claims.items() if value is not OMIT}


OMIT = object()


@dataclass
class Cast:
    hub: Hub
    store: UserStore
    owner: User  # global owner, owner of station-a
    admin: User  # global admin, station-a admin
    member: User  # global user, station-a member
    outsider: User  # global user, admin of station-b only
    inactive: User  # deactivated
    sessions: SessionStore
    extra: dict[str, Any] = field(default_factory=dict)

    def token(self, user: User, **overrides: Any) -> str:
        return mint(claims_for(user, **overrides))


async def make_cast(hub: Hub, *, password: str | None = None) -> Cast:
    store = get_user_store(hub)
    owner = await store.create_user("olivia", "owner", password=password)
    admin = await store.create_user("adam", "admin", password=password)
    member = await store.create_user("mia", "user", password=password)
    outsider = await store.create_user("otto", "user", password=password)
    inactive = await store.create_user("ina", "user", password=password, active=False)
    await store.set_member(admin.id, "admin")
    await store.set_member(member.id, "member")
    await store.ensure_station(OTHER_STATION, "Station B")
    await store.set_member(outsider.id, "admin", OTHER_STATION)
    runtime = runtime_for(hub)
    assert runtime is not None
    return Cast(hub, store, owner, admin, member, outsider, inactive, runtime.sessions)


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch):
    """Secrets in the test runner's environment must not leak into these hubs."""
    for name in ("JWT_SECRET", "HUB_JWT_SECRET", "AGENT_TOKEN", "HUB_AGENT_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def integrations():
    station_app.CALLS.clear()
    return {"station_app": station_app}


@pytest.fixture
async def auth_hub(hub_factory, integrations) -> Hub:
    return await hub_factory(hub_config(), integrations=integrations)


@pytest.fixture
async def cast(auth_hub) -> Cast:
    return await make_cast(auth_hub)
