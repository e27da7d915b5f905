"""The three auth schemes the core calls before a protected handler runs.

- ``user``: ``Authorization: Bearer <JWT or API token>``; global roles (``roles=``) and
  roles on a station (``station_roles=``) are checked here.
- ``device``: ``X-Device-Token`` (or ``Device-Token``), looked up by its SHA-256 digest.
- ``agent``: ``Authorization: Bearer <agent token>``, compared in constant time.

Each refusal is an ``ApiError``: 401 when the caller is not (validly) identified, 403
when it is but may not do this, 400 when the request carries contradicting credentials.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import TYPE_CHECKING, Any

from aiohttp import web

from hub.auth import AuthRequirement, Principal
from hub.http.errors import ApiError

from .const import API_TOKEN_PREFIX, MAX_DEVICE_TOKEN_CHARS, MAX_TOKEN_CHARS
from .sessions import SessionStore
from .store import UserStore
from .tokens import JwtCodec, TokenError, token_digest

if TYPE_CHECKING:
    from hub.core import Hub

DEVICE_TOKEN_HEADERS = ("X-Device-Token", "Device-Token")
# A route with this path parameter is checked against that station, others against the
# hub's own station.
STATION_PATH_PARAMETER = "station_id"


def unauthorized(message: str, code: str = "unauthorized") -> ApiError:
    challenge = 'Bearer error="invalid_token"' if code != "unauthorized" else "Bearer"
    return ApiError(401, code, message, headers={"WWW-Authenticate": challenge})


def forbidden(message: str) -> ApiError:
    return ApiError(403, "forbidden", message)


def bearer_token(request: web.Request) -> str:
    """The token of the one ``Authorization: Bearer`` header, or an ApiError."""
    values = request.headers.getall("Authorization", [])
    if len(values) > 1:
        raise ApiError(400, "ambiguous_credentials", "send exactly one Authorization header")
    if not values:
        raise unauthorized("this route needs an 'Authorization: Bearer <token>' header")
    scheme, _, token = values[0].partition(" ")
    if scheme.lower() != "bearer" or not _is_token_text(token):
        raise unauthorized("the Authorization header must be 'Bearer <token>'")
    return token


# Printable ASCII without spaces; a regex because a per-character loop over a JWT costs
# more than the rest of the check on the request hot path.
_TOKEN_TEXT = re.compile(rf"[!-~]{{1,{MAX_TOKEN_CHARS}}}")


def _is_token_text(token: str) -> bool:
    return _TOKEN_TEXT.fullmatch(token) is not None


def check_roles(principal: Principal, requirement: AuthRequirement) -> None:
    if requirement.roles and principal.role not in requirement.roles:
        raise forbidden(f"this needs one of the roles: {', '.join(requirement.roles)}")


class UserScheme:
    openapi_scheme: dict[str, Any] = {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "An access token from POST /api/auth/login, or a long-lived API token.",
    }

    def __init__(self, codec: JwtCodec, users: UserStore, sessions: SessionStore) -> None:
        self._codec = codec
        self._users = users
        self._sessions = sessions

    async def authenticate(self, request: web.Request, requirement: AuthRequirement) -> Principal:
        principal = await self.authenticate_token(bearer_token(request))
        check_roles(principal, requirement)
        if requirement.station_roles:
            station_id = request.match_info.get(STATION_PATH_PARAMETER) or self._users.station_id
            role = await self._users.station_role(principal.id, station_id)
            if role is None:
                raise forbidden("you are not a member of this station")
            if role not in requirement.station_roles:
                raise forbidden(
                    f"this needs one of the station roles: {', '.join(requirement.station_roles)}"
                )
            principal.extra["stationId"] = station_id
            principal.extra["stationRole"] = role
        return principal

    async def authenticate_token(self, token: str) -> Principal:
        # The WebSocket auth message hands over any JSON string; only token-shaped text
        # may reach the digest and the database.
        if not _is_token_text(token):
            raise unauthorized(
                f"the token must be 1-{MAX_TOKEN_CHARS} printable ASCII characters",
                "invalid_token",
            )
        if token.startswith(API_TOKEN_PREFIX):
            found = await self._sessions.api_token_session(token)
            if found is None:
                raise unauthorized("unknown, expired or revoked API token", "invalid_token")
            owner, record = found
            return Principal(
                "user",
                owner.id,
                name=owner.username,
                role=owner.role,
                extra={"via": "api_token"},
                expires_at=record.expires_at,
                credential_id=record.id,
            )
        try:
            claims = self._codec.verify(token)
        except TokenError as error:
            raise unauthorized(error.message, error.code) from None
        user = await self._users.active_user(claims.user_id)
        if user is None:
            raise unauthorized("the token's user does not exist or is deactivated", "invalid_token")
        if claims.issued_at < user.tokens_valid_after:
            raise unauthorized("this session has ended; sign in again", "invalid_token")
        return Principal(
            "user",
            user.id,
            name=user.username,
            role=user.role,
            extra={"via": "jwt"},
            # The codec accepts the token until exp + leeway; a socket lives as long.
            expires_at=claims.expires_at + self._codec.leeway,
        )


class DeviceScheme:
    openapi_scheme: dict[str, Any] = {
        "type": "apiKey",
        "in": "header",
        "name": "X-Device-Token",
        "description": "The device's token (Device-Token is accepted too).",
    }

    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    async def authenticate(self, request: web.Request, requirement: AuthRequirement) -> Principal:
        values = [
            value for name in DEVICE_TOKEN_HEADERS for value in request.headers.getall(name, [])
        ]
        if len(set(values)) > 1:
            raise ApiError(
                400,
                "ambiguous_credentials",
                "the request carries different device tokens; send one",
            )
        if not values:
            raise unauthorized("this route needs an X-Device-Token header")
        principal = await self.authenticate_token(values[0])
        if requirement.roles or requirement.station_roles:
            raise forbidden("devices hold no roles")
        return principal

    async def authenticate_token(self, token: str) -> Principal:
        if not token or len(token) > MAX_DEVICE_TOKEN_CHARS:
            raise unauthorized("unknown device token", "invalid_token")
        device = self._hub.devices.by_token_digest(token_digest(token))
        if device is None:
            raise unauthorized("unknown device token", "invalid_token")
        return Principal(
            "device", device.id, name=device.external_id, extra={"externalId": device.external_id}
        )


class AgentScheme:
    """Matches one configured token; with none configured it matches nothing."""

    openapi_scheme: dict[str, Any] = {
        "type": "http",
        "scheme": "bearer",
        "description": "The station agent's token (auth.agent_token or AGENT_TOKEN).",
    }

    def __init__(self, token: str | None) -> None:
        # Comparing digests keeps the comparison constant-time in the length as well.
        self._digest = hashlib.sha256(token.encode()).digest() if token else None

    async def authenticate(self, request: web.Request, requirement: AuthRequirement) -> Principal:
        principal = await self.authenticate_token(bearer_token(request))
        if requirement.roles or requirement.station_roles:
            raise forbidden("the agent holds no roles")
        return principal

    async def authenticate_token(self, token: str) -> Principal:
        if self._digest is None:
            raise unauthorized("no agent token is configured on this hub", "invalid_token")
        presented = hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
        if not token or not hmac.compare_digest(presented, self._digest):
            raise unauthorized("wrong agent token", "invalid_token")
        return Principal("agent", "agent", name="station-agent")
