"""Managing local users from the portal, and changing one's own password.

Who may do what: owners and admins manage users, but only an owner may create, promote to
or change an owner, so an admin cannot raise themselves or take over the hub. Users the
cloud mirrors (``cloudUserId`` set) are managed by the cloud's member messages and are
read-only here: a local edit would be undone at the next identity sync. The store refuses
any change that would leave no active owner.
"""

from __future__ import annotations

from typing import Any

import voluptuous as vol
from aiohttp import web

from hub.auth import Principal, requires
from hub.http.errors import ApiError
from hub.http.json import json_response, read_json
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

CREATE = vol.Schema(
    {
        vol.Required("username"): _username,
        vol.Required("password"): _password,
        vol.Optional("role", default=ROLE_USER): _role,
    }
)
UPDATE = vol.All(
    vol.Schema(
        {
            vol.Optional("username"): _username,
            vol.Optional("password"): _password,
            vol.Optional("role"): _role,
            vol.Optional("active"): bool,
        }
    ),
    vol.Length(min=1, msg="name at least one of username, password, role, active"),
)
CHANGE_PASSWORD = vol.Schema(
    {vol.Required("currentPassword"): _password, vol.Required("newPassword"): _password}
)

_USERNAME_JSON = {"type": "string", "minLength": 1, "maxLength": MAX_USERNAME_CHARS}
_PASSWORD_JSON = {
    "type": "string",
    "minLength": MIN_PASSWORD_CHARS,
    "maxLength": MAX_PASSWORD_CHARS,
}
_ROLE_JSON = {"type": "string", "enum": list(ROLES)}
CREATE_JSON: dict[str, Any] = {
    "type": "object",
    "required": ["username", "password"],
    "properties": {"username": _USERNAME_JSON, "password": _PASSWORD_JSON, "role": _ROLE_JSON},
    "additionalProperties": False,
}
UPDATE_JSON: dict[str, Any] = {
    "type": "object",
    "minProperties": 1,
    "properties": {
        "username": _USERNAME_JSON,
        "password": _PASSWORD_JSON,
        "role": _ROLE_JSON,
        "active": {"type": "boolean"},
    },
    "additionalProperties": False,
}
CHANGE_PASSWORD_JSON: dict[str, Any] = {
    "type": "object",
    "required": ["currentPassword", "newPassword"],
    "properties": {"currentPassword": {"type": "string"}, "newPassword": _PASSWORD_JSON},
    "additionalProperties": False,
}


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


def register_user_routes(registrar: Registrar, runtime: AuthRuntime) -> None:
    managers = requires("user", roles=(ROLE_OWNER, ROLE_ADMIN))
    store = runtime.users

    async def target_user(request: web.Request) -> User:
        user = await store.get_user(request.match_info["user_id"])
        if user is None:
            raise ApiError(404, "not_found", "there is no user with that id")
        return user

    async def list_users(_request: web.Request) -> web.Response:
        """Every user, local and mirrored from the cloud (never a password hash)."""
        return json_response([user.as_dict() for user in await store.list_users()])

    async def get_user(request: web.Request) -> web.Response:
        """One user."""
        return json_response((await target_user(request)).as_dict())

    async def create_user(request: web.Request) -> web.Response:
        """Add a local user with a password."""
        body = await read_json(request, CREATE)
        _only_owners_make_owners(request["principal"], body["role"])
        with store_errors():
            user = await store.create_user(
                body["username"], body["role"], password=body["password"]
            )
        return json_response(user.as_dict(), status=201)

    async def update_user(request: web.Request) -> web.Response:
        """Rename, change the role, (de)activate or set a new password; a new password or
        deactivation ends the user's sessions at once."""
        body = await read_json(request, UPDATE)
        principal = request["principal"]
        target = await target_user(request)
        _may_manage(principal, target)
        _only_owners_make_owners(principal, body.get("role"))
        with store_errors():
            if "password" in body:  # refuse a weak one before anything is written
                validation.password(body["password"])
            user = await store.update_user(
                target.id,
                username=body.get("username"),
                role=body.get("role"),
                active=body.get("active"),
            )
            if "password" in body:
                await store.set_password(target.id, body["password"])
        return json_response(user.as_dict())

    async def delete_user(request: web.Request) -> web.Response:
        """Remove a local user with its memberships and tokens."""
        target = await target_user(request)
        _may_manage(request["principal"], target)
        with store_errors():
            if not await store.delete_user(target.id):
                raise ApiError(404, "not_found", "there is no user with that id")
        return web.Response(status=204)

    async def change_password(request: web.Request) -> web.Response:
        """Change your own password; every other session ends, this answer holds new tokens."""
        body = await read_json(request, CHANGE_PASSWORD)
        principal = request["principal"]
        current = await store.get_user(principal.id)
        if current is not None and current.cloud_user_id is not None:
            raise ApiError(
                409, "managed_by_cloud", "your password is managed by the cloud; change it there"
            )
        # Guessing the current password with a stolen token is throttled like a login.
        address = begin_password_attempt(runtime, request, principal.name)
        user = await check_password(runtime, principal.name, body["currentPassword"])
        if user is None or user.id != principal.id:
            raise ApiError(403, "wrong_password", "the current password is wrong")
        runtime.throttle.succeeded(address, principal.name)
        with store_errors():
            await store.set_password(user.id, body["newPassword"])
        return json_response(await runtime.token_response(user))

    registrar.http_route("GET", "/api/auth/users", list_users, auth=managers, tags=TAGS)
    registrar.http_route(
        "POST",
        "/api/auth/users",
        create_user,
        auth=managers,
        tags=TAGS,
        request_schema=CREATE_JSON,
    )
    registrar.http_route("GET", "/api/auth/users/{user_id}", get_user, auth=managers, tags=TAGS)
    registrar.http_route(
        "PATCH",
        "/api/auth/users/{user_id}",
        update_user,
        auth=managers,
        tags=TAGS,
        request_schema=UPDATE_JSON,
    )
    registrar.http_route(
        "DELETE", "/api/auth/users/{user_id}", delete_user, auth=managers, tags=TAGS
    )
    registrar.http_route(
        "POST",
        "/api/auth/password",
        change_password,
        auth=requires("user"),
        tags=TAGS,
        request_schema=CHANGE_PASSWORD_JSON,
    )
