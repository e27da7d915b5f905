"""Identity messages from the cloud, applied through the core's ``STATION_MEMBERS``.

The cloud owns the membership of a claimed station; the station keeps a copy so people
can log in on the LAN while the uplink is down. The writes go through the
``hub.services.StationMembers`` service the auth integration provides, never straight to
its tables (and without importing it), because its store also clears the caches its auth
schemes read: a member the cloud removes is refused on the very next request, not when a
cache entry expires.

This module only translates the cloud's camelCase payloads (docs/cloud-protocol.md) into
store calls; unknown extra keys are allowed so the cloud can add fields without breaking
stations. A member's role on the station also decides their global role on the
station's own API (``GLOBAL_ROLE_FOR``).
"""

from __future__ import annotations

from typing import Any

import voluptuous as vol

from hub.services import CloudMember, StationMembers

GLOBAL_ROLE_FOR = {"owner": "owner", "admin": "admin", "member": "user"}
# The cloud protocol's station roles and bounds (docs/cloud-protocol.md); the member
# store checks its own rules again, and refuses what breaks them.
STATION_ROLES = tuple(GLOBAL_ROLE_FOR)
MAX_ID_CHARS = 128
MAX_USERNAME_CHARS = 128

CLOUD_USER_ID = vol.All(str, vol.Length(min=1, max=MAX_ID_CHARS))
USERNAME = vol.All(str, vol.Length(min=1, max=MAX_USERNAME_CHARS))
STATION_NAME = vol.All(str, vol.Length(min=1, max=128))
# A hash string, or null to clear it; the store checks the format (bcrypt or argon2).
PASSWORD_HASH = vol.Any(None, str)

MEMBER = vol.Schema(
    {
        vol.Required("cloudUserId"): CLOUD_USER_ID,
        vol.Required("username"): USERNAME,
        vol.Optional("role", default="member"): vol.In(STATION_ROLES),
        vol.Optional("stationPasswordHash"): PASSWORD_HASH,
    },
    extra=vol.ALLOW_EXTRA,
)
MEMBER_CHANGE = vol.Schema(
    {
        vol.Required("cloudUserId"): CLOUD_USER_ID,
        vol.Optional("username"): USERNAME,
        vol.Optional("role"): vol.In(STATION_ROLES),
        vol.Optional("stationPasswordHash"): PASSWORD_HASH,
    },
    extra=vol.ALLOW_EXTRA,
)
IDENTITY_SYNC = vol.Schema(
    {
        vol.Optional("station", default={}): vol.Schema(
            {
                vol.Optional("name"): STATION_NAME,
                vol.Optional("ownerCloudUserId"): vol.Any(None, CLOUD_USER_ID),
            },
            extra=vol.ALLOW_EXTRA,
        ),
        vol.Required("members"): [MEMBER],
    },
    extra=vol.ALLOW_EXTRA,
)
RENAMED = vol.Schema({vol.Required("name"): STATION_NAME}, extra=vol.ALLOW_EXTRA)
REMOVED = vol.Schema({vol.Required("cloudUserId"): CLOUD_USER_ID}, extra=vol.ALLOW_EXTRA)
PASSWORD_CHANGED = vol.Schema(
    {
        vol.Required("cloudUserId"): CLOUD_USER_ID,
        vol.Required("stationPasswordHash"): PASSWORD_HASH,
    },
    extra=vol.ALLOW_EXTRA,
)


class IdentityMessages:
    """One method per legacy identity message; each raises ValueError (or vol.Invalid)
    with a readable reason when the message cannot be applied."""

    def __init__(self, members: StationMembers) -> None:
        self._members = members

    async def identity_sync(self, message: dict[str, Any]) -> None:
        """The whole member list: upsert everyone, drop cloud members no longer listed,
        rename the station and set its owner, all in one transaction (all or nothing)."""
        sync = IDENTITY_SYNC(_body(message))
        station = sync["station"]
        owner = station.get("ownerCloudUserId") or next(
            (m["cloudUserId"] for m in sync["members"] if m["role"] == "owner"), None
        )
        members = [
            _cloud_member({**m, "role": "owner"} if m["cloudUserId"] == owner else m)
            for m in sync["members"]
        ]
        await self._members.sync(
            members, station_name=station.get("name"), owner_cloud_user_id=owner
        )

    async def station_renamed(self, message: dict[str, Any]) -> None:
        await self._members.rename_station(RENAMED(_body(message))["name"])

    async def member_added(self, message: dict[str, Any]) -> None:
        await self._members.upsert_member(_cloud_member(MEMBER(_member(message))))

    async def member_updated(self, message: dict[str, Any]) -> None:
        """Changes only the fields present. A member the station does not know yet is
        added when the message names them fully (it heals a missed ``member_added``)."""
        change = MEMBER_CHANGE(_member(message))
        cloud_user_id = change["cloudUserId"]
        if not await self._members.has_member(cloud_user_id):
            if "username" not in change:
                raise ValueError(f"no local user for cloud user {cloud_user_id}")
            await self.member_added({"member": change})
            return
        role = change.get("role")
        await self._members.update_member(
            cloud_user_id,
            username=change.get("username"),
            role=GLOBAL_ROLE_FOR[role] if role else None,
            station_role=role,
        )
        if "stationPasswordHash" in change:
            await self._members.set_password_hash(cloud_user_id, change["stationPasswordHash"])

    async def member_removed(self, message: dict[str, Any]) -> None:
        await self._members.remove_member(REMOVED(_member(message))["cloudUserId"])

    async def station_password_changed(self, message: dict[str, Any]) -> None:
        change = PASSWORD_CHANGED(_member(message))
        found = await self._members.set_password_hash(
            change["cloudUserId"], change["stationPasswordHash"]
        )
        if not found:
            raise ValueError(f"no local user for cloud user {change['cloudUserId']}")


def _cloud_member(member: dict[str, Any]) -> CloudMember:
    return CloudMember(
        cloud_user_id=member["cloudUserId"],
        username=member["username"],
        role=GLOBAL_ROLE_FOR[member["role"]],
        station_role=member["role"],
        station_password_hash=_hash_argument(member),
    )


def _hash_argument(member: dict[str, Any]) -> str | None:
    """The store reads None as "leave alone" and "" as "clear"; the cloud says null to
    clear and leaves the key out to leave alone."""
    if "stationPasswordHash" not in member:
        return None
    return member["stationPasswordHash"] or ""


def _body(message: dict[str, Any]) -> dict[str, Any]:
    """The message without its ``type``; fields wrapped in ``data`` are accepted too."""
    data = message.get("data")
    if isinstance(data, dict):
        return data
    return {key: value for key, value in message.items() if key != "type"}


def _member(message: dict[str, Any]) -> dict[str, Any]:
    """Member messages carry the member flat or under ``member``; both are accepted."""
    body = _body(message)
    member = body.get("member")
    return member if isinstance(member, dict) else body
