"""The SQL steps the user store composes, each run on a connection the caller owns.

Kept apart from ``store.py`` so that file reads as the list of operations; every
function here works inside whatever transaction it is handed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from . import validation
from .const import ROLE_OWNER
from .errors import ConflictError, NotFoundError
from .models import CloudMember, Station, User
from .tables import api_tokens, refresh_tokens, station_members, stations, users


def user_from_row(row: Any) -> User:
    return User(
        id=row.id,
        username=row.username,
        role=row.role,
        active=bool(row.active),
        cloud_user_id=row.cloud_user_id,
        has_password=bool(row.password_hash or row.station_password_hash),
        tokens_valid_after=row.tokens_valid_after,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def checked_member(member: CloudMember) -> CloudMember:
    if member.station_password_hash:
        validation.password_hash(member.station_password_hash)
    return CloudMember(
        cloud_user_id=validation.identifier(member.cloud_user_id, "cloud user id"),
        username=validation.username(member.username),
        role=validation.role(member.role),
        station_role=validation.station_role(member.station_role),
        station_password_hash=member.station_password_hash,
        active=bool(member.active),
    )


async def user_where(connection: AsyncConnection, condition: Any) -> User | None:
    row = (await connection.execute(sa.select(users).where(condition))).first()
    return user_from_row(row) if row is not None else None


async def require_user(connection: AsyncConnection, user_id: str) -> User:
    user = await user_where(connection, users.c.id == user_id)
    if user is None:
        raise NotFoundError(f"no user with id {user_id!r}")
    return user


async def station_hash_of(connection: AsyncConnection, user_id: str) -> str | None:
    result = await connection.execute(
        sa.select(users.c.station_password_hash).where(users.c.id == user_id)
    )
    return result.scalar_one_or_none()


def by_username(username: str) -> Any:
    """The condition matching ``username`` ignoring case (see validation.username_key)."""
    return users.c.username_key == validation.username_key(username)


async def ensure_username_free(
    connection: AsyncConnection, username: str, except_user_id: str | None = None
) -> None:
    """Refuse a name another user holds, ignoring case: "Olivia" is "olivia"."""
    holder = await user_where(connection, by_username(username))
    if holder is not None and holder.id != except_user_id:
        if holder.username == username:
            raise ConflictError(f"username {username!r} is already taken")
        raise ConflictError(
            f"username {username!r} is already taken (as {holder.username!r}; "
            "names are compared ignoring case)"
        )


async def get_station(connection: AsyncConnection, station_id: str) -> Station | None:
    row = (await connection.execute(sa.select(stations).where(stations.c.id == station_id))).first()
    return Station(row.id, row.name, row.owner_user_id) if row is not None else None


async def require_station(connection: AsyncConnection, station_id: str) -> Station:
    station = await get_station(connection, station_id)
    if station is None:
        raise NotFoundError(f"no station with id {station_id!r}")
    return station


async def station_role(connection: AsyncConnection, station_id: str, user_id: str) -> str | None:
    station = await get_station(connection, station_id)
    if station is None:
        return None
    if station.owner_user_id == user_id:
        return ROLE_OWNER
    result = await connection.execute(
        sa.select(station_members.c.role).where(
            station_members.c.station_id == station_id, station_members.c.user_id == user_id
        )
    )
    return result.scalar_one_or_none()


async def set_member(
    connection: AsyncConnection, station_id: str, user_id: str, role: str, now: float
) -> None:
    where = (station_members.c.station_id == station_id, station_members.c.user_id == user_id)
    result = await connection.execute(sa.update(station_members).where(*where).values(role=role))
    if result.rowcount == 0:
        await connection.execute(
            sa.insert(station_members).values(
                station_id=station_id, user_id=user_id, role=role, created_at=now
            )
        )


async def ensure_another_active_owner(connection: AsyncConnection, user_id: str) -> None:
    """Refuse a change that would leave the hub with no active owner to administer it."""
    others = await connection.execute(
        sa.select(sa.func.count())
        .select_from(users)
        .where(users.c.role == ROLE_OWNER, users.c.active.is_(True), users.c.id != user_id)
    )
    if not others.scalar_one():
        raise ConflictError("this is the last active owner; make another user owner first")


async def delete_users(connection: AsyncConnection, user_ids: Iterable[str]) -> int:
    """Delete users and everything that points at them (without relying on FK pragmas)."""
    ids = list(user_ids)
    if not ids:
        return 0
    for table in (station_members, refresh_tokens, api_tokens):
        await connection.execute(sa.delete(table).where(table.c.user_id.in_(ids)))
    await connection.execute(
        sa.update(stations).where(stations.c.owner_user_id.in_(ids)).values(owner_user_id=None)
    )
    result = await connection.execute(sa.delete(users).where(users.c.id.in_(ids)))
    return result.rowcount
