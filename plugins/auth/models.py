"""What the auth store hands out: plain frozen records, never database rows or hashes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# The cloud's view of a member is part of the core's STATION_MEMBERS contract.
from hub.services import CloudMember as CloudMember
from hub.timestamps import iso


@dataclass(frozen=True, slots=True)
class User:
    id: str
    username: str
    role: str
    active: bool
    cloud_user_id: str | None
    has_password: bool
    tokens_valid_after: float
    created_at: float
    updated_at: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "username": self.username,
            "role": self.role,
            "active": self.active,
            "cloudUserId": self.cloud_user_id,
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
        }


@dataclass(frozen=True, slots=True)
class Station:
    id: str
    name: str
    owner_user_id: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "ownerUserId": self.owner_user_id}


@dataclass(frozen=True, slots=True)
class Member:
    station_id: str
    user_id: str
    role: str


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A long-lived token's record; the token itself is shown once, at creation."""

    id: str
    user_id: str
    name: str
    created_at: float
    expires_at: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "createdAt": iso(self.created_at),
            "expiresAt": iso(self.expires_at),
        }


@dataclass(frozen=True, slots=True)
class LoginRecord:
    """What a login needs and nothing leaves the store with: the user and its hashes."""

    user: User
    password_hash: str | None
    station_password_hash: str | None
