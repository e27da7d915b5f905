"""The auth integration's side of the core's ``STATION_MEMBERS`` service.

The cloud link mirrors the cloud's membership of the station into this integration's
tables. It reaches them through this adapter, provided as a typed core service, instead
of importing the auth package: the link runs without auth (identity messages are then
refused), and the store stays this integration's business. Writes go through the
``UserStore``, which also clears the caches the auth schemes read, so a member the cloud
removes is refused on the very next request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from hub.services import CloudMember, StationMembers

from .errors import AuthStoreError
from .store import UserStore


@asynccontextmanager
async def _refusals() -> AsyncIterator[None]:
    """A change the store refuses is a ValueError, as the protocol says."""
    try:
        yield
    except AuthStoreError as error:
        raise ValueError(str(error)) from None


class CloudMembers(StationMembers):
    """``StationMembers`` over the auth integration's ``UserStore``."""

    def __init__(self, store: UserStore) -> None:
        self._store = store

    async def sync(
        self,
        members: Sequence[CloudMember],
        *,
        station_name: str | None,
        owner_cloud_user_id: str | None,
    ) -> None:
        async with _refusals():
            await self._store.sync_identity(
                members, station_name=station_name, owner_cloud_user_id=owner_cloud_user_id
            )

    async def rename_station(self, name: str) -> None:
        async with _refusals():
            await self._store.rename_station(name)

    async def upsert_member(self, member: CloudMember) -> None:
        async with _refusals():
            user = await self._store.upsert_cloud_user(
                member.cloud_user_id,
                username=member.username,
                role=member.role,
                station_password_hash=member.station_password_hash,
            )
            await self._store.set_member(user.id, member.station_role)

    async def update_member(
        self,
        cloud_user_id: str,
        *,
        username: str | None = None,
        role: str | None = None,
        station_role: str | None = None,
    ) -> bool:
        async with _refusals():
            user = await self._store.update_cloud_user(cloud_user_id, username=username, role=role)
            if user is None:
                return False
            if station_role:
                await self._store.set_member(user.id, station_role)
        return True

    async def has_member(self, cloud_user_id: str) -> bool:
        return await self._store.get_user_by_cloud_id(cloud_user_id) is not None

    async def set_password_hash(self, cloud_user_id: str, password_hash: str | None) -> bool:
        async with _refusals():
            return await self._store.set_station_password_hash(cloud_user_id, password_hash)

    async def remove_member(self, cloud_user_id: str) -> bool:
        async with _refusals():
            return await self._store.delete_cloud_user(cloud_user_id)
