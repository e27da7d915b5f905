"""The auth items of issue #11 §6, each against a real hub on loopback.

- a signed token whose claims hold a lone surrogate is a 401 that says so, never a 500;
- failed logins do the same hash work (and take the same time) for local, cloud-synced
  (any bcrypt cost) and unknown users;
- usernames are unique ignoring case, including the names an older database holds;
- a guesser locks out only their own address, never the owner on another one.
"""

from __future__ import annotations

import logging
import statistics
import time
from pathlib import Path
from typing import Any

import aiohttp
import bcrypt
import pytest
import sqlalchemy as sa
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.script import ScriptDirectory

from hub.testing.pytest_plugin import write_config
from plugins.auth import ConflictError, get_user_store, passwords
from plugins.auth.const import MIGRATIONS
from tests.auth.conftest import PASSWORD, auth_config, claims_for, hub_config, make_cast, mint
from tests.auth.live_sockets import WAIT


async def post_json(client: aiohttp.ClientSession, path: str, body: Any, token: str | None = None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with client.post(path, json=body, headers=headers) as response:
        return response.status, await response.json()


# ---- lone surrogates in a signed token ---------------------------------------------------


async def test_a_signed_token_with_a_lone_surrogate_is_a_clear_401(auth_hub, cast, hub_client):
    client = await hub_client(auth_hub)
    for user_id in ("\ud800", f"{cast.member.id}\udfff", "a\x00b"):
        token = mint(claims_for(cast.member, userId=user_id))
        async with client.get(
            "/api/auth/me", headers={"Authorization": f"Bearer {token}"}
        ) as response:
            body = await response.json()
            assert response.status == 401, body
        assert "userId" in body["error"]["message"]
        assert "surrogate" in body["error"]["message"]

        async with client.ws_connect("/api/websocket") as socket:
            await socket.receive_json(timeout=WAIT)
            await socket.send_json({"type": "auth", "access_token": token})
            answer = await socket.receive_json(timeout=WAIT)
        assert answer["type"] == "auth_invalid" and "surrogate" in answer["message"]


# ---- failed logins cost the same --------------------------------------------------------


def _bcrypt(password: str, cost: int) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=cost)).decode()


@pytest.fixture
async def mixed_hub(hub_factory, integrations):
    """Local users (argon2), cloud users with bcrypt at two costs, generous throttling."""
    config = auth_config(login_throttle={"max_failures_per_user": 100, "max_failures_per_ip": 500})
    hub = await hub_factory(hub_config(config), integrations=integrations)
    cast = await make_cast(hub, password=PASSWORD)
    store = get_user_store(hub)
    await store.upsert_cloud_user(
        "c-cora", username="cora", station_password_hash=_bcrypt(PASSWORD, 4)
    )
    await store.upsert_cloud_user(
        "c-carl", username="carl", station_password_hash=_bcrypt(PASSWORD, 6)
    )
    return hub, cast


async def test_every_failed_login_runs_the_same_hash_work(
    mixed_hub, hub_client, monkeypatch
) -> None:
    """Counted at the hash functions: one argon2 check at the hub's parameters and bcrypt
    work of 2^6 (the costliest stored cloud hash) for every name, known or not."""
    hub, _cast = mixed_hub
    client = await hub_client(hub)
    calls: list[tuple[str, Any]] = []
    check_bcrypt = passwords._check_bcrypt
    verify_argon2 = passwords.Passwords._verify_argon2

    def spy_bcrypt(password: str, stored: bytes) -> bool:
        calls.append(("bcrypt", int(stored[4:6])))
        return check_bcrypt(password, stored)

    def spy_argon2(self: passwords.Passwords, stored: str, password: str) -> bool:
        calls.append(("argon2", stored.split("$")[3]))
        return verify_argon2(self, stored, password)

    monkeypatch.setattr(passwords, "_check_bcrypt", spy_bcrypt)
    monkeypatch.setattr(passwords.Passwords, "_verify_argon2", spy_argon2)

    work: dict[str, tuple[int, list[Any]]] = {}
    for username in ("mia", "ina", "cora", "carl", "nobody"):  # local, inactive, cloud, unknown
        calls.clear()
        status, _ = await post_json(
            client, "/api/auth/login", {"username": username, "password": "wrong guess!"}
        )
        assert status == 401
        bcrypt_work = sum(2**cost for kind, cost in calls if kind == "bcrypt")
        work[username] = (bcrypt_work, sorted(p for kind, p in calls if kind == "argon2"))

    assert len(set(map(repr, work.values()))) == 1, work
    assert work["nobody"][0] == 2**6
    assert len(work["nobody"][1]) == 1


