"""Token management against the gateway double and a real SQLite file.

A settable clock drives expiry so "five minutes before expiry" is tested to the
millisecond without waiting; everything else (HTTP, database) is real.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from yarl import URL

from plugins.iot_gateway.config import GatewaySettings
from plugins.iot_gateway.errors import GatewayAuthFailed, TokenStoreFailed
from plugins.iot_gateway.gateway import Gateway
from plugins.iot_gateway.token_api import TokenApi
from plugins.iot_gateway.token_manager import TokenManager
from plugins.iot_gateway.token_store import TokenPair, TokenStore
from plugins.iot_gateway.upstream import UpstreamClient
from tests.iot_gateway.gateway_double import APP_ID, APP_SECRET, read_token_row, wait_until

START_MS = 1_700_000_000_000
VALUES = "/codes/values"


class Clock:
    def __init__(self) -> None:
        self.now = START_MS

    def __call__(self) -> int:
        return self.now


class FlakyStore(TokenStore):
    """A real store whose next ``fail_saves`` saves raise, as a full disk would."""

    def __init__(self, engine) -> None:
        super().__init__(engine)
        self.fail_saves = 0

    async def save(self, pair: TokenPair) -> None:
        if self.fail_saves:
            self.fail_saves -= 1
            raise OSError("disk full")
        await super().save(pair)


class Parts:
    def __init__(self, gateway, database, clock, *, secret=APP_SECRET, **overrides) -> None:
        self.settings = GatewaySettings(
            base_url=URL(gateway.base_url), app_id=APP_ID, app_secret=secret, **overrides
        )
        self.client = UpstreamClient(self.settings)
        self.store = FlakyStore(database.require_engine())
        self.tokens = TokenManager(
            TokenApi(self.client, APP_ID, secret), self.store, clock_ms=clock
        )
        self.gateway = Gateway(self.client, self.tokens)

    async def values(self) -> int:
        return (await self.gateway.call("codes_values", body=b"{}")).status


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
async def parts(gateway, database, clock) -> AsyncIterator[Callable[..., Awaitable[Parts]]]:
    made: list[Parts] = []

    async def make(**options) -> Parts:
        built = Parts(gateway, database, clock, **options)
        await built.client.start()
        made.append(built)
        return built

    yield make
    for built in made:
        await built.tokens.stop()
        await built.client.close()


def db_file(database) -> str:
    return database.url.split("///", 1)[1]


async def test_first_call_logs_in_and_saves_the_pair_before_using_it(
    parts, gateway, database
) -> None:
    p = await parts()
    saved_when_used: list[bool] = []

    def on_authenticated(token: str) -> None:
        row = read_token_row(db_file(database))
        assert row is not None
        saved_when_used.append(row[0] == token)

    gateway.on_authenticated = on_authenticated

    assert await p.values() == 200

    assert gateway.logins == 1 and gateway.refreshes == 0
    assert saved_when_used == [True]
    issued = gateway.issued[0]
    assert read_token_row(db_file(database)) == (
        issued["accessToken"],
        issued["refreshToken"],
        START_MS + 3600 * 1000,
        START_MS,
    )


async def test_a_valid_token_is_reused(parts, gateway, clock):
    p = await parts()
    for _ in range(5):
        assert await p.values() == 200
        clock.now += 60_000
    assert gateway.logins == 1 and gateway.refresh_requests == 0
    assert {item.token for item in gateway.received} == {gateway.issued[0]["accessToken"]}


async def test_refresh_starts_five_minutes_before_expiry(parts, gateway, clock, database):
    p = await parts()
    await p.values()
    expires_at = START_MS + 3600 * 1000

    clock.now = expires_at - 5 * 60 * 1000 - 1
    await p.values()
    assert gateway.refresh_requests == 0

    clock.now += 1
    await p.values()
    assert gateway.refreshes == 1 and gateway.logins == 1
    second = gateway.issued[1]
    assert gateway.received[-1].token == second["accessToken"]
    row = read_token_row(db_file(database))
    assert row is not None
    assert row[:2] == (
        second["accessToken"],
        second["refreshToken"],
    )


async def test_short_lived_tokens_refresh_at_half_their_lifetime(parts, gateway, clock):
    gateway.expires_in = 60
    p = await parts()
    await p.values()

    clock.now = START_MS + 29_999
    await p.values()
    assert gateway.refresh_requests == 0

    clock.now = START_MS + 30_000
    await p.values()
    assert gateway.refreshes == 1


async def test_a_hundred_concurrent_calls_on_an_expiring_token_cause_one_refresh(
    parts, gateway, clock
):
    p = await parts()
    await p.values()
    clock.now = START_MS + 3600 * 1000 - 60_000
    gateway.hold_refresh = asyncio.Event()

    calls = [asyncio.create_task(p.values()) for _ in range(100)]
    await wait_until(lambda: p.tokens.waiting == 100)
    await asyncio.wait_for(gateway.refresh_arrived.wait(), 5)
    assert gateway.refresh_requests == 1
    gateway.hold_refresh.set()
    statuses = await asyncio.wait_for(asyncio.gather(*calls), 10)

    assert statuses == [200] * 100
    assert gateway.refresh_requests == 1 and gateway.refreshes == 1
    new_token = gateway.issued[1]["accessToken"]
    assert [item.token for item in gateway.received[1:]] == [new_token] * 100


async def test_a_401_mid_life_forces_one_refresh_and_one_retry(parts, gateway):
    p = await parts()
    await p.values()
    gateway.revoke_access_tokens()

    assert await p.values() == 200

    assert gateway.refreshes == 1
    first, second = gateway.issued[0]["accessToken"], gateway.issued[1]["accessToken"]
    assert [item.token for item in gateway.received] == [first, first, second]


async def test_a_burst_of_401s_costs_one_refresh(parts, gateway):
    p = await parts()
    await p.values()
    gateway.revoke_access_tokens()

    statuses = await asyncio.gather(*(p.values() for _ in range(50)))

    assert statuses == [200] * 50
    assert gateway.refresh_requests == 1


async def test_a_second_401_is_reported_as_an_auth_failure_not_retried_again(parts, gateway):
    p = await parts()
    await p.values()
    gateway.reject_all_tokens = True

    with pytest.raises(GatewayAuthFailed) as raised:
        await p.values()

    assert raised.value.status == 502
    assert gateway.refresh_requests == 1
    assert gateway.paths_received().count(VALUES) == 3  # the earlier call, this one, one retry


async def test_a_rejected_refresh_token_falls_back_to_the_app_credentials(parts, gateway, clock):
    p = await parts()
    await p.values()
    gateway.refresh_tokens.clear()
    clock.now = START_MS + 3600 * 1000 - 1000

    assert await p.values() == 200

    assert gateway.refresh_requests == 1 and gateway.refreshes == 0
    assert gateway.logins == 2
    assert gateway.received[-1].token == gateway.issued[1]["accessToken"]


async def test_without_a_token_or_an_app_secret_no_call_is_made(parts, gateway):
    p = await parts(secret=None)

    with pytest.raises(GatewayAuthFailed, match="app_secret"):
        await p.values()

    assert gateway.logins == 0 and gateway.received == []


async def test_a_restarted_manager_uses_the_saved_pair(parts, gateway):
    first = await parts()
    await first.values()
    second = await parts()

    assert await second.values() == 200

    assert gateway.logins == 1
    assert gateway.received[-1].token == gateway.issued[0]["accessToken"]


async def test_a_saved_refresh_token_survives_a_restart_and_is_used(parts, gateway, clock):
    first = await parts()
    await first.values()
    clock.now = START_MS + 3600 * 1000 - 1000
    second = await parts()

    assert await second.values() == 200

    assert gateway.logins == 1 and gateway.refreshes == 1


async def test_failed_refresh_keeps_using_a_token_that_has_not_expired(
    parts, gateway, clock, caplog
):
    p = await parts()
    await p.values()
    gateway.refresh_failure_status = 500
    clock.now = START_MS + 3600 * 1000 - 60_000

    with caplog.at_level(logging.WARNING):
        assert await p.values() == 200

    assert gateway.received[-1].token == gateway.issued[0]["accessToken"]
    assert "current token is used" in caplog.text


async def test_failed_refresh_of_an_expired_token_is_an_error(parts, gateway, clock):
    p = await parts()
    await p.values()
    gateway.refresh_failure_status = 503
    clock.now = START_MS + 3600 * 1000

    with pytest.raises(GatewayAuthFailed, match="503"):
        await p.values()
    assert gateway.paths_received().count(VALUES) == 1


async def test_a_pair_that_could_not_be_saved_is_not_used_and_not_lost(parts, gateway, database):
    p = await parts()
    p.store.fail_saves = 1

    with pytest.raises(TokenStoreFailed) as raised:
        await p.values()
    assert raised.value.status == 503
    assert gateway.logins == 1 and gateway.received == []
    assert read_token_row(db_file(database)) is None

    assert await p.values() == 200
    assert gateway.logins == 1
    row = read_token_row(db_file(database))
    assert row is not None
    assert row[0] == gateway.issued[0]["accessToken"]


async def test_a_caller_leaving_does_not_abort_the_refresh(parts, gateway, clock, database):
    p = await parts()
    await p.values()
    clock.now = START_MS + 3600 * 1000 - 1000
    gateway.hold_refresh = asyncio.Event()
    caller = asyncio.create_task(p.values())
    await asyncio.wait_for(gateway.refresh_arrived.wait(), 5)

    caller.cancel()
    gateway.hold_refresh.set()
    await p.tokens.stop()

    assert gateway.refreshes == 1
    row = read_token_row(db_file(database))
    assert row is not None
    assert row[0] == gateway.issued[1]["accessToken"]


async def test_tokens_and_the_app_secret_never_reach_the_log(parts, gateway, clock, caplog):
    caplog.set_level(logging.DEBUG)
    # The hub keeps aiosqlite (which logs bound SQL values) at INFO; these parts skip the hub.
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
    p = await parts()
    await p.values()
    gateway.revoke_access_tokens()
    await p.values()
    clock.now = START_MS + 3600 * 1000 - 1000
    await p.values()
    gateway.refresh_tokens.clear()
    clock.now += 3600 * 1000
    await p.values()
    gateway.refresh_failure_status = 500
    clock.now += 3600 * 1000 - 1000
    await p.values()

    assert gateway.logins == 2 and gateway.refreshes == 2
    text = caplog.text + repr(p.tokens.cached) + repr(p.settings)
    for secret in gateway.all_secrets():
        assert secret not in text
