"""Hostile and malformed credentials, one row each, each with the exact status expected.

Every row runs against a fresh hub with the real auth integration and the fake
``station_app`` integration. Rows expecting a refusal also check that the protected
handler never ran.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from multidict import CIMultiDict

from tests.auth import station_app
from tests.auth.conftest import (
    AGENT_TOKEN,
    OMIT,
    OTHER_STATION,
    SECRET,
    Cast,
    auth_config,
    claims_for,
    hub_config,
    make_cast,
    mint,
    raw_jwt,
)

DEVICE_TOKEN = "device-token-of-esp-1-abcdefghijklmnop"
USER_ROUTE = "/api/test/user"

Headers = list[tuple[str, str]]


def bearer(token: str) -> Headers:
    return [("Authorization", f"Bearer {token}")]


def as_member(**claims: Any) -> Callable[[Cast], Headers]:
    """The member's token with ``claims`` changed; callables are evaluated at request
    time, so times stay relative to the request however late the row runs."""

    def headers(cast: Cast) -> Headers:
        resolved = {name: value() if callable(value) else value for name, value in claims.items()}
        return bearer(mint(claims_for(cast.member, **resolved)))

    return headers


def now() -> int:
    return int(time.time())


@dataclass(frozen=True)
class Case:
    id: str
    headers: Callable[[Cast], Headers]
    status: int
    path: str = USER_ROUTE
    method: str = "GET"
    prepare: Callable[[Cast], Awaitable[Any]] | None = None
    auth: dict[str, Any] = field(default_factory=dict)
    core: dict[str, Any] = field(default_factory=dict)
    # A part of the error message, where the status alone could hide the wrong reason.
    reason: str | None = None
    # Send the same request before ``prepare`` and expect this status: proves the change
    # applies at once even when the caches are warm.
    before: int | None = None


async def deactivate_member(cast: Cast) -> None:
    await cast.store.update_user(cast.member.id, active=False)


async def delete_member(cast: Cast) -> None:
    await cast.store.delete_user(cast.member.id)


async def register_device(cast: Cast) -> None:
    digest = hashlib.sha256(DEVICE_TOKEN.encode()).hexdigest()
    await cast.hub.devices.expect_device("esp-1", token_digest=digest)


async def revoked_api_token(cast: Cast) -> None:
    record, secret = await cast.sessions.create_api_token(cast.member.id, "script")
    await cast.sessions.revoke_api_token(cast.member.id, record.id)
    cast.extra["api_token"] = secret


CASES = [
    # -- the baseline, so every refusal below is a refusal of the change it makes --
    Case("valid-token", as_member(), 200),
    Case(
        "lowercase-bearer-scheme", lambda c: [("Authorization", f"bearer {c.token(c.member)}")], 200
    ),
    # -- algorithms --
    Case(
        "alg-none-unsigned",
        lambda c: bearer(raw_jwt({"alg": "none", "typ": "JWT"}, claims_for(c.member))),
        401,
    ),
    Case(
        "alg-none-uppercase",
        lambda c: bearer(raw_jwt({"alg": "NONE", "typ": "JWT"}, claims_for(c.member))),
        401,
    ),
    Case(
        "alg-hs512-right-secret",
        lambda c: bearer(mint(claims_for(c.member), algorithm="HS512")),
        401,
    ),
    Case(
        "alg-hs384-right-secret",
        lambda c: bearer(mint(claims_for(c.member), algorithm="HS384")),
        401,
    ),
    Case(
        "alg-rs256-header-with-hmac-signature",
        lambda c: bearer(_relabelled(mint(claims_for(c.member)), "RS256")),
        401,
    ),
    Case(
        "wrong-secret",
        lambda c: bearer(
            mint(claims_for(c.member), secret="another-secret-of-enough-length-0123456789")
        ),
        401,
    ),
    Case("tampered-payload", lambda c: bearer(_tampered(c)), 401),
    # -- expiry --
    Case("missing-exp", as_member(exp=OMIT), 401),
    Case(
        "past-exp",
        as_member(iat=lambda: now() - 3600, exp=lambda: now() - 60),
        401,
        reason="expired",
    ),
    Case("exp-within-leeway", as_member(iat=lambda: now() - 600, exp=lambda: now() - 2), 200),
    Case("string-exp", as_member(exp=lambda: str(now() + 600)), 401, reason="must be a number"),
    Case("boolean-exp", as_member(exp=True), 401, reason="must be a number"),
    Case("huge-exp", as_member(exp=2**62), 401, reason="lifetime"),
    Case("exp-lifetime-beyond-maximum", as_member(exp=lambda: now() + 8 * 86400), 401),
    Case(
        "infinite-exp",
        lambda c: bearer(
            _signed_raw(
                b'{"userId":"%s","role":"user","iat":%d,"exp":1e400}'
                % (c.member.id.encode(), now())
            )
        ),
        401,
    ),
    Case("exp-before-iat", as_member(iat=now, exp=lambda: now() - 1), 401, reason="lifetime"),
    # -- issued-at / not-before --
    Case("missing-iat", as_member(iat=OMIT), 401),
    Case(
        "future-iat",
        as_member(iat=lambda: now() + 3600, exp=lambda: now() + 4000),
        401,
        reason="not valid yet",
    ),
    Case("string-iat", as_member(iat=lambda: str(now())), 401),
    Case("future-nbf", as_member(nbf=lambda: now() + 3600), 401, reason="not valid yet"),
    Case("string-nbf", as_member(nbf=lambda: str(now() - 10)), 401),
    # -- identity claims --
    Case("missing-userId", as_member(userId=OMIT), 401),
    Case("integer-userId", as_member(userId=12345), 401),
    Case("empty-userId", as_member(userId=""), 401),
    Case("unknown-userId", as_member(userId="0" * 32), 401),
    Case("missing-role", as_member(role=OMIT), 401),
    Case("unknown-role", as_member(role="superuser"), 401),
    Case("list-role", as_member(role=["admin"]), 401),
    Case("payload-not-an-object", lambda c: bearer(_signed_raw(b'["userId"]')), 401),
    # -- users that no longer may --
    Case(
        "deactivated-user",
        as_member(),
        401,
        reason="deactivated",
        prepare=deactivate_member,
        before=200,
    ),
    Case(
        "deleted-user",
        as_member(),
        401,
        reason="does not exist",
        prepare=delete_member,
        before=200,
    ),
    Case("token-of-user-created-inactive", lambda c: bearer(c.token(c.inactive)), 401),
    Case(
        "token-issued-before-password-change",
        as_member(iat=lambda: now() - 5),
        401,
        prepare=lambda c: c.store.set_password(c.member.id, "a new password 123"),
        before=200,
    ),
    # -- size and shape of the header --
    Case("token-over-4096-chars", lambda c: bearer("e" * 5000), 401),
    Case("header-over-8k", lambda c: bearer("e" * 9000), 400),
    Case("no-authorization-header", lambda c: [], 401),
    Case("bearer-without-token", lambda c: [("Authorization", "Bearer")], 401),
    Case("bearer-with-space-only", lambda c: [("Authorization", "Bearer ")], 401),
    Case("basic-scheme", lambda c: [("Authorization", "Basic b2xpdmlhOnB3")], 401),
    Case("token-without-scheme", lambda c: [("Authorization", c.token(c.member))], 401),
    Case("double-space", lambda c: [("Authorization", f"Bearer  {c.token(c.member)}")], 401),
    Case(
        "token-with-inner-space",
        lambda c: [("Authorization", f"Bearer {c.token(c.member)} x")],
        401,
    ),
    Case("two-segments", lambda c: bearer("abc.def"), 401),
    Case("garbage-segments", lambda c: bearer("a.b.c"), 401),
    Case("non-json-payload", lambda c: bearer(_signed_raw(b"not json")), 401),
    Case(
        "two-authorization-headers",
        lambda c: bearer(c.token(c.member)) + bearer(c.token(c.owner)),
        400,
    ),
    # -- API tokens --
    Case("unknown-api-token", lambda c: bearer("shub_" + "A" * 43), 401),
    Case(
        "revoked-api-token",
        lambda c: bearer(c.extra["api_token"]),
        401,
        prepare=revoked_api_token,
    ),
    # -- HEAD and OPTIONS cannot bypass --
    Case("head-without-token", lambda c: [], 401, method="HEAD"),
    Case("head-with-token", as_member(), 200, method="HEAD"),
    Case("options-without-origin", lambda c: [], 403, method="OPTIONS"),
    Case(
        "options-from-unknown-origin",
        lambda c: [("Origin", "http://evil.example"), ("Access-Control-Request-Method", "GET")],
        403,
        method="OPTIONS",
        core={"http": {"cors_origins": ["http://portal.example"]}},
    ),
    Case(
        "options-preflight-does-not-reach-handler",
        lambda c: [
            ("Origin", "http://portal.example"),
            ("Access-Control-Request-Method", "DELETE"),
        ],
        204,
        method="OPTIONS",
        core={"http": {"cors_origins": ["http://portal.example"]}},
    ),
    Case("delete-without-token", lambda c: [], 401, method="DELETE"),
    # -- global roles --
    Case("user-on-admin-route", as_member(), 403, path="/api/test/admin"),
    Case("admin-on-admin-route", lambda c: bearer(c.token(c.admin)), 200, path="/api/test/admin"),
    Case(
        "forged-role-claim-does-not-elevate",
        as_member(role="admin"),
        403,
        path="/api/test/admin",
    ),
    # -- station roles --
    Case("member-on-station-route", as_member(), 200, path="/api/test/station"),
    Case(
        "outsider-on-station-route",
        lambda c: bearer(c.token(c.outsider)),
        403,
        path="/api/test/station",
    ),
    Case(
        "member-on-owner-only-route",
        as_member(),
        403,
        path="/api/test/station/invite",
        method="POST",
    ),
    Case(
        "station-owner-on-owner-only-route",
        lambda c: bearer(c.token(c.owner)),
        200,
        path="/api/test/station/invite",
        method="POST",
    ),
    Case(
        "cross-station-admin",
        lambda c: bearer(c.token(c.admin)),
        403,
        path=f"/api/test/stations/{OTHER_STATION}/settings",
    ),
    Case(
        "own-other-station-admin",
        lambda c: bearer(c.token(c.outsider)),
        200,
        path=f"/api/test/stations/{OTHER_STATION}/settings",
    ),
    Case(
        "unknown-station",
        lambda c: bearer(c.token(c.owner)),
        403,
        path="/api/test/stations/nowhere/settings",
    ),
    Case(
        "removed-member",
        as_member(),
        403,
        path="/api/test/station",
        prepare=lambda c: c.store.remove_member(c.member.id),
        before=200,
    ),
    Case(
        "global-admin-without-station-role",
        lambda c: bearer(c.token(c.admin)),
        403,
        path="/api/test/admin-station",
        prepare=lambda c: c.store.remove_member(c.admin.id),
        before=200,
    ),
    # -- device tokens --
    Case(
        "device-token",
        lambda c: [("X-Device-Token", DEVICE_TOKEN)],
        200,
        path="/api/test/device/events",
        method="POST",
        prepare=register_device,
    ),
    Case(
        "device-token-fallback-header",
        lambda c: [("Device-Token", DEVICE_TOKEN)],
        200,
        path="/api/test/device/events",
        method="POST",
        prepare=register_device,
    ),
    Case(
        "device-both-headers-same-value",
        lambda c: [("X-Device-Token", DEVICE_TOKEN), ("Device-Token", DEVICE_TOKEN)],
        200,
        path="/api/test/device/events",
        method="POST",
        prepare=register_device,
    ),
    Case(
        "device-both-headers-different",
        lambda c: [("X-Device-Token", DEVICE_TOKEN), ("Device-Token", "something-else")],
        400,
        path="/api/test/device/events",
        method="POST",
        prepare=register_device,
    ),
    Case(
        "device-header-repeated-with-different-values",
        lambda c: [("X-Device-Token", DEVICE_TOKEN), ("X-Device-Token", "x")],
        400,
        path="/api/test/device/events",
        method="POST",
        prepare=register_device,
    ),
    Case(
        "device-token-missing",
        lambda c: [],
        401,
        path="/api/test/device/events",
        method="POST",
        prepare=register_device,
    ),
    Case(
        "device-token-sql-injection",
        lambda c: [("X-Device-Token", "' OR '1'='1' --")],
        401,
        path="/api/test/device/events",
        method="POST",
        prepare=register_device,
    ),
    Case(
        "device-token-digest-presented-as-token",
        lambda c: [("X-Device-Token", hashlib.sha256(DEVICE_TOKEN.encode()).hexdigest())],
        401,
        path="/api/test/device/events",
        method="POST",
        prepare=register_device,
    ),
    Case(
        "device-token-with-wildcard",
        lambda c: [("X-Device-Token", "%")],
        401,
        path="/api/test/device/events",
        method="POST",
        prepare=register_device,
    ),
    Case(
        "device-token-oversized",
        lambda c: [("X-Device-Token", DEVICE_TOKEN + "x" * 2000)],
        401,
        path="/api/test/device/events",
        method="POST",
        prepare=register_device,
    ),
    Case(
        "user-jwt-on-device-route",
        as_member(),
        401,
        path="/api/test/device/events",
        method="POST",
        prepare=register_device,
    ),
    Case(
        "device-on-route-requiring-a-role",
        lambda c: [("X-Device-Token", DEVICE_TOKEN)],
        403,
        path="/api/test/device/admin",
        prepare=register_device,
    ),
    # -- agent token --
    Case(
        "agent-token", lambda c: bearer(AGENT_TOKEN), 200, path="/api/test/agent/wifi", method="PUT"
    ),
    Case(
        "agent-token-wrong",
        lambda c: bearer(AGENT_TOKEN + "x"),
        401,
        path="/api/test/agent/wifi",
        method="PUT",
    ),
    Case(
        "agent-token-prefix",
        lambda c: bearer(AGENT_TOKEN[:-1]),
        401,
        path="/api/test/agent/wifi",
        method="PUT",
    ),
    Case(
        "agent-token-empty-configured-matches-nothing",
        lambda c: [("Authorization", "Bearer ")],
        401,
        path="/api/test/agent/wifi",
        method="PUT",
        auth={"agent_token": ""},
    ),
    Case(
        "agent-token-empty-configured-refuses-anything",
        lambda c: bearer("x"),
        401,
        path="/api/test/agent/wifi",
        method="PUT",
        auth={"agent_token": ""},
    ),
    Case(
        "agent-token-unset",
        lambda c: bearer(AGENT_TOKEN),
        401,
        path="/api/test/agent/wifi",
        method="PUT",
        auth={"agent_token": None},
    ),
    Case("user-jwt-on-agent-route", as_member(), 401, path="/api/test/agent/wifi", method="PUT"),
    Case("agent-token-on-user-route", lambda c: bearer(AGENT_TOKEN), 401),
]


def _relabelled(token: str, algorithm: str) -> str:
    _header, payload, signature = token.split(".")
    new_header = base64.urlsafe_b64encode(
        json.dumps({"alg": algorithm, "typ": "JWT"}).encode()
    ).rstrip(b"=")
    return ".".join((new_header.decode(), payload, signature))


def _signed_raw(payload: bytes) -> str:
    """HS256 over an arbitrary payload, with the right secret."""

    def part(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    signing_input = part(b'{"alg":"HS256","typ":"JWT"}') + b"." + part(payload)
    signature = hmac.new(SECRET.encode(), signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + part(signature)).decode()


def _tampered(cast: Cast) -> str:
    header, _payload, signature = cast.token(cast.member).split(".")
    forged = (
        base64.urlsafe_b64encode(json.dumps(claims_for(cast.owner)).encode()).rstrip(b"=").decode()
    )
    return ".".join((header, forged, signature))


def test_table_is_large_enough_and_ids_are_unique():
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))
    assert len([case for case in CASES if case.status >= 400]) >= 30


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
async def test_hostile_input(case: Case, hub_factory, hub_client, integrations):
    auth = auth_config(**case.auth)
    if auth.get("agent_token") is None:
        auth.pop("agent_token")
    hub = await hub_factory(hub_config(auth, **case.core), integrations=integrations)
    cast = await make_cast(hub)
    client = await hub_client(hub)
    headers = None
    if case.before is not None:
        headers = CIMultiDict(case.headers(cast))
        async with client.request(case.method, case.path, headers=headers) as response:
            assert response.status == case.before
    if case.prepare is not None:
        await case.prepare(cast)
    if headers is None:
        headers = CIMultiDict(case.headers(cast))
    handler_calls = station_app.CALLS
    calls_before = list(handler_calls)
    async with client.request(case.method, case.path, headers=headers) as response:
        body = await response.read()
        assert response.status == case.status, body
    if case.status >= 400:
        assert handler_calls == calls_before, "a refused request reached the handler"
        if case.reason is not None:
            assert case.reason in body.decode()
        if case.method != "HEAD" and case.id != "header-over-8k":
            assert b'"error"' in body
    elif case.method == "OPTIONS":
        assert handler_calls == calls_before, "a preflight reached the handler"
        assert response.headers["Access-Control-Allow-Origin"] == "http://portal.example"
    else:
        assert handler_calls[-1][0] == case.method
