"""Typed services one integration offers another, through the core.

An integration that needs something from another one would otherwise import that
integration's package and read its internals (its YAML, its store), which ties the two
together however the dependency is declared. Here the core names the service and its
type (a ``ServiceKey``), the providing integration hands a value to its registrar
(``registrar.provide(KEY, value)``), and a user asks for it
(``hub.registrations.services.get(KEY)``), getting ``None`` when no running integration
provides it. Like every registration, a service records its owner, a second provider is
refused, and a failed provider's services are withdrawn.

The services the built-ins offer are defined here, with the types they carry:

- ``DEVICE_BROKER`` (``mqtt_devices``): the MQTT broker address devices are given.
- ``STATION_MEMBERS`` (``auth``): the station's copy of its cloud membership, which the
  cloud link keeps in step with the cloud.
- ``CLOUD_NOTIFICATIONS`` (``cloud_link``, only when a cloud URL is configured): send a
  JSON-RPC notification to the cloud (automations' ``notify_cloud`` uses it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar, cast
from urllib.parse import urlsplit, urlunsplit

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ServiceKey(Generic[T]):
    """The name of a service and, as its type parameter, the type of its value."""

    name: str


class ServiceError(ValueError):
    """A second provider for a service; names both integrations."""


class Services:
    """The services running integrations provide, by key, with their owners."""

    __slots__ = ("_provided",)

    def __init__(self) -> None:
        self._provided: dict[str, tuple[str, Any]] = {}

    def provide(self, key: ServiceKey[T], value: T, *, owner: str) -> None:
        existing = self._provided.get(key.name)
        if existing is not None:
            raise ServiceError(f"{owner}: service {key.name} is already provided by {existing[0]}")
        self._provided[key.name] = (owner, value)

    def get(self, key: ServiceKey[T]) -> T | None:
        """The value, or None when no running integration provides it."""
        entry = self._provided.get(key.name)
        return cast("T", entry[1]) if entry is not None else None

    def provider(self, key: ServiceKey[Any]) -> str | None:
        entry = self._provided.get(key.name)
        return entry[0] if entry is not None else None

    def withdraw(self, owner: str) -> None:
        for name in [name for name, (by, _) in self._provided.items() if by == owner]:
            del self._provided[name]


# ---- DEVICE_BROKER: where devices reach MQTT ------------------------------------------

#: Host names that mean "this machine": an address a device cannot use to reach the hub.
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0", "::"})


@dataclass(frozen=True, slots=True)
class DeviceBroker:
    """The broker address to give a device, as the MQTT integration knows it.

    ``url`` is ``mqtt://host:port`` (or ``mqtts://``) without any login, or None when
    the broker is only known by a loopback address (or is chosen at start-up) and the
    hub cannot tell which address devices reach it at. ``hub_username`` is the hub's
    own broker account, kept only so ``for_devices`` can take it out of an address
    written by hand; it is never part of ``url``.
    """

    url: str | None
    hub_username: str | None = field(default=None, repr=False)

    def for_devices(self, url: str) -> str:
        """``url`` without ``user:password@`` when that user is the hub's own: a device
        must never be handed the hub's credentials. A device account written there on
        purpose (a broker without per-device identities) is kept."""
        if self.hub_username and urlsplit(url).username == self.hub_username:
            return without_login(url)
        return url


def without_login(url: str) -> str:
    """``url`` without ``user:password@``."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


DEVICE_BROKER: ServiceKey[DeviceBroker] = ServiceKey("device_broker")


# ---- STATION_MEMBERS: the station's copy of its cloud membership -----------------------


@dataclass(frozen=True, slots=True)
class CloudMember:
    """One member as the cloud describes it.

    ``role`` is the member's global role on the station's API (owner, admin, user),
    ``station_role`` their role on the station (owner, admin, member).
    ``station_password_hash`` None leaves the stored hash unchanged; "" clears it.
    """

    cloud_user_id: str
    username: str
    role: str = "user"
    station_role: str = "member"
    station_password_hash: str | None = None
    active: bool = True


class StationMembers(Protocol):
    """What the cloud link needs to mirror the cloud's membership (provided by ``auth``).

    Every method raises ``ValueError`` with a readable reason for a change the store
    refuses (a taken username, a bad hash), so the caller can report it as refused.
    """

    async def sync(
        self,
        members: Sequence[CloudMember],
        *,
        station_name: str | None,
        owner_cloud_user_id: str | None,
    ) -> None:
        """Upsert every member, drop cloud members no longer listed, rename the station
        and set its owner, all or nothing."""
        ...

    async def rename_station(self, name: str) -> None: ...

    async def upsert_member(self, member: CloudMember) -> None:
        """Create or update the user linked to the member, with its station role."""
        ...

    async def update_member(
        self,
        cloud_user_id: str,
        *,
        username: str | None = None,
        role: str | None = None,
        station_role: str | None = None,
    ) -> bool:
        """Change the fields given; False when no user is linked to ``cloud_user_id``."""
        ...

    async def has_member(self, cloud_user_id: str) -> bool: ...

    async def set_password_hash(self, cloud_user_id: str, password_hash: str | None) -> bool:
        """Store the cloud's hash (None clears it); False when the member is unknown."""
        ...

    async def remove_member(self, cloud_user_id: str) -> bool:
        """The user, its memberships and its tokens go; False when it was unknown."""
        ...


STATION_MEMBERS: ServiceKey[StationMembers] = ServiceKey("station_members")


# ---- CLOUD_NOTIFICATIONS: tell the cloud something ----------------------------------------


class CloudNotifications(Protocol):
    """A one-way message to the cloud on the link's live session (provided by
    ``cloud_link`` while it has a cloud to talk to; absent on a station without one)."""

    async def notify(self, method: str, params: dict[str, Any]) -> None:
        """Send ``method`` as a JSON-RPC notification; ``ConnectionError`` (with a reason
        a person can read) when the link is not connected right now: nothing is queued."""
        ...


CLOUD_NOTIFICATIONS: ServiceKey[CloudNotifications] = ServiceKey("cloud_notifications")
