"""Sign-in routes: login, refresh, logout, me, and the one-time onboarding of the owner.

A failed login answers the same 401 whether the username exists, the password is wrong,
the stored hash is malformed or the user is deactivated, and costs the same time.
"""

from __future__ import annotations

import voluptuous as vol
from aiohttp import web

from hub.auth import PUBLIC, requires
from hub.http.errors import ApiError
from hub.http.hosts import require_allowed_host
from hub.http.json import json_response, read_json
from hub.registrar import Registrar

from .const import MAX_PASSWORD_CHARS, MAX_TOKEN_CHARS, MAX_USERNAME_CHARS, ROLE_OWNER
from .errors import OnboardingClosedError
from .http_errors import store_errors
from .models import User
from .runtime import AuthRuntime
from .throttle import address_key
from .tokens import TokenError

TAGS = ("auth",)

_username = vol.All(str, vol.Length(min=1, max=MAX_USERNAME_CHARS))
_password = vol.All(str, vol.Length(min=1, max=MAX_PASSWORD_CHARS))
_opaque = vol.All(str, vol.Length(min=1, max=MAX_TOKEN_CHARS))

CREDENTIALS = vol.Schema({vol.Required("username"): _username, vol.Required("password"): _password})
REFRESH = vol.Schema({vol.Required("refresh_token"): _opaque})


def _bad_credentials() -> ApiError:
    return ApiError(401, "invalid_credentials", "wrong username or password")


async def check_password(runtime: AuthRuntime, username: str, password: str) -> User | None:
    """The user if ``password`` is theirs and they are active.

    Known or unknown, local or cloud-synced, active or not: the same hash work is done
    (``Passwords.verify_login``), so the time taken does not tell usernames apart.
    """
    record = await runtime.users.login_record(username)
    profile = await runtime.users.login_profile()
    matched = await runtime.passwords.verify_login_async(
        record.password_hash if record else None,
        record.station_password_hash if record else None,
        password,
        profile,
    )
    if record is None or not matched or not record.user.active:
        return None
    return record.user


def begin_password_attempt(runtime: AuthRuntime, request: web.Request, username: str) -> str:
    """Count a password attempt against the client's and the user's budgets, or answer
    429; the address key it returns is what ``throttle.succeeded`` takes back."""
    address = address_key(request.remote)
    wait = runtime.throttle.begin(address, username)
    if wait is not None:
        raise ApiError(
            429,
            "too_many_attempts",
            f"too many wrong passwords; try again in {wait} s",
            headers={"Retry-After": str(wait)},
        )
    return address


class LoginViews:
    """The sign-in handlers, one method each, around the auth runtime they use."""

    def __init__(self, runtime: AuthRuntime) -> None:
        self.runtime = runtime

    async def login(self, request: web.Request) -> web.Response:
        """Exchange a username and password for an access and a refresh token."""
        body = await read_json(request, CREDENTIALS)
        address = begin_password_attempt(self.runtime, request, body["username"])
        user = await check_password(self.runtime, body["username"], body["password"])
        if user is None:
            raise _bad_credentials()
        self.runtime.throttle.succeeded(address, body["username"])
        return json_response(await self.runtime.token_response(user))

    async def refresh(self, request: web.Request) -> web.Response:
        """Spend a refresh token for a new access token and a new refresh token."""
        body = await read_json(request, REFRESH)
        runtime = self.runtime
        try:
            user, refresh_token = await runtime.sessions.rotate_refresh_token(body["refresh_token"])
        except TokenError as error:
            raise ApiError(401, error.code, error.message) from None
        return json_response(
            {
                "access_token": runtime.codec.issue(user.id, user.role),
                "token_type": "Bearer",
                "expires_in": int(runtime.settings.access_token_ttl),
                "refresh_token": refresh_token,
            }
        )

    async def logout(self, request: web.Request) -> web.Response:
        """Revoke a refresh token (idempotent: an unknown token is not an error)."""
        body = await read_json(request, REFRESH)
        await self.runtime.sessions.revoke_refresh_token(body["refresh_token"])
        return web.Response(status=204)

    async def me(self, request: web.Request) -> web.Response:
        """Who the access token belongs to."""
        principal = request["principal"]
        station_role = await self.runtime.users.station_role(principal.id)
        return json_response(
            {
                "userId": principal.id,
                "username": principal.name,
                "role": principal.role,
                "stationRole": station_role,
            }
        )

    async def onboarding_status(self, _request: web.Request) -> web.Response:
        """Whether the hub still waits for its first owner."""
        return json_response({"required": await self.runtime.users.count_users() == 0})

    async def onboard(self, request: web.Request) -> web.Response:
        """Create the first owner; refused as soon as any user exists, and from a host name
        the hub does not answer to (a DNS-rebinding page must not claim a fresh hub)."""
        require_allowed_host(request)
        body = await read_json(request, CREDENTIALS)
        async with self.runtime.onboarding_lock:
            with store_errors():
                try:
                    user = await self.runtime.users.create_user(
                        body["username"],
                        ROLE_OWNER,
                        password=body["password"],
                        only_if_no_users=True,
                    )
                except OnboardingClosedError as error:
                    raise ApiError(403, "onboarding_closed", str(error)) from None
        return json_response(await self.runtime.token_response(user), status=201)


def register_login_routes(registrar: Registrar, runtime: AuthRuntime) -> None:
    views = LoginViews(runtime)
    route = registrar.http_route
    route(
        "POST", "/api/auth/login", views.login, auth=PUBLIC, tags=TAGS, request_schema=CREDENTIALS
    )
    route(
        "POST", "/api/auth/refresh", views.refresh, auth=PUBLIC, tags=TAGS, request_schema=REFRESH
    )
    route("POST", "/api/auth/logout", views.logout, auth=PUBLIC, tags=TAGS, request_schema=REFRESH)
    route("GET", "/api/auth/me", views.me, auth=requires("user"), tags=TAGS)
    route("GET", "/api/auth/onboarding", views.onboarding_status, auth=PUBLIC, tags=TAGS)
    route(
        "POST",
        "/api/auth/onboarding",
        views.onboard,
        auth=PUBLIC,
        tags=TAGS,
        request_schema=CREDENTIALS,
    )
