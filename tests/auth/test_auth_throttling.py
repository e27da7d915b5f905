"""Brute-force protection and the cost of a failed login."""

from __future__ import annotations

import asyncio

import argon2
import pytest

from plugins.auth import passwords, runtime_for
from tests.auth.conftest import PASSWORD, auth_config, hub_config, make_cast


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def login(client, username, password):
    async with client.post(
        "/api/auth/login", json={"username": username, "password": password}
    ) as response:
        return response.status, response.headers.get("Retry-After")


@pytest.fixture
async def throttled(hub_factory, integrations, hub_client):
    throttle = {"max_failures_per_user": 3, "max_failures_per_ip": 6, "window": 60}
    hub = await hub_factory(
        hub_config(auth_config(login_throttle=throttle)), integrations=integrations
    )
    await make_cast(hub, password=PASSWORD)
    clock = FakeClock()
    runtime = runtime_for(hub)
    assert runtime is not None
    runtime.throttle.clock = clock
    return await hub_client(hub), clock


async def test_failures_per_username_lead_to_429_with_retry_after(throttled):
    client, clock = throttled
    for _ in range(3):
        assert await login(client, "mia", "wrong") == (401, None)
    status, retry_after = await login(client, "mia", PASSWORD)
    assert status == 429
    assert retry_after == "60"
    # Another user from the same address is not blocked by mia's counter.
    assert (await login(client, "adam", PASSWORD))[0] == 200
    clock.now += 30
    status, retry_after = await login(client, "MIA", PASSWORD)  # case does not dodge it
    assert (status, retry_after) == (429, "30")
    clock.now += 30
    assert (await login(client, "mia", PASSWORD))[0] == 200


async def test_success_resets_the_username_counter(throttled):
    client, _clock = throttled
    for _ in range(2):
        assert (await login(client, "mia", "wrong"))[0] == 401
    assert (await login(client, "mia", PASSWORD))[0] == 200
    for _ in range(2):
        assert (await login(client, "mia", "wrong"))[0] == 401
    assert (await login(client, "mia", PASSWORD))[0] == 200


async def test_failures_per_address_across_usernames(throttled):
    client, clock = throttled
    names = ["u1", "u2", "u3", "u4", "u5", "u6"]
    for name in names:
        assert (await login(client, name, "wrong"))[0] == 401
    status, retry_after = await login(client, "adam", PASSWORD)
    assert status == 429
    assert int(retry_after) == 60
    clock.now += 61
    assert (await login(client, "adam", PASSWORD))[0] == 200


@pytest.mark.parametrize("behind_trusted_proxy", [True, False])
async def test_the_address_budget_is_per_client_behind_a_trusted_proxy(
    hub_factory, integrations, hub_client, behind_trusted_proxy
):
    throttle = {"max_failures_per_user": 100, "max_failures_per_ip": 3, "window": 60}
    http = {"trusted_proxies": ["127.0.0.1"]} if behind_trusted_proxy else {}
    hub = await hub_factory(
        hub_config(auth_config(login_throttle=throttle), http=http), integrations=integrations
    )
    await make_cast(hub, password=PASSWORD)
    client = await hub_client(hub)

    async def login_from(address: str, password: str) -> int:
        async with client.post(
            "/api/auth/login",
            json={"username": "mia", "password": password},
            headers={"X-Forwarded-For": address},
        ) as response:
            return response.status

    for attempt in range(3):
        assert await login_from("203.0.113.1", f"guess {attempt}") == 401
    assert await login_from("203.0.113.1", PASSWORD) == 429
    # Another client behind the same proxy keeps its own budget only when the proxy is
    # trusted; otherwise the header is ignored and both are the proxy's one address.
    expected = 200 if behind_trusted_proxy else 429
    assert await login_from("203.0.113.2", PASSWORD) == expected


async def test_a_parallel_burst_cannot_outrun_the_counter(throttled):
    client, _clock = throttled
    results = await asyncio.gather(*(login(client, "mia", f"guess-{n}") for n in range(10)))
    statuses = sorted(status for status, _ in results)
    assert statuses == [401] * 3 + [429] * 7


@pytest.fixture
def hash_work(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[int, ...], bool]]:
    """Every password-hash check the hub does, as (kind, cost parameters, on the loop?).

    Counting the work instead of timing it: a busy machine makes wall-clock comparisons
    flaky, while the same checks at the same parameters cost the same wherever they run.
    """
    work: list[tuple[str, tuple[int, ...], bool]] = []

    def on_event_loop() -> bool:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return False
        return True

    original_verify = argon2.PasswordHasher.verify

    def counted_verify(self, stored, password):
        parameters = argon2.extract_parameters(stored)
        cost = (parameters.time_cost, parameters.memory_cost, parameters.parallelism)
        work.append(("argon2", cost, on_event_loop()))
        return original_verify(self, stored, password)

    original_bcrypt = passwords._check_bcrypt

    def counted_bcrypt(password, stored):
        work.append(("bcrypt", (int(stored[4:6]),), on_event_loop()))
        return original_bcrypt(password, stored)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", counted_verify)
    monkeypatch.setattr(passwords, "_check_bcrypt", counted_bcrypt)
    return work


async def test_unknown_users_cost_as_much_as_known_ones(
    hub_factory, integrations, hub_client, hash_work
):
    """With production argon2 settings, a miss does the same hash work as a hit."""
    config = auth_config()
    del config["password_hashing"]  # production defaults
    hub = await hub_factory(hub_config(config), integrations=integrations)
    runtime = runtime_for(hub)
    assert runtime is not None
    await runtime.users.create_user("mia", "user", password=PASSWORD)
    client = await hub_client(hub)

    async def work_of(username: str) -> list[tuple[str, tuple[int, ...], bool]]:
        hash_work.clear()
        assert (await login(client, username, "wrong password"))[0] == 401
        return sorted(hash_work)

    known = await work_of("mia")
    assert known, "a login checks a hash"
    assert await work_of("nobody") == known
    assert await work_of("nobody-else") == known


async def test_password_checks_do_not_block_the_event_loop(
    hub_factory, integrations, hub_client, hash_work
):
    config = auth_config()
    del config["password_hashing"]
    hub = await hub_factory(hub_config(config), integrations=integrations)
    runtime = runtime_for(hub)
    assert runtime is not None
    await runtime.users.create_user("mia", "user", password=PASSWORD)
    client = await hub_client(hub)
    hash_work.clear()
    assert (await login(client, "mia", PASSWORD))[0] == 200
    assert (await login(client, "nobody", PASSWORD))[0] == 401
    # A check on the loop would stall every other request for the whole hash.
    assert hash_work
    assert not [check for check in hash_work if check[2]], hash_work


def test_address_keys_group_ipv6_by_64_prefix():
    from plugins.auth.throttle import address_key

    assert address_key("192.0.2.7") == "192.0.2.7"
    assert address_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::9")
    assert address_key("2001:db8:1:2::1") != address_key("2001:db8:1:3::1")
    assert address_key(None) == "unknown"
