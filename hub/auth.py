"""What a route declares about who may call it, and what an auth scheme must provide.

The core knows no users or tokens: an integration registers a scheme under a name and
routes name the scheme they need. A route whose scheme nobody registered answers 401, so a
missing or broken auth integration closes the API instead of opening it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web


@dataclass(frozen=True, slots=True)
class AuthRequirement:
    """``scheme`` None means public; roles are checked by the scheme, never by the core."""

    scheme: str | None
    roles: tuple[str, ...] = ()
    station_roles: tuple[str, ...] = ()
    # Non-empty: any one of these suffices (e.g. the owner *or* the station agent).
    alternatives: tuple[AuthRequirement, ...] = ()

    @property
    def public(self) -> bool:
        return self.scheme is None and not self.alternatives

    def options(self) -> tuple[AuthRequirement, ...]:
        return self.alternatives or (self,)


PUBLIC = AuthRequirement(None)


def requires(
    scheme: str = "user",
    *,
    roles: tuple[str, ...] | list[str] = (),
    station_roles: tuple[str, ...] | list[str] = (),
) -> AuthRequirement:
    """Build a requirement: ``requires("user", roles=("owner", "admin"))``."""
    return AuthRequirement(scheme, tuple(roles), tuple(station_roles))


def any_of(*requirements: AuthRequirement) -> AuthRequirement:
    """Accept a request that satisfies any one of ``requirements``."""
    if len(requirements) < 2 or any(item.public or item.alternatives for item in requirements):
        raise ValueError("any_of needs two or more non-public, non-nested requirements")
    first = requirements[0]
    return AuthRequirement(first.scheme, first.roles, first.station_roles, tuple(requirements))


# Close codes of a live socket (WebSocket API, provisioning feed) whose session ended;
# 4000-4999 is the range RFC 6455 leaves to applications. The close reason says why.
CLOSE_SESSION_EXPIRED = 4001  # the credential's expiry passed: authenticate again
CLOSE_SESSION_REVOKED = 4003  # the right to the session ended (see SESSIONS_REVOKED)


@dataclass(slots=True)
class Principal:
    """Who made a request: a user, a device, the station agent, a test caller.

    ``expires_at`` (epoch seconds) is when the scheme stops accepting the credential, so a
    long-lived socket can end then; None means no set end. ``credential_id`` names one
    individually revocable credential (an API token's id): a revocation event that names
    it ends only the sockets opened with it.
    """

    kind: str
    id: str
    name: str = ""
    role: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    expires_at: float | None = None
    credential_id: str | None = None


class AuthScheme(Protocol):
    """Registered through ``registrar.auth_scheme(name, scheme)``."""

    async def authenticate(self, request: web.Request, requirement: AuthRequirement) -> Principal:
        """Return the caller or raise ``hub.http.errors.ApiError`` (401, 403 or 400)."""
        ...

    async def authenticate_token(self, token: str) -> Principal:
        """Check a bare token (the WebSocket API's auth message); raise ApiError(401)."""
        ...
