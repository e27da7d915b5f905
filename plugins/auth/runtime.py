"""The working parts of one hub's auth integration, built at registration time."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from hub.events import SESSIONS_REVOKED, SessionsRevokedData

from .config import AuthSettings
from .models import User
from .passwords import Passwords
from .sessions import SessionStore
from .store import UserStore
from .throttle import LoginThrottle
from .tokens import JwtCodec

if TYPE_CHECKING:
    from hub.core import Hub


class AuthRuntime:
    def __init__(self, hub: Hub, settings: AuthSettings) -> None:
        self.settings = settings
        self.passwords = Passwords(
            time_cost=settings.argon2_time_cost,
            memory_kib=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
        )
        engine = hub.db.require_engine()
        self.users = UserStore(
            engine,
            self.passwords,
            station_id=hub.station_id,
            station_name=hub.name,
            cache_ttl=settings.user_cache_ttl,
            on_revoked=self._sessions_revoked,
        )
        self._hub = hub
        self.sessions = SessionStore(
            engine,
            self.users,
            refresh_ttl=settings.refresh_token_ttl,
            cache_ttl=settings.user_cache_ttl,
        )
        self.codec = JwtCodec(
            settings.jwt_secret,
            ttl=settings.access_token_ttl,
            leeway=settings.leeway,
            max_lifetime=settings.max_access_token_lifetime,
        )
        self.throttle = LoginThrottle(
            max_failures_per_user=settings.max_failures_per_user,
            max_failures_per_ip=settings.max_failures_per_ip,
            window=settings.throttle_window,
        )
        # Onboarding creates the first owner exactly once, even under concurrent calls.
        self.onboarding_lock = asyncio.Lock()

    def _sessions_revoked(self, user_id: str, reason: str, credential_id: str | None) -> None:
        """The core's SESSIONS_REVOKED event: every live socket of the user closes."""
        data: SessionsRevokedData = {"kind": "user", "id": user_id, "reason": reason}
        if credential_id is not None:
            data["credentialId"] = credential_id
        self._hub.bus.fire(SESSIONS_REVOKED, data)

    async def start(self) -> None:
        await self.users.ensure_station()
        # The first unknown-user login must not pay for hashing the dummy password.
        await asyncio.to_thread(self.passwords.dummy_hash)

    async def token_response(self, user: User) -> dict[str, Any]:
        """The OAuth-style answer of login, refresh and onboarding (docs/auth.md)."""
        return {
            "access_token": self.codec.issue(user.id, user.role),
            "token_type": "Bearer",
            "expires_in": int(self.settings.access_token_ttl),
            "refresh_token": await self.sessions.issue_refresh_token(user),
        }
