"""Per-device broker identities: what each account may do, expressed as dynsec roles.

A device's account is named after its external id, bound to that same client id (so no
device can connect as the hub or as another device and take over its session), and has
exactly one role, ``station-hub:<S>:device:<D>``, which lets it

* publish on its own five device → hub topics (handshake, state, event, heartbeat,
  command/result) and nothing else: not another device's topics, not any command topic;
* subscribe to (and receive) only its own ``command`` and ``handshake/ack``.

The hub grants itself ``station-hub:<S>:hub`` (publish under ``station/<S>/``; the admin role
from ``mosquitto_ctrl dynsec init`` already lets it subscribe to everything). The optional
legacy account (migration) gets ``station-hub:<S>:legacy-devices``: every device's topics of
this station, minus those of each device that has its own identity (deny ACLs with a higher
priority, added when the identity is issued).

Only accounts the hub created are ever changed: an external id that names an account
without this station's device role (an operator's account, another station's device) is
refused, never overwritten.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any

from .const import COMMAND, COMMAND_RESULT, EVENT, HANDSHAKE, HANDSHAKE_ACK, HEARTBEAT, STATE
from .dynsec import DynsecAdmin, DynsecError, failed
from .topics import device_topic

_LOGGER = logging.getLogger(__name__)

PASSWORD_BYTES = 24
DEVICE_PUBLISHES = (HANDSHAKE, STATE, EVENT, HEARTBEAT, COMMAND_RESULT)
DEVICE_READS = (COMMAND, HANDSHAKE_ACK)
# Deny ACLs in the legacy role outrank its allows.
DENY_PRIORITY = 10
TEXT_NAME = "station-hub device"


class IdentityRefused(DynsecError):
    """The external id names a broker account the hub does not own."""


@dataclass(frozen=True, slots=True)
class DeviceCredentials:
    """What a device logs in with; ``client_id`` is enforced by the broker."""

    username: str
    password: str
    client_id: str

    def __repr__(self) -> str:
        return f"DeviceCredentials(username={self.username!r}, password=<hidden>)"


def _roles(answer: dict[str, Any]) -> set[str]:
    """The role names in a ``getClient`` answer (empty when the client does not exist)."""
    client = (answer.get("data") or {}).get("client") or {}
    return {str(item.get("rolename")) for item in client.get("roles") or []}


def _acl(acltype: str, topic: str, allow: bool = True, priority: int = 0) -> dict[str, Any]:
    return {"acltype": acltype, "topic": topic, "allow": allow, "priority": priority}


class DeviceIdentities:
    def __init__(
        self,
        admin: DynsecAdmin,
        station_id: str,
        *,
        hub_username: str | None,
        legacy_account: str | None = None,
        hub_client_id: str | None = None,
    ) -> None:
        self._admin = admin
        self._station = station_id
        self.hub_username = hub_username
        self.legacy_account = legacy_account
        # A device's account is bound to the client id named like the device: an id equal
        # to the hub's (or one of its admin connections') would hand over its session.
        self.hub_client_id = hub_client_id
        self.issued = 0

    # ---- names -------------------------------------------------------------------------

    @property
    def hub_role(self) -> str:
        return f"station-hub:{self._station}:hub"

    @property
    def legacy_role(self) -> str:
        return f"station-hub:{self._station}:legacy-devices"

    def device_role(self, external_id: str) -> str:
        return f"station-hub:{self._station}:device:{external_id}"

    def _topic(self, external_id: str, leaf: str) -> str:
        return device_topic(self._station, external_id, leaf)

    # ---- start-up ----------------------------------------------------------------------

    async def setup(self) -> bool:
        """Give the hub its publish rights; create, grant or withdraw the legacy role.

        Mosquitto disconnects every client of an account whose roles change. So a role is
        added only when it is missing: the hub's own connection is dropped once, on its
        first start with dynsec (it reconnects at once), and never again. Returns True when
        that happened now.
        """
        if not self.hub_username:
            raise DynsecError(
                "the hub logs in to the broker without an account of its own; set "
                "mqtt_devices.username and password to one with the dynsec admin role "
                '(docs/mqtt-protocol.md, "Device identities")'
            )
        if self.legacy_account == self.hub_username:
            raise DynsecError("mqtt_devices.legacy_device_account must not be the hub's account")
        station = f"station/{self._station}/#"
        any_device = f"station/{self._station}/device/+"
        commands: list[dict[str, Any]] = [
            {
                "command": "createRole",
                "rolename": self.hub_role,
                "textdescription": "Station Hub itself: reserved, never given to a device",
                "acls": [
                    _acl("publishClientSend", station),
                    _acl("publishClientReceive", "station/#"),
                    _acl("subscribePattern", "station/#"),
                ],
            },
            {"command": "getClient", "username": self.hub_username},
        ]
        if self.legacy_account:
            commands += [
                {
                    "command": "createRole",
                    "rolename": self.legacy_role,
                    "textdescription": "Devices not yet re-provisioned (shared account)",
                    "acls": [
                        *(
                            _acl("publishClientSend", f"{any_device}/{leaf}")
                            for leaf in DEVICE_PUBLISHES
                        ),
                        *(
                            _acl("subscribePattern", f"{any_device}/{leaf}")
                            for leaf in DEVICE_READS
                        ),
                        *(
                            _acl("publishClientReceive", f"{any_device}/{leaf}")
                            for leaf in DEVICE_READS
                        ),
                    ],
                },
                {"command": "getClient", "username": self.legacy_account},
            ]
        else:
            commands.append({"command": "getRole", "rolename": self.legacy_role})
        answers = await self._admin.run(commands)
        for command, answer in zip(commands, answers, strict=True):
            error = failed(answer, "Role already exists")
            if command["command"] == "createRole" and error is not None:
                raise DynsecError(f"createRole {command['rolename']}: {error}")
        kicked = self.hub_role not in _roles(answers[1])
        if kicked:
            await self._admin.run_kicking_myself(
                [
                    {
                        "command": "addClientRole",
                        "username": self.hub_username,
                        "rolename": self.hub_role,
                    }
                ]
            )
            (check,) = await self._admin.run(
                [{"command": "getClient", "username": self.hub_username}]
            )
            if self.hub_role not in _roles(check):
                raise DynsecError(
                    f"could not give {self.hub_username!r} the role {self.hub_role}: "
                    f"{check.get('error') or 'the broker did not keep it'}"
                )
        if self.legacy_account:
            await self._grant_legacy(answers[3])
        elif "error" not in answers[2]:
            # Not configured (any more): whoever had the legacy rights loses them now.
            (answer,) = await self._admin.run(
                [{"command": "deleteRole", "rolename": self.legacy_role}]
            )
            if (error := failed(answer, "Role not found")) is not None:
                raise DynsecError(f"deleteRole {self.legacy_role}: {error}")
        return kicked

    async def _grant_legacy(self, client: dict[str, Any]) -> None:
        if client.get("error"):
            raise DynsecError(
                f"legacy_device_account {self.legacy_account!r}: {client['error']}; create it "
                f"once with 'mosquitto_ctrl ... dynsec createClient {self.legacy_account}' and "
                "the password the devices use today"
            )
        if self.legacy_role in _roles(client):
            return
        (answer,) = await self._admin.run(
            [
                {
                    "command": "addClientRole",
                    "username": self.legacy_account,
                    "rolename": self.legacy_role,
                }
            ]
        )
        if (error := failed(answer)) is not None:
            raise DynsecError(f"addClientRole {self.legacy_account}: {error}")

    # ---- devices -----------------------------------------------------------------------

    def new_credentials(self, external_id: str) -> DeviceCredentials:
        """Fresh credentials for a device, not yet known to the broker (see ``issue``)."""
        if external_id in (self.hub_username, self.legacy_account):
            raise IdentityRefused(
                f"device id {external_id!r} is reserved: it is the hub's or the legacy MQTT account"
            )
        hub = self.hub_client_id
        if hub and (external_id == hub or external_id.startswith(f"{hub}-")):
            raise IdentityRefused(
                f"device id {external_id!r} is reserved: it is (or starts like) the hub's MQTT "
                "client id"
            )
        return DeviceCredentials(external_id, secrets.token_urlsafe(PASSWORD_BYTES), external_id)

    async def issue(
        self, external_id: str, credentials: DeviceCredentials | None = None
    ) -> DeviceCredentials:
        """Create the device's account, or give the one the hub made earlier a new password.

        ``credentials`` from ``new_credentials`` lets a caller hand them out before they are
        applied (BLE provisioning of a known device changes its password only once the
        device has taken the new one). Refuses (``IdentityRefused``) an id that is the hub's
        or the legacy account, or that names an account the hub did not create for this
        station.
        """
        fresh = self.new_credentials(external_id)
        if credentials is not None and credentials.username != external_id:
            raise IdentityRefused(f"credentials for {credentials.username!r}, not {external_id!r}")
        password = (credentials or fresh).password
        role = self.device_role(external_id)
        acls = [
            _acl("publishClientSend", self._topic(external_id, leaf)) for leaf in DEVICE_PUBLISHES
        ]
        for leaf in DEVICE_READS:
            acls.append(_acl("subscribeLiteral", self._topic(external_id, leaf)))
            acls.append(_acl("publishClientReceive", self._topic(external_id, leaf)))
        answers = await self._admin.run(
            [
                {"command": "createRole", "rolename": role, "acls": acls},
                {
                    "command": "createClient",
                    "username": external_id,
                    "password": password,
                    "clientid": external_id,
                    "textname": TEXT_NAME,
                    "roles": [{"rolename": role}],
                },
            ]
        )
        role_error = failed(answers[0], "Role already exists")
        if role_error:
            raise DynsecError(f"createRole {role}: {role_error}")
        if answers[1].get("error") == "Client already exists":
            await self._reset_owned(external_id, password, role)
        elif (client_error := failed(answers[1])) is not None:
            raise DynsecError(f"createClient {external_id}: {client_error}")
        if self.legacy_account:
            await self._exclude_from_legacy(external_id)
        self.issued += 1
        return DeviceCredentials(external_id, password, external_id)

    async def _reset_owned(self, external_id: str, password: str, role: str) -> None:
        if not await self._owned(external_id, role):
            raise IdentityRefused(
                f"the broker already has an account {external_id!r} that Station Hub did not "
                "create for this station; choose another device id or remove that account"
            )
        # Disconnects whoever is logged in with the old password.
        (answer,) = await self._admin.run(
            [{"command": "setClientPassword", "username": external_id, "password": password}]
        )
        if (error := failed(answer)) is not None:
            raise DynsecError(f"setClientPassword {external_id}: {error}")

    async def _exclude_from_legacy(self, external_id: str) -> None:
        """The shared account may no longer act as, or listen for, this device.

        Changing the legacy role makes Mosquitto disconnect the devices still on it; they
        reconnect with the new rules (provisioning is rare, so this is too).
        """
        mine = self._topic(external_id, "#")
        commands = [
            {
                "command": "addRoleACL",
                "rolename": self.legacy_role,
                **_acl(kind, mine, False, DENY_PRIORITY),
            }
            for kind in ("publishClientSend", "publishClientReceive", "subscribePattern")
        ]
        for answer in await self._admin.run(commands):
            if (error := failed(answer, "ACL with this topic already exists")) is not None:
                _LOGGER.warning(
                    "Could not take %s away from the legacy MQTT account: %s", external_id, error
                )

    async def revoke(self, external_id: str) -> bool:
        """Delete the device's account and role if the hub made them; False if it did not."""
        role = self.device_role(external_id)
        if not await self._owned(external_id, role):
            return False
        answers = await self._admin.run(
            [
                {"command": "deleteClient", "username": external_id},
                {"command": "deleteRole", "rolename": role},
            ]
        )
        for answer in answers:
            if (error := failed(answer, "Client not found", "Role not found")) is not None:
                raise DynsecError(f"{answer.get('command')} {external_id}: {error}")
        return True

    async def _owned(self, external_id: str, role: str) -> bool:
        (answer,) = await self._admin.run([{"command": "getClient", "username": external_id}])
        return role in _roles(answer)