async def test_failed_logins_take_the_same_time_for_cloud_and_unknown_users(
    hub_factory, integrations, hub_client
) -> None:
    """Timed: a cloud user with a bcrypt cost-10 hash (tens of ms) against a name that
    does not exist. Medians of interleaved tries, with a generous bound."""
    config = auth_config(login_throttle={"max_failures_per_user": 100, "max_failures_per_ip": 500})
    hub = await hub_factory(hub_config(config), integrations=integrations)
    await make_cast(hub, password=PASSWORD)
    await get_user_store(hub).upsert_cloud_user(
        "c-carl", username="carl", station_password_hash=_bcrypt(PASSWORD, 10)
    )
    client = await hub_client(hub)

    async def attempt(username: str) -> float:
        started = time.perf_counter()
        status, _ = await post_json(
            client, "/api/auth/login", {"username": username, "password": "wrong guess!"}
        )
        assert status == 401
        return time.perf_counter() - started

    await attempt("nobody")  # warm-up: the dummy hashes are made on first use
    timings: dict[str, list[float]] = {"carl": [], "nobody": []}
    for _ in range(7):
        for username in timings:
            timings[username].append(await attempt(username))
    ratio = statistics.median(timings["carl"]) / statistics.median(timings["nobody"])
    assert 0.5 < ratio < 2.0, timings


# ---- usernames unique ignoring case -----------------------------------------------------


async def test_usernames_are_unique_ignoring_case(auth_hub, cast, hub_client):
    client = await hub_client(auth_hub)
    owner = cast.token(cast.owner)

    status, body = await post_json(
        client, "/api/auth/users", {"username": "OLIVIA", "password": PASSWORD}, owner
    )
    assert status == 409, body
    assert "'olivia'" in body["error"]["message"] and "ignoring case" in body["error"]["message"]

    async with client.patch(
        f"/api/auth/users/{cast.member.id}",
        json={"username": "Adam"},
        headers={"Authorization": f"Bearer {owner}"},
    ) as response:
        assert response.status == 409
    # Renaming yourself to another case of your own name is fine.
    async with client.patch(
        f"/api/auth/users/{cast.member.id}",
        json={"username": "Mia"},
        headers={"Authorization": f"Bearer {owner}"},
    ) as response:
        assert response.status == 200, await response.text()
    with pytest.raises(ConflictError):
        await cast.store.upsert_cloud_user("c-olivia", username="Olivia")
    with pytest.raises(ConflictError):
        await cast.store.create_user("ＯＬＩＶＩＡ", "user")  # noqa: RUF001 - full-width on purpose
    # 40 characters, but 720 once normalised (U+FDFA is 18 letters): a clear 400, not a
    # database error on PostgreSQL's unique index.
    status, body = await post_json(
        client, "/api/auth/users", {"username": "\ufdfa" * 40, "password": PASSWORD}, owner
    )
    assert status == 400 and "normalised" in body["error"]["message"]


async def test_login_finds_the_user_whatever_the_case(hub_factory, integrations, hub_client):
    hub = await hub_factory(hub_config(), integrations=integrations)
    cast = await make_cast(hub, password=PASSWORD)
    client = await hub_client(hub)
    status, body = await post_json(
        client, "/api/auth/login", {"username": "OLIVIA", "password": PASSWORD}
    )
    assert status == 200
    async with client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    ) as response:
        assert (await response.json())["userId"] == cast.owner.id


