"""Managing local users from the portal, and changing one's own password.

Who may do what: owners and admins manage users, but only an owner may create, promote to
or change an owner, so an admin cannot raise themselves or take over the hub. Users the
cloud mirrors (``cloudUserId`` set) are managed by the cloud's member messages and are
read-only here: a local edit would be undone at the next identity sync. The store refuses
any change that would leave no active owner.
"""

from __future__ import annotations

import voluptuous as vol
from aiohttp import web

from hub.auth import Principal, requires
from hub.http.errors import ApiError
from hub.http.json import json_response, read_json
from hub.http.openapi import describe
from hub.registrar import Registrar

from . import validation
from .const import (
    MAX_PASSWORD_CHARS,
    MAX_USERNAME_CHARS,
    MIN_PASSWORD_CHARS,
    ROLE_ADMIN,
    ROLE_OWNER,
    ROLE_USER,
    ROLES,
)
from .http_errors import store_errors
from .login_routes import begin_password_attempt, check_password
from .models import User
from .runtime import AuthRuntime

TAGS = ("auth",)

_username = vol.All(str, vol.Length(min=1, max=MAX_USERNAME_CHARS))
_password = vol.All(str, vol.Length(min=1, max=MAX_PASSWORD_CHARS))
_role = vol.In(ROLES)
# The store refuses a shorter one (validation.password); OpenAPI says so.
_NEW_PASSWORD = f"the new password, at least {MIN_PASSWORD_CHARS} characters"

CREATE = vol.Schema(
    {
        vol.Required("username"): _username,
        vol.Required("password", description=_NEW_PASSWORD): _password,
        vol.Optional("role", default=ROLE_USER): _role,
    }
)
UPDATE = vol.All(
    vol.Schema(
        {
            vol.Optional("username"): _username,
            vol.Optional("password", description=_NEW_PASSWORD): _password,
            vol.Optional("role"): _role,
            vol.Optional("active"): bool,
        }
    ),
    describe(minProperties=1)(
        vol.Length(min=1, msg="name at least one of username, password, role, active")
    ),
)
CHANGE_PASSWORD = vol.Schema(
    {
        vol.Required("currentPassword"): _password,
        vol.Required("newPassword", description=_NEW_PASSWORD): _password,
    }
)


def _only_owners_make_owners(principal: Principal, role: str | None) -> None:
    if role == ROLE_OWNER and principal.role != ROLE_OWNER:
        raise ApiError(403, "forbidden", "only an owner can make a user owner")


def _may_manage(principal: Principal, target: User) -> None:
    if target.role == ROLE_OWNER and principal.role != ROLE_OWNER:
        raise ApiError(403, "forbidden", "only an owner can change or remove an owner")
    if target.cloud_user_id is not None:
        raise ApiError(
            409,
            "managed_by_cloud",
            "this user is mirrored from the cloud; change it in the cloud",
        )


class UserViews:
    """The user-management handlers, one method each, around the auth runtime."""

    def __init__(self, runtime: AuthRuntime) -> None:
        self.runtime = runtime
        self.store = runtime.users

    async def target_user(self, request: web.Request) -> User:
        user = await self.store.get_user(request.match_info["user_id"])
        if user is None:
            raise ApiError(404, "not_found", "there is no user with that id")
        return user

    async def list_users(self, _request: web.Request) -> web.Response:
        """Every user, local and mirrored from the cloud (never a password hash)."""
        return json_response([user.as_dict() for user in await self.store.list_users()])

    async def get_user(self, request: web.Request) -> web.Response:
        """One user."""
        return json_response((await self.target_user(request)).as_dict())

    async def create_user(self, request: web.Request) -> web.Response:
        """Add a local user with a password."""
        body = await read_json(request, CREATE)
        _only_owners_make_owners(request["principal"], body["role"])
        with store_errors():
            user = await self.store.create_user(
                body["username"], body["role"], password=body["password"]
            )
        return json_response(user.as_dict(), status=201)

    async def update_user(self, request: web.Request) -> web.Response:
        """Rename, change the role, (de)activate or set a new password; a new password or
        deactivation ends the user's sessions at once."""
        body = await read_json(request, UPDATE)
        principal = request["principal"]
        target = await self.target_user(request)
        _may_manage(principal, target)
        _only_owners_make_owners(principal, body.get("role"))
        with store_errors():
            if "password" in body:  # refuse a weak one before anything is written
                validation.password(body["password"])
            user = await self.store.update_user(
                target.id,
                username=body.get("username"),
                role=body.get("role"),
                active=body.get("active"),
            )
            if "password" in body:
                await self.store.set_password(target.id, body["password"])
        return json_response(user.as_dict())

    async def delete_user(self, request: web.Request) -> web.Response:
        """Remove a local user with its memberships and tokens."""
        target = await self.target_user(request)
        _may_manage(request["principal"], target)
        with store_errors():
            if not await self.store.delete_user(target.id):
                raise ApiError(404, "not_found", "there is no user with that id")
        return web.Response(status=204)

    async def change_password(self, request: web.Request) -> web.Response:
        """Change your own password; every other session ends, this answer holds new tokens."""
        body = await read_json(request, CHANGE_PASSWORD)
        principal = request["principal"]
        current = await self.store.get_user(principal.id)
        if current is not None and current.cloud_user_id is not None:
            raise ApiError(
                409, "managed_by_cloud", "your password is managed by the cloud; change it there"
            )
        # Guessing the current password with a stolen token is throttled like a login.
        address = begin_password_attempt(self.runtime, request, principal.name)
        user = await check_password(self.runtime, principal.name, body["currentPassword"])
        if user is None or user.id != principal.id:
            raise ApiError(403, "wrong_password", "the current password is wrong")
        self.runtime.throttle.succeeded(address, principal.name)
        with store_errors():
            await self.store.set_password(user.id, body["newPassword"])
        return json_response(await self.runtime.token_response(user))


def register_user_routes(registrar: Registrar, runtime: AuthRuntime) -> None:
    views = UserViews(runtime)
    managers = requires("user", roles=(ROLE_OWNER, ROLE_ADMIN))
    route = registrar.http_route
    users = "/api/auth/users"
    one = f"{users}/{{user_id}}"
    route("GET", users, views.list_users, auth=managers, tags=TAGS)
    route("POST", users, views.create_user, auth=managers, tags=TAGS, request_schema=CREATE)
    route("GET", one, views.get_user, auth=managers, tags=TAGS)
    route("PATCH", one, views.update_user, auth=managers, tags=TAGS, request_schema=UPDATE)
    route("DELETE", one, views.delete_user, auth=managers, tags=TAGS)
    route(
        "POST",
        "/api/auth/password",
        views.change_password,
        auth=requires("user"),
        tags=TAGS,
        request_schema=CHANGE_PASSWORD,
    )
