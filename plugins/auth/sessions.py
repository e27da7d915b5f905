"""Refresh tokens and long-lived API tokens: random strings, stored only as SHA-256 digests.

Refresh tokens rotate: each use revokes the token presented and hands out a new one. A
revoked token presented again means two parties hold it (one of them stole it), so every
session of that user ends and both must sign in again: the user's refresh tokens are
revoked, ``tokens_valid_after`` moves to now (so every access token issued so far is
refused on its next use, the thief's included), and live sockets close.

API tokens are for scripts: they never rotate, may expire, and are revoked explicitly.
They authenticate like a JWT on the ``user`` scheme, as the user who created them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from .cache import TtlCache
from .const import API_TOKEN_PREFIX
from .errors import ConflictError, InvalidValueError, NotFoundError
from .models import ApiToken, User
from .store import UserStore
from .tables import api_tokens, refresh_tokens, users
from .tokens import TokenError, opaque_token, token_digest

REASON_REFRESH_REUSED = "refresh token reused"
REASON_API_TOKEN_REVOKED = "API token revoked"

MAX_API_TOKENS_PER_USER = 100
MAX_API_TOKEN_NAME_CHARS = 64


class SessionStore:
    def __init__(
        self,
        engine: AsyncEngine,
        users_store: UserStore,
        *,
        refresh_ttl: float,
        cache_ttl: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._engine = engine
        self._users = users_store
        self.refresh_ttl = refresh_ttl
        self.clock = clock
        # Cleared with the user caches, so deleting a user also drops its tokens here.
        self._api_tokens: TtlCache[str, ApiToken] = TtlCache(users_store.caches, ttl=cache_ttl)

    # ---- refresh tokens ------------------------------------------------------------------

    async def issue_refresh_token(self, user: User) -> str:
        token = opaque_token()
        now = self.clock()
        async with self._engine.begin() as connection:
            # Expired rows are useless even for reuse detection; drop them on the way.
            await connection.execute(
                sa.delete(refresh_tokens).where(
                    refresh_tokens.c.user_id == user.id, refresh_tokens.c.expires_at <= now
                )
            )
            await connection.execute(
                sa.insert(refresh_tokens).values(
                    id=uuid.uuid4().hex,
                    user_id=user.id,
                    token_hash=token_digest(token),
                    created_at=now,
                    expires_at=now + self.refresh_ttl,
                    revoked_at=None,
                )
            )
        return token

    async def rotate_refresh_token(self, token: str) -> tuple[User, str]:
        """Spend ``token``: the user it belongs to and a new refresh token."""
        now = self.clock()
        digest = token_digest(token)
        reused = False
        async with self._engine.begin() as connection:
            row = (
                await connection.execute(
                    sa.select(refresh_tokens).where(refresh_tokens.c.token_hash == digest)
                )
            ).first()
            if row is None:
                raise TokenError("unknown refresh token")
            if row.revoked_at is not None:
                reused = True
                await connection.execute(
                    sa.update(refresh_tokens)
                    .where(
                        refresh_tokens.c.user_id == row.user_id,
                        refresh_tokens.c.revoked_at.is_(None),
                    )
                    .values(revoked_at=now)
                )
                # The access tokens of every session end too: without this, the ones
                # both parties already hold would keep working until they expire.
                await connection.execute(
                    sa.update(users)
                    .where(users.c.id == row.user_id)
                    .values(tokens_valid_after=now, updated_at=now)
                )
            else:
                if row.expires_at <= now:
                    raise TokenError("the refresh token has expired", "token_expired")
                spent = await connection.execute(
                    sa.update(refresh_tokens)
                    .where(refresh_tokens.c.id == row.id, refresh_tokens.c.revoked_at.is_(None))
                    .values(revoked_at=now)
                )
                if spent.rowcount != 1:
                    raise TokenError("the refresh token was used concurrently; sign in again")
                owner = (
                    await connection.execute(sa.select(users).where(users.c.id == row.user_id))
                ).first()
                if owner is None or not owner.active or row.created_at < owner.tokens_valid_after:
                    raise TokenError("the session has ended; sign in again")
        if reused:
            self._users.caches.clear()
            self._users.revoked(row.user_id, REASON_REFRESH_REUSED)
            raise TokenError("the refresh token was already used; every session was signed out")
        user = await self._users.active_user(row.user_id)
        if user is None:
            raise TokenError("the session has ended; sign in again")
        return user, await self.issue_refresh_token(user)

    async def revoke_refresh_token(self, token: str) -> bool:
        async with self._engine.begin() as connection:
            result = await connection.execute(
                sa.update(refresh_tokens)
                .where(
                    refresh_tokens.c.token_hash == token_digest(token),
                    refresh_tokens.c.revoked_at.is_(None),
                )
                .values(revoked_at=self.clock())
            )
            return result.rowcount > 0

    # ---- long-lived API tokens -----------------------------------------------------------

    async def create_api_token(
        self, user_id: str, name: str, *, expires_at: float | None = None
    ) -> tuple[ApiToken, str]:
        """A new token for ``user_id``; the secret is returned here and never again."""
        if not isinstance(name, str) or not 1 <= len(name.strip()) <= MAX_API_TOKEN_NAME_CHARS:
            raise InvalidValueError(f"token name must be 1-{MAX_API_TOKEN_NAME_CHARS} characters")
        now = self.clock()
        if expires_at is not None and expires_at <= now:
            raise InvalidValueError("the token's expiry must be in the future")
        secret = opaque_token(API_TOKEN_PREFIX)
        record = ApiToken(uuid.uuid4().hex, user_id, name.strip(), now, expires_at)
        async with self._engine.begin() as connection:
            if (
                await connection.execute(sa.select(users.c.id).where(users.c.id == user_id))
            ).first() is None:
                raise NotFoundError(f"no user with id {user_id!r}")
            count = await connection.execute(
                sa.select(sa.func.count())
                .select_from(api_tokens)
                .where(api_tokens.c.user_id == user_id, api_tokens.c.revoked_at.is_(None))
            )
            if count.scalar_one() >= MAX_API_TOKENS_PER_USER:
                raise ConflictError(
                    f"a user can hold at most {MAX_API_TOKENS_PER_USER} API tokens; "
                    "revoke one first"
                )
            await connection.execute(
                sa.insert(api_tokens).values(
                    id=record.id,
                    user_id=user_id,
                    name=record.name,
                    token_hash=token_digest(secret),
                    created_at=now,
                    expires_at=expires_at,
                    revoked_at=None,
                )
            )
        return record, secret

    async def list_api_tokens(self, user_id: str) -> list[ApiToken]:
        async with self._engine.connect() as connection:
            rows = await connection.execute(
                sa.select(api_tokens)
                .where(api_tokens.c.user_id == user_id, api_tokens.c.revoked_at.is_(None))
                .order_by(api_tokens.c.created_at)
            )
            return [
                ApiToken(row.id, row.user_id, row.name, row.created_at, row.expires_at)
                for row in rows
            ]

    async def revoke_api_token(self, user_id: str, token_id: str) -> bool:
        """Revoke one of ``user_id``'s tokens; False when it has no such token."""
        try:
            async with self._engine.begin() as connection:
                result = await connection.execute(
                    sa.update(api_tokens)
                    .where(
                        api_tokens.c.id == token_id,
                        api_tokens.c.user_id == user_id,
                        api_tokens.c.revoked_at.is_(None),
                    )
                    .values(revoked_at=self.clock())
                )
        finally:
            self._users.caches.clear()
        if result.rowcount > 0:
            self._users.revoked(user_id, REASON_API_TOKEN_REVOKED, token_id)
            return True
        return False

    async def user_for_api_token(self, token: str) -> User | None:
        """The active user an unexpired, unrevoked API token belongs to."""
        found = await self.api_token_session(token)
        return found[0] if found is not None else None

    async def api_token_session(self, token: str) -> tuple[User, ApiToken] | None:
        """The active user and the record of an unexpired, unrevoked API token."""
        digest = token_digest(token)
        hit, entry = self._api_tokens.lookup(digest)
        if not hit:
            generation = self._users.caches.generation
            async with self._engine.connect() as connection:
                row = (
                    await connection.execute(
                        sa.select(
                            api_tokens.c.id,
                            api_tokens.c.user_id,
                            api_tokens.c.name,
                            api_tokens.c.created_at,
                            api_tokens.c.expires_at,
                        ).where(
                            api_tokens.c.token_hash == digest, api_tokens.c.revoked_at.is_(None)
                        )
                    )
                ).first()
            if row is None:
                return None
            entry = ApiToken(row.id, row.user_id, row.name, row.created_at, row.expires_at)
            self._api_tokens.put(digest, entry, generation)
        if entry is None:
            return None
        if entry.expires_at is not None and entry.expires_at <= self.clock():
            return None
        user = await self._users.active_user(entry.user_id)
        return (user, entry) if user is not None else None
