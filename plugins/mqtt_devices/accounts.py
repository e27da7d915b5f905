"""The life of per-device broker accounts in a running hub.

``device_identities: dynsec`` means: before the hub's first session the broker's roles
are put in place (``before_session``), provisioning makes a device's account
(``new``/``issue``), and forgetting a device deletes it (``ForgottenDevices``). The rules
themselves (who may do what) are in ``identities.py``; the control channel in
``dynsec.py``. With identities off, or the loopback-only embedded broker, every step is a
no-op and ``new`` answers None.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from .config import BrokerAddress, MqttSettings
from .connection import MqttConnection, tls_context
from .const import IDENTITIES_DYNSEC
from .dynsec import DynsecAdmin, DynsecError, DynsecUnreachable
from .forgotten import ForgottenDevices
from .identities import DeviceCredentials, DeviceIdentities

if TYPE_CHECKING:
    from hub.core import Hub

_LOGGER = logging.getLogger(__name__)

# After a role grant drops the hub's live session, wait this long for the next one.
RECONNECT_WAIT = 3.0
STOP_WAIT = 15.0

# Shown at /api/health as identities.state.
OFF = "off"
PENDING = "pending"
READY = "ready"
UNAVAILABLE = "unavailable"
LOOPBACK_ONLY = "loopback_only"


class DeviceAccounts:
    def __init__(self, hub: Hub, settings: MqttSettings, client_id: str) -> None:
        self._hub = hub
        self._settings = settings
        self._client_id = client_id
        self._connection: MqttConnection | None = None
        self.identities: DeviceIdentities | None = None
        self.forgotten: ForgottenDevices | None = None
        self.state = OFF
        self.error: str | None = None
        self.ready = asyncio.Event()
        self._retry_setup = True
        self._setup_lock = asyncio.Lock()

    def start(self, address: BrokerAddress, mode: str, connection: MqttConnection) -> None:
        """Decide whether devices get accounts on this broker; the broker is not asked yet."""
        self._connection = connection
        if mode == "embedded":
            # Loopback only (see EmbeddedBroker): no device on the LAN can reach it at all.
            self.state = LOOPBACK_ONLY
            return
        if self._settings.device_identities != IDENTITIES_DYNSEC:
            self._security_problem(
                logging.WARNING,
                "mqtt_devices.device_identities is off: every client that can log in to "
                f"{address.url} can publish as any device, read every command and take over "
                "sessions. Load Mosquitto's dynamic security plugin (config/mosquitto.conf) "
                "and set device_identities: dynsec",
            )
            return
        admin = DynsecAdmin(
            address,
            client_id_prefix=f"{self._client_id}-dynsec",
            tls_context=tls_context(self._settings.tls) if address.tls else None,
        )
        self.identities = DeviceIdentities(
            admin,
            self._hub.station_id,
            hub_username=address.username,
            legacy_account=self._settings.legacy_device_account,
            hub_client_id=self._client_id,
        )
        self.forgotten = ForgottenDevices(
            self.identities, self._hub.devices, self._hub.bus, self._hub.create_task
        )
        self.state = PENDING

    async def stop(self) -> None:
        if self.forgotten is not None:
            self.forgotten.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.forgotten.settle(), STOP_WAIT)

    async def before_session(self) -> None:
        """Put the hub's broker role in place before its session publishes anything.

        Mosquitto disconnects a client whose publish it refuses, so a hub without its role
        would lose each session at its first ``online``. Tried before every attempt while
        the broker is unreachable; after any other failure (no plugin: a timeout) only
        ``issue`` tries again, so reconnects are not slowed down. Never raises.
        """
        if self.identities is None or self.ready.is_set() or not self._retry_setup:
            return
        try:
            await self.ensure()
        except DynsecUnreachable:
            self._retry_setup = True
        except DynsecError as error:
            self._retry_setup = False
            broker = self._connection.address.url if self._connection else "the broker"
            self._security_problem(
                logging.ERROR,
                f"devices cannot get their own MQTT accounts at {broker}, so BLE "
                f"provisioning is refused: {error}",
            )

    def _security_problem(self, level: int, problem: str) -> None:
        """In the log now, and again in the start-up summary, where an operator looks."""
        line = f"SECURITY: {problem}"
        _LOGGER.log(level, "%s", line)
        self._hub.add_startup_note(line)

    async def ensure(self) -> DeviceIdentities:
        """The identities, their broker roles in place; retried after a failure."""
        async with self._setup_lock:  # one setup at a time: a role grant drops sessions
            return await self._setup_once()

    async def _setup_once(self) -> DeviceIdentities:
        assert self.identities is not None
        if self.ready.is_set():
            return self.identities
        connection = self._connection
        live = connection is not None and connection.connected.is_set()
        connects = connection.connects if connection is not None else 0
        try:
            kicked = await self.identities.setup()
        except DynsecError as error:
            self.state = UNAVAILABLE
            self.error = str(error)
            raise
        if kicked and live and connection is not None:
            # The broker dropped the hub's live session to apply its new role: ready means
            # the session that has the role is up (it also says "online" again).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(connection.wait_for_session(connects + 1), RECONNECT_WAIT)
        self.state = READY
        self.error = None
        self.ready.set()
        return self.identities

    def new(self, external_id: str) -> DeviceCredentials | None:
        """Credentials to hand a device before ``issue`` applies them; None when devices get
        no accounts (identities off, or the loopback-only embedded broker)."""
        if self.identities is None:
            return None
        return self.identities.new_credentials(external_id)

    async def issue(
        self, external_id: str, credentials: DeviceCredentials | None = None
    ) -> DeviceCredentials | None:
        """Make (or re-key) a device's broker account (BLE provisioning, tests).

        None when devices get no accounts; raises ``DynsecError`` when they should but the
        broker cannot make one (the caller refuses to provision rather than hand out a
        device that cannot log in), ``IdentityRefused`` for an id the hub may not use.
        """
        if self.identities is None:
            return None
        identities = await self.ensure()
        return await identities.issue(external_id, credentials)

    def remember(self, device_id: str, external_id: str) -> None:
        """A device registered without a handshake (BLE provisioning): revoke its account
        if it is forgotten."""
        if self.forgotten is not None:
            self.forgotten.remember(device_id, external_id)

    async def revoke(self, external_id: str) -> None:
        """Delete a device's account, if the hub made it (a provisioning that failed)."""
        if self.identities is not None:
            await self.identities.revoke(external_id)

    def health(self) -> dict[str, Any]:
        info: dict[str, Any] = {"mode": self._settings.device_identities, "state": self.state}
        if self.identities is not None:
            info["issued"] = self.identities.issued
            info["revoked"] = self.forgotten.revoked if self.forgotten else 0
            info["legacyAccount"] = self.identities.legacy_account is not None
        return info
