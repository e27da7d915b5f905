"""The token pair and its single database row.

The row is the source of truth across restarts: a refresh token is often single-use, so a
pair the gateway issued but the hub forgot would lock the hub out. That is why the manager
saves a new pair before anything uses it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from .const import REFRESH_MARGIN_MS
from .tables import TOKEN_ROW_ID, iot_tokens


@dataclass(frozen=True, slots=True)
class TokenPair:
    """Times are epoch milliseconds. The tokens are kept out of ``repr`` so they never
    reach a log line through an f-string or a traceback's locals."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: int
    issued_at: int

    @property
    def refresh_margin_ms(self) -> int:
        """Five minutes, or half the lifetime when the gateway issues shorter tokens."""
        lifetime = max(0, self.expires_at - self.issued_at)
        return min(REFRESH_MARGIN_MS, lifetime // 2)

    def refresh_due(self, now_ms: int) -> bool:
        return now_ms >= self.expires_at - self.refresh_margin_ms

    def expired(self, now_ms: int) -> bool:
        return now_ms >= self.expires_at


class TokenStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def load(self) -> TokenPair | None:
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(
                    sa.select(iot_tokens).where(iot_tokens.c.id == TOKEN_ROW_ID)
                )
            ).first()
        if row is None:
            return None
        return TokenPair(
            access_token=row.access_token,
            refresh_token=row.refresh_token,
            expires_at=int(row.expires_at),
            issued_at=int(row.issued_at),
        )

    async def save(self, pair: TokenPair) -> None:
        values = {
            "access_token": pair.access_token,
            "refresh_token": pair.refresh_token,
            "expires_at": pair.expires_at,
            "issued_at": pair.issued_at,
        }
        async with self._engine.begin() as connection:
            result = await connection.execute(
                sa.update(iot_tokens).where(iot_tokens.c.id == TOKEN_ROW_ID).values(values)
            )
            if result.rowcount == 0:
                await connection.execute(sa.insert(iot_tokens).values(id=TOKEN_ROW_ID, **values))

    async def clear(self) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(sa.delete(iot_tokens))