def _upgrade_to(connection: sa.Connection, destination: str) -> None:
    """Run the auth migrations up to ``destination`` only (an older hub's database)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    script = ScriptDirectory.from_config(config)

    def steps(revision: Any, _context: Any) -> Any:
        return script._upgrade_revs(destination, revision)

    with EnvironmentContext(config, script, fn=steps, destination_rev=destination) as environment:
        environment.configure(
            connection=connection, version_table="alembic_version_auth", render_as_batch=True
        )
        with environment.begin_transaction():
            environment.run_migrations()


async def test_the_migration_renames_names_that_collide_ignoring_case(
    hub_factory, integrations, hub_client, tmp_path: Path, caplog
):
    config_dir = tmp_path / "config"
    write_config(config_dir, hub_config())
    engine = sa.create_engine(f"sqlite:///{config_dir / 'station-hub.db'}")
    with engine.begin() as connection:
        _upgrade_to(connection, "auth_0001")
        users = sa.table(*("users",), *(sa.column(name) for name in _USER_COLUMNS))
        for number, name in enumerate(("bob", "Bob", "BOB", "bob-2", "alice")):
            connection.execute(
                sa.insert(users).values(
                    id=f"u{number}",
                    username=name,
                    role="owner" if name == "alice" else "user",
                    active=True,
                    tokens_valid_after=0.0,
                    created_at=float(number),
                    updated_at=float(number),
                )
            )
    engine.dispose()

    with caplog.at_level(logging.WARNING, logger="plugins.auth.migrations"):
        hub = await hub_factory(hub_config(), config_dir=config_dir, integrations=integrations)

    names = {user.id: user.username for user in await get_user_store(hub).list_users()}
    assert names == {"u0": "bob", "u1": "Bob-3", "u2": "BOB-4", "u3": "bob-2", "u4": "alice"}
    warnings = [record.getMessage() for record in caplog.records]
    assert any("'Bob'" in text and "'bob'" in text and "'Bob-3'" in text for text in warnings)
    with pytest.raises(ConflictError):
        await get_user_store(hub).create_user("ALICE", "user")


_USER_COLUMNS = (
    "id",
    "username",
    "role",
    "password_hash",
    "station_password_hash",
    "cloud_user_id",
    "active",
    "tokens_valid_after",
    "created_at",
    "updated_at",
)


# ---- lockout cannot lock the owner out ---------------------------------------------------


async def test_a_guesser_locks_out_only_their_own_address(hub_factory, integrations):
    config = auth_config(login_throttle={"max_failures_per_user": 3, "max_failures_per_ip": 6})
    hub = await hub_factory(hub_config(config), integrations=integrations)
    await make_cast(hub, password=PASSWORD)
    # The guesser connects from 127.0.0.2, the owner from 127.0.0.1: two LAN hosts.
    guesser = aiohttp.ClientSession(
        base_url=hub.http_url, connector=aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
    )
    owner = aiohttp.ClientSession(base_url=hub.http_url)
    async with guesser, owner:
        statuses = [
            (
                await post_json(
                    guesser, "/api/auth/login", {"username": "olivia", "password": "guess!!!"}
                )
            )[0]
            for _ in range(4)
        ]
        assert statuses == [401, 401, 401, 429]
        # The owner, elsewhere, is not locked out by it.
        status, _ = await post_json(
            owner, "/api/auth/login", {"username": "olivia", "password": PASSWORD}
        )
        assert status == 200
        # The guesser's address also runs out of guesses across names.
        for name in ("adam", "mia", "otto"):
            await post_json(guesser, "/api/auth/login", {"username": name, "password": "guess!!!"})
        status, body = await post_json(
            guesser, "/api/auth/login", {"username": "ina", "password": "guess!!!"}
        )
        assert status == 429 and body["error"]["code"] == "too_many_attempts"
        # Still nothing for the owner's address.
        status, _ = await post_json(
            owner, "/api/auth/login", {"username": "olivia", "password": PASSWORD}
        )
        assert status == 200
