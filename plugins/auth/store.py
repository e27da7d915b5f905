"""Users, stations and station members: the one place they are read and written.

This is the auth integration's public Python API (docs/auth.md, "Python API"): the
cloud link calls it to mirror the cloud's members, the CLI and the login routes call it
for local users. Every write goes through ``_writing``, which clears the hot-path caches
after the commit, so a user deleted or deactivated here is refused on the next request.

A write that takes rights away (deletion, deactivation, a role or station-role change, a
new password, the cloud removing a member) also reports the user to ``on_revoked`` once
it has committed; the integration turns that into the core's ``SESSIONS_REVOKED`` event,
which ends the user's live sockets at once. The cloud link's identity messages write
through these same methods, so ``member_removed`` is covered without code of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from . import store_queries as queries
from . import validation
from .cache import CacheGroup, TtlCache
from .const import ROLE_OWNER, ROLE_USER
from .errors import ConflictError, InvalidValueError, NotFoundError, OnboardingClosedError
from .models import CloudMember, LoginRecord, Member, Station, User
from .passwords import LoginProfile, Passwords
from .tables import station_members, stations, users

_LOGGER = logging.getLogger(__name__)

# Called after a commit with (user id, reason, credential id or None) for every user
# whose current sessions must end.
RevocationListener = Callable[[str, str, str | None], None]
Revocations = list[tuple[str, str]]

REASON_DEACTIVATED = "user deactivated"
REASON_DELETED = "user deleted"
REASON_ROLE = "role changed"
REASON_STATION_ROLE = "station role changed"
REASON_PASSWORD = "password changed"
REASON_CLOUD_REMOVED = "member removed by the cloud"


class UserStore:
    """Reads and writes users, stations and members; serves cached lookups to the schemes.

    ``station_id`` is the hub's own station: methods taking an optional ``station_id``
    default to it.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        passwords: Passwords,
        *,
        station_id: str,
        station_name: str,
        cache_ttl: float = 30.0,
        clock: Callable[[], float] = time.time,
        on_revoked: RevocationListener | None = None,
    ) -> None:
        self._engine = engine
        self.on_revoked = on_revoked
        self.passwords = passwords
        self.station_id = station_id
        self.station_name = station_name
        self.clock = clock
        self.caches = CacheGroup()
        self._users: TtlCache[str, User] = TtlCache(self.caches, ttl=cache_ttl)
        self._station_roles: TtlCache[tuple[str, str], str | None] = TtlCache(
            self.caches, ttl=cache_ttl
        )
        self._login_profile: TtlCache[str, LoginProfile] = TtlCache(self.caches, ttl=cache_ttl)
        # Serialises local changes that could remove the last owner: two admins demoting
        # the two remaining owners at once must not both pass the check.
        self._owner_changes = asyncio.Lock()

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    def revoked(self, user_id: str, reason: str, credential_id: str | None = None) -> None:
        """Tell the listener that ``user_id``'s sessions (or one credential's) ended."""
        if self.on_revoked is None:
            return
        try:
            self.on_revoked(user_id, reason, credential_id)
        except Exception:  # a listener's failure must not turn a committed write into a 500
            _LOGGER.exception("Session revocation listener failed for user %s", user_id)

    @contextlib.asynccontextmanager
    async def _writing(
        self, revocations: Revocations | None = None
    ) -> AsyncIterator[AsyncConnection]:
        """One transaction; the caches are cleared after it commits (or fails), and the
        users the transaction appended to ``revocations`` are reported once it committed."""
        try:
            async with self._engine.begin() as connection:
                yield connection
        except sa.exc.IntegrityError as error:
            # Reached only by a race the checks before the write could not see.
            _LOGGER.debug("Auth store write refused by the database: %s", error.orig)
            raise ConflictError(
                "the change conflicts with data written at the same time; try again"
            ) from None
        finally:
            self.caches.clear()
        # Committed, and the caches no longer hold the old rights: now tell the sockets.
        for user_id, reason in dict.fromkeys(revocations or ()):
            self.revoked(user_id, reason)

    # ---- reading ---------------------------------------------------------------------

    async def count_users(self) -> int:
        async with self._engine.connect() as connection:
            result = await connection.execute(sa.select(sa.func.count()).select_from(users))
            return int(result.scalar_one())

    async def list_users(self) -> list[User]:
        async with self._engine.connect() as connection:
            rows = await connection.execute(sa.select(users).order_by(users.c.username))
            return [queries.user_from_row(row) for row in rows]

    async def get_user(self, user_id: str) -> User | None:
        async with self._engine.connect() as connection:
            return await queries.user_where(connection, users.c.id == user_id)

    async def get_user_by_username(self, username: str) -> User | None:
        """The user whose name is ``username`` ignoring case."""
        async with self._engine.connect() as connection:
            return await queries.user_where(connection, queries.by_username(username))

    async def get_user_by_cloud_id(self, cloud_user_id: str) -> User | None:
        async with self._engine.connect() as connection:
            return await queries.user_where(connection, users.c.cloud_user_id == cloud_user_id)

    async def login_record(self, username: str) -> LoginRecord | None:
        """The user and its password hashes, for the login route only."""
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(sa.select(users).where(queries.by_username(username)))
            ).first()
        if row is None:
            return None
        return LoginRecord(queries.user_from_row(row), row.password_hash, row.station_password_hash)

    async def login_profile(self) -> LoginProfile:
        """The costliest station hashes stored, which every login spends as much as."""
        hit, profile = self._login_profile.lookup("profile")
        if hit and profile is not None:
            return profile
        generation = self.caches.generation
        async with self._engine.connect() as connection:
            rows = await connection.execute(
                sa.select(users.c.station_password_hash).where(
                    users.c.station_password_hash.is_not(None)
                )
            )
            profile = LoginProfile.of(row[0] for row in rows)
        self._login_profile.put("profile", profile, generation)
        return profile

    # ---- the hot path (cached) -------------------------------------------------------

    async def active_user(self, user_id: str) -> User | None:
        """The user if it exists and is active; served from memory between writes."""
        hit, user = self._users.lookup(user_id)
        if not hit:
            generation = self.caches.generation
            user = await self.get_user(user_id)
            if user is None:
                return None
            self._users.put(user_id, user, generation)
        return user if user is not None and user.active else None

    async def station_role(self, user_id: str, station_id: str | None = None) -> str | None:
        """``owner`` for the station's owner, else the member's role, else None."""
        key = (station_id or self.station_id, user_id)
        hit, role = self._station_roles.lookup(key)
        if hit:
            return role
        generation = self.caches.generation
        async with self._engine.connect() as connection:
            role = await queries.station_role(connection, *key)
        self._station_roles.put(key, role, generation)
        return role

    # ---- local users -------------------------------------------------------------------

    async def create_user(
        self,
        username: str,
        role: str,
        *,
        password: str | None = None,
        active: bool = True,
        only_if_no_users: bool = False,
    ) -> User:
        """Add a local user (argon2id password). An ``owner`` becomes the owner of the
        hub's station when it has none. ``only_if_no_users`` is the onboarding guard."""
        username = validation.username(username)
        role = validation.role(role)
        password_hash = None
        if password is not None:
            password_hash = await self.passwords.hash_async(validation.password(password))
        now = self.clock()
        user_id = uuid.uuid4().hex
        async with self._writing() as connection:
            if only_if_no_users:
                count = await connection.execute(sa.select(sa.func.count()).select_from(users))
                if count.scalar_one():
                    raise OnboardingClosedError("users already exist; onboarding is closed")
            await queries.ensure_username_free(connection, username)
            await connection.execute(
                sa.insert(users).values(
                    id=user_id,
                    username=username,
                    username_key=validation.username_key(username),
                    role=role,
                    password_hash=password_hash,
                    station_password_hash=None,
                    cloud_user_id=None,
                    active=active,
                    tokens_valid_after=0.0,
                    created_at=now,
                    updated_at=now,
                )
            )
            if role == ROLE_OWNER:
                await self._claim_station_if_unowned(connection, user_id, now)
            return await queries.require_user(connection, user_id)

    async def update_user(
        self,
        user_id: str,
        *,
        username: str | None = None,
        role: str | None = None,
        active: bool | None = None,
    ) -> User:
        """Change what is given; deactivating also ends the user's current sessions.

        Refused (ConflictError) when it would leave no active owner.
        """
        revocations: Revocations = []
        async with self._owner_changes, self._writing(revocations) as connection:
            current = await queries.require_user(connection, user_id)
            demoted = role is not None and role != ROLE_OWNER
            if current.role == ROLE_OWNER and current.active and (demoted or active is False):
                await queries.ensure_another_active_owner(connection, user_id)
            return await self._update_in(connection, current, username, role, active, revocations)

    async def set_password(self, user_id: str, password: str) -> None:
        """Set the local password; every session issued before now stops working."""
        password_hash = await self.passwords.hash_async(validation.password(password))
        now = self.clock()
        async with self._writing([(user_id, REASON_PASSWORD)]) as connection:
            await queries.require_user(connection, user_id)
            await connection.execute(
                sa.update(users)
                .where(users.c.id == user_id)
                .values(password_hash=password_hash, tokens_valid_after=now, updated_at=now)
            )

    async def delete_user(self, user_id: str) -> bool:
        """Remove the user, its memberships and tokens; False when there was none.

        Refused (ConflictError) for the last active owner.
        """
        revocations: Revocations = []
        async with self._owner_changes, self._writing(revocations) as connection:
            current = await queries.user_where(connection, users.c.id == user_id)
            if current is not None and current.role == ROLE_OWNER and current.active:
                await queries.ensure_another_active_owner(connection, user_id)
            deleted = await queries.delete_users(connection, [user_id]) > 0
            if deleted:
                revocations.append((user_id, REASON_DELETED))
            return deleted

    # ---- users mirrored from the cloud ---------------------------------------------------

    async def upsert_cloud_user(
        self,
        cloud_user_id: str,
        *,
        username: str,
        role: str = ROLE_USER,
        station_password_hash: str | None = None,
        active: bool = True,
    ) -> User:
        """Create or update the user linked to ``cloud_user_id``.

        A username held by any other user is a ConflictError, a local account included:
        linking by name would let the cloud take over an account it never managed (a
        CLI-created owner, say), so the station's admin must rename one of them.
        ``station_password_hash`` None leaves the stored hash alone, "" clears it.
        """
        member = queries.checked_member(
            CloudMember(
                cloud_user_id,
                username,
                role,
                station_password_hash=station_password_hash,
                active=active,
            )
        )
        revocations: Revocations = []
        async with self._writing(revocations) as connection:
            return await self._upsert_cloud_in(connection, member, revocations)

    async def update_cloud_user(
        self,
        cloud_user_id: str,
        *,
        username: str | None = None,
        role: str | None = None,
        active: bool | None = None,
    ) -> User | None:
        """Change the user linked to ``cloud_user_id``; None when no user is linked."""
        revocations: Revocations = []
        async with self._writing(revocations) as connection:
            current = await queries.user_where(connection, users.c.cloud_user_id == cloud_user_id)
            if current is None:
                return None
            return await self._update_in(connection, current, username, role, active, revocations)

    async def delete_cloud_user(self, cloud_user_id: str) -> bool:
        """``member_removed``: the user, its memberships and tokens go; its live sockets
        close at once."""
        revocations: Revocations = []
        async with self._writing(revocations) as connection:
            current = await queries.user_where(connection, users.c.cloud_user_id == cloud_user_id)
            if current is None:
                return False
            revocations.append((current.id, REASON_CLOUD_REMOVED))
            return await queries.delete_users(connection, [current.id]) > 0

    async def set_station_password_hash(
        self, cloud_user_id: str, password_hash: str | None
    ) -> bool:
        """Store the cloud's hash (bcrypt or argon2; None clears it); sessions issued
        before now stop working. False when no user is linked to ``cloud_user_id``."""
        if password_hash is not None:
            password_hash = validation.password_hash(password_hash)
        now = self.clock()
        revocations: Revocations = []
        async with self._writing(revocations) as connection:
            current = await queries.user_where(connection, users.c.cloud_user_id == cloud_user_id)
            if current is None:
                return False
            if password_hash != await queries.station_hash_of(connection, current.id):
                revocations.append((current.id, REASON_PASSWORD))
                await connection.execute(
                    sa.update(users)
                    .where(users.c.id == current.id)
                    .values(
                        station_password_hash=password_hash,
                        tokens_valid_after=now,
                        updated_at=now,
                    )
                )
            return True

    async def sync_identity(
        self,
        members: Sequence[CloudMember],
        *,
        station_name: str | None = None,
        owner_cloud_user_id: str | None = None,
        remove_missing: bool = True,
    ) -> list[User]:
        """Mirror the cloud's view of the hub's station in one transaction.

        Upserts every member (user and station membership), renames the station, sets
        its owner, and (``remove_missing``) deletes cloud-linked users the cloud no longer
        lists. Local-only users are never touched. Everything is checked before anything
        is written, so a bad member leaves the previous state intact.
        """
        checked = [queries.checked_member(member) for member in members]
        ids = [member.cloud_user_id for member in checked]
        if len(set(ids)) != len(ids):
            raise InvalidValueError("the member list names a cloud user more than once")
        if station_name is not None:
            station_name = validation.station_name(station_name)
        now = self.clock()
        revocations: Revocations = []
        async with self._writing(revocations) as connection:
            await self._ensure_station_in(connection, self.station_id, now)
            if station_name is not None:
                await connection.execute(
                    sa.update(stations)
                    .where(stations.c.id == self.station_id)
                    .values(name=station_name, updated_at=now)
                )
            if remove_missing:
                stale = await connection.execute(
                    sa.select(users.c.id).where(
                        users.c.cloud_user_id.is_not(None), users.c.cloud_user_id.not_in(ids)
                    )
                )
                stale_ids = [row.id for row in stale]
                await queries.delete_users(connection, stale_ids)
                revocations.extend((user_id, REASON_CLOUD_REMOVED) for user_id in stale_ids)
            synced = []
            for member in checked:
                user = await self._upsert_cloud_in(connection, member, revocations)
                await self._set_member_in(
                    connection, self.station_id, user.id, member.station_role, now, revocations
                )
                synced.append(user)
            if owner_cloud_user_id is not None:
                owner = await queries.user_where(
                    connection, users.c.cloud_user_id == owner_cloud_user_id
                )
                if owner is None:
                    raise NotFoundError(f"no user is linked to cloud user {owner_cloud_user_id!r}")
                await self._owner_leaves(connection, self.station_id, owner.id, revocations)
                await connection.execute(
                    sa.update(stations)
                    .where(stations.c.id == self.station_id)
                    .values(owner_user_id=owner.id, updated_at=now)
                )
            return synced

    # ---- stations and members ----------------------------------------------------------

    async def ensure_station(
        self, station_id: str | None = None, name: str | None = None
    ) -> Station:
        """The station's row, created (named ``name`` or the hub's name) when missing."""
        station_id = station_id or self.station_id
        async with self._writing() as connection:
            await self._ensure_station_in(connection, station_id, self.clock(), name)
            return await queries.require_station(connection, station_id)

    async def get_station(self, station_id: str | None = None) -> Station | None:
        async with self._engine.connect() as connection:
            return await queries.get_station(connection, station_id or self.station_id)

    async def rename_station(self, name: str, station_id: str | None = None) -> Station:
        name = validation.station_name(name)
        station_id = station_id or self.station_id
        now = self.clock()
        async with self._writing() as connection:
            await self._ensure_station_in(connection, station_id, now, name)
            await connection.execute(
                sa.update(stations)
                .where(stations.c.id == station_id)
                .values(name=name, updated_at=now)
            )
            return await queries.require_station(connection, station_id)

    async def set_station_owner(
        self, user_id: str | None, station_id: str | None = None
    ) -> Station:
        """Make ``user_id`` the station's owner (None: no owner)."""
        station_id = station_id or self.station_id
        now = self.clock()
        revocations: Revocations = []
        async with self._writing(revocations) as connection:
            if user_id is not None:
                await queries.require_user(connection, user_id)
            await self._ensure_station_in(connection, station_id, now)
            await self._owner_leaves(connection, station_id, user_id, revocations)
            await connection.execute(
                sa.update(stations)
                .where(stations.c.id == station_id)
                .values(owner_user_id=user_id, updated_at=now)
            )
            return await queries.require_station(connection, station_id)

    async def set_member(self, user_id: str, role: str, station_id: str | None = None) -> Member:
        """Add the user to the station, or change its role there."""
        role = validation.station_role(role)
        station_id = station_id or self.station_id
        now = self.clock()
        revocations: Revocations = []
        async with self._writing(revocations) as connection:
            await queries.require_user(connection, user_id)
            await self._ensure_station_in(connection, station_id, now)
            await self._set_member_in(connection, station_id, user_id, role, now, revocations)
        return Member(station_id, user_id, role)

    async def remove_member(self, user_id: str, station_id: str | None = None) -> bool:
        station_id = station_id or self.station_id
        revocations: Revocations = []
        async with self._writing(revocations) as connection:
            result = await connection.execute(
                sa.delete(station_members).where(
                    station_members.c.station_id == station_id,
                    station_members.c.user_id == user_id,
                )
            )
            if result.rowcount > 0:
                revocations.append((user_id, REASON_STATION_ROLE))
            return result.rowcount > 0

    async def list_members(self, station_id: str | None = None) -> list[Member]:
        station_id = station_id or self.station_id
        async with self._engine.connect() as connection:
            rows = await connection.execute(
                sa.select(station_members)
                .where(station_members.c.station_id == station_id)
                .order_by(station_members.c.created_at)
            )
            return [Member(row.station_id, row.user_id, row.role) for row in rows]

    # ---- shared steps ------------------------------------------------------------------

    async def _set_member_in(
        self,
        connection: AsyncConnection,
        station_id: str,
        user_id: str,
        role: str,
        now: float,
        revocations: Revocations,
    ) -> None:
        """Set a station role; a member whose existing role changes loses its sessions."""
        previous = await connection.execute(
            sa.select(station_members.c.role).where(
                station_members.c.station_id == station_id, station_members.c.user_id == user_id
            )
        )
        old_role = previous.scalar_one_or_none()
        await queries.set_member(connection, station_id, user_id, role, now)
        if old_role is not None and old_role != role:
            revocations.append((user_id, REASON_STATION_ROLE))

    async def _owner_leaves(
        self,
        connection: AsyncConnection,
        station_id: str,
        new_owner: str | None,
        revocations: Revocations,
    ) -> None:
        """The station's current owner, when replaced, loses the sessions it had as owner."""
        station = await queries.get_station(connection, station_id)
        if station is not None and station.owner_user_id not in (None, new_owner):
            revocations.append((station.owner_user_id, REASON_STATION_ROLE))

    async def _ensure_station_in(
        self, connection: AsyncConnection, station_id: str, now: float, name: str | None = None
    ) -> None:
        if await queries.get_station(connection, station_id) is None:
            await connection.execute(
                sa.insert(stations).values(
                    id=station_id,
                    name=name or self.station_name,
                    owner_user_id=None,
                    created_at=now,
                    updated_at=now,
                )
            )

    async def _claim_station_if_unowned(
        self, connection: AsyncConnection, user_id: str, now: float
    ) -> None:
        await self._ensure_station_in(connection, self.station_id, now)
        await connection.execute(
            sa.update(stations)
            .where(stations.c.id == self.station_id, stations.c.owner_user_id.is_(None))
            .values(owner_user_id=user_id, updated_at=now)
        )

    async def _update_in(
        self,
        connection: AsyncConnection,
        current: User,
        username: str | None,
        role: str | None,
        active: bool | None,
        revocations: Revocations,
    ) -> User:
        now = self.clock()
        values: dict[str, Any] = {"updated_at": now}
        if username is not None and username != current.username:
            values["username"] = validation.username(username)
            values["username_key"] = validation.username_key(username)
            await queries.ensure_username_free(connection, username, except_user_id=current.id)
        if role is not None:
            values["role"] = validation.role(role)
            if role != current.role:
                revocations.append((current.id, REASON_ROLE))
        if active is not None:
            values["active"] = bool(active)
            if current.active and not active:
                values["tokens_valid_after"] = now
                revocations.append((current.id, REASON_DEACTIVATED))
        await connection.execute(sa.update(users).where(users.c.id == current.id).values(values))
        return await queries.require_user(connection, current.id)

    async def _upsert_cloud_in(
        self, connection: AsyncConnection, member: CloudMember, revocations: Revocations
    ) -> User:
        now = self.clock()
        current = await queries.user_where(
            connection, users.c.cloud_user_id == member.cloud_user_id
        )
        holder = await queries.user_where(connection, queries.by_username(member.username))
        if holder is not None and (current is None or holder.id != current.id):
            kind = "a local account" if holder.cloud_user_id is None else "another cloud user"
            raise ConflictError(f"username {member.username!r} is already used by {kind}")
        if current is None:
            user_id = uuid.uuid4().hex
            await connection.execute(
                sa.insert(users).values(
                    id=user_id,
                    username=member.username,
                    username_key=validation.username_key(member.username),
                    role=member.role,
                    password_hash=None,
                    station_password_hash=member.station_password_hash or None,
                    cloud_user_id=member.cloud_user_id,
                    active=member.active,
                    tokens_valid_after=0.0,
                    created_at=now,
                    updated_at=now,
                )
            )
            return await queries.require_user(connection, user_id)
        values: dict[str, Any] = {
            "username": member.username,
            "username_key": validation.username_key(member.username),
            "role": member.role,
            "active": member.active,
            "cloud_user_id": member.cloud_user_id,
            "updated_at": now,
        }
        if member.station_password_hash is not None:
            new_hash = member.station_password_hash or None
            if new_hash != await queries.station_hash_of(connection, current.id):
                # A changed password ends the sessions opened with the old one; a sync
                # that repeats the same hash must not sign everyone out.
                values["station_password_hash"] = new_hash
                values["tokens_valid_after"] = now
                revocations.append((current.id, REASON_PASSWORD))
        if current.active and not member.active:
            values["tokens_valid_after"] = now
            revocations.append((current.id, REASON_DEACTIVATED))
        if member.role != current.role:
            revocations.append((current.id, REASON_ROLE))
        await connection.execute(sa.update(users).where(users.c.id == current.id).values(values))
        return await queries.require_user(connection, current.id)
