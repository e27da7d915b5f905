"""Provision one candidate: connect, hand over credentials, map every outcome to an answer.

For our own protocol the device also receives the station's details, a freshly minted
device token and, when the MQTT integration gives devices their own broker accounts, that
account's credentials; the token's SHA-256 is registered with the device registry so the
device's first requests are expected. Improv devices get only Wi-Fi (that is all Improv
carries). A device is never handed the hub's own broker credentials.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from hub.services import DEVICE_BROKER, LOOPBACK_HOSTS
from plugins.ble_provisioning.candidates import PROTOCOL_CUSTOM, PROTOCOL_IMPROV, Candidate
from plugins.ble_provisioning.config import BleSettings
from plugins.ble_provisioning.const import (
    DEFAULT_MQTT_PORT,
    IMPROV_RPC_COMMAND_UUID,
    IMPROV_SERVICE_UUID,
)
from plugins.ble_provisioning.credentials import MqttAccount, WifiCredentials, with_mqtt_account
from plugins.ble_provisioning.custom_protocol import (
    CustomCharacteristics,
    DeviceRejected,
    StationInfo,
    build_payload,
    provision_custom,
)
from plugins.ble_provisioning.improv import ImprovNotSupported, identify, provision_improv
from plugins.ble_provisioning.transport import (
    AnswerTimeout,
    BleError,
    BleTransport,
    BleUnavailable,
    CharacteristicMissing,
    ConnectTimeout,
    DeviceDisconnected,
    DeviceNotFound,
    GattError,
    GattSession,
)

if TYPE_CHECKING:
    from hub.core import Hub

_LOGGER = logging.getLogger(__name__)

_EXTERNAL_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")
TOKEN_BYTES = 32


class ProvisioningFailed(Exception):
    """Carries the HTTP answer for a provisioning attempt that did not succeed."""

    def __init__(
        self, status: int, code: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


# Transport and device failures → (HTTP status, error code). Order matters: subclasses first.
_FAILURES: tuple[tuple[type[BleError], int, str], ...] = (
    (BleUnavailable, 503, "ble_unavailable"),
    (DeviceNotFound, 404, "device_not_found"),
    (ConnectTimeout, 504, "connect_timeout"),
    (DeviceDisconnected, 502, "device_disconnected"),
    (GattError, 502, "att_error"),
    (AnswerTimeout, 504, "answer_timeout"),
    (CharacteristicMissing, 502, "characteristic_missing"),
    (DeviceRejected, 422, "rejected"),
    (ImprovNotSupported, 409, "not_supported"),
)


def failure_for(error: BleError) -> ProvisioningFailed:
    details: dict[str, Any] = {}
    if isinstance(error, GattError):
        details["attErrorCode"] = error.att_code
    if isinstance(error, DeviceRejected):
        details["reason"] = error.reason
        details["deviceError"] = error.device_error
    for kind, status, code in _FAILURES:
        if isinstance(error, kind):
            return ProvisioningFailed(status, code, str(error), details or None)
    return ProvisioningFailed(502, "ble_error", str(error))


@dataclass(frozen=True, slots=True)
class ProvisionRequest:
    address: str
    credentials: WifiCredentials
    external_id: str | None = None
    name: str | None = None
    device_type: str | None = None


ProgressListener = Callable[[dict[str, Any]], None]


class Provisioner:
    def __init__(
        self,
        hub: Hub,
        settings: BleSettings,
        transport: Callable[[], BleTransport | None],
        find_candidate: Callable[[str], Candidate | None],
        on_progress: ProgressListener,
    ) -> None:
        self._hub = hub
        self._settings = settings
        self._transport = transport
        self._find_candidate = find_candidate
        self._on_progress = on_progress
        self._busy: str | None = None
        self._characteristics = CustomCharacteristics(
            settings.service_uuid, settings.credentials_uuid, settings.status_uuid
        )

    async def provision(self, request: ProvisionRequest) -> dict[str, Any]:
        candidate = self._require_candidate(request.address)
        async with self._exclusive(candidate.address):
            if candidate.protocol == PROTOCOL_IMPROV:
                return await self._provision_improv(candidate, request)
            return await self._provision_custom(candidate, request)

    async def identify(self, address: str) -> None:
        candidate = self._require_candidate(address)
        if candidate.protocol != PROTOCOL_IMPROV:
            raise ProvisioningFailed(
                409, "not_supported", f"{address} speaks the custom protocol, which has no identify"
            )
        async with self._exclusive(candidate.address):
            await self._with_session(candidate, identify)

    # ---- custom protocol -----------------------------------------------------------

    async def _provision_custom(
        self, candidate: Candidate, request: ProvisionRequest
    ) -> dict[str, Any]:
        broker = self.broker_url()
        external_id = self._external_id(request, candidate)
        name = request.name or candidate.advertisement.name or external_id
        device_type = request.device_type or "unknown"
        token = secrets.token_urlsafe(TOKEN_BYTES)
        digest = hashlib.sha256(token.encode()).hexdigest()
        station = StationInfo(
            station_id=self._hub.station_id,
            external_id=external_id,
            broker_url=broker,
            device_token=token,
            hub_url=self._hub.settings.base_url or None,
        )
        existing = self._hub.devices.by_external_id(external_id)
        accounts = _MqttAccounts.of(self._hub)
        account = accounts.new(external_id)
        payload = with_mqtt_account(build_payload(request.credentials, station), account)
        if account is not None and existing is None:
            # Made before the write, like the token: the device logs in as soon as it joins.
            await accounts.apply(external_id, account)

        async def run(session: GattSession) -> Any:
            chars = self._characteristics
            for uuid in (chars.credentials, chars.status):
                if not session.has_characteristic(chars.service, uuid):
                    raise CharacteristicMissing(
                        f"{session.address} lacks characteristic {uuid} of service {chars.service}"
                    )
            created = None
            if existing is None:
                # Registered before the write: a device that joins the network at once
                # must already find its token valid.
                created = await self._hub.devices.expect_device(
                    external_id, token_digest=digest, name=name, device_type=device_type
                )
            try:
                self._progress(candidate, "writing")
                await provision_custom(
                    session,
                    payload,
                    answer_timeout=self._settings.answer_timeout,
                    characteristics=chars,
                    on_state=lambda state: self._progress(candidate, state),
                )
            except BaseException:
                if created is not None and not created.handshaken:
                    await self._hub.devices.remove(created.id)
                raise
            # An existing device keeps its old token (and broker password) until the new
            # ones have been taken.
            if account is not None and existing is not None:
                await accounts.apply(external_id, account)
            return await self._hub.devices.expect_device(
                external_id, token_digest=digest, name=name, device_type=device_type
            )

        try:
            device = await self._with_session(candidate, run)
        except BaseException:
            if account is not None and existing is None:
                await accounts.discard(external_id)
            raise
        if account is not None:
            accounts.remember(device.id, external_id)
        return {
            "address": candidate.address,
            "protocol": PROTOCOL_CUSTOM,
            "registered": True,
            "device": device.as_dict(),
        }

    # ---- Improv --------------------------------------------------------------------

    async def _provision_improv(
        self, candidate: Candidate, request: ProvisionRequest
    ) -> dict[str, Any]:
        async def run(session: GattSession) -> Any:
            if not session.has_characteristic(IMPROV_SERVICE_UUID, IMPROV_RPC_COMMAND_UUID):
                raise CharacteristicMissing(f"{session.address} lacks the Improv RPC command")
            self._progress(candidate, "writing")
            return await provision_improv(
                session,
                request.credentials,
                answer_timeout=self._settings.answer_timeout,
                on_state=lambda state: self._progress(candidate, state),
            )

        result = await self._with_session(candidate, run)
        return {
            "address": candidate.address,
            "protocol": PROTOCOL_IMPROV,
            "registered": False,
            "redirectUrl": result.redirect_url,
        }

    # ---- shared --------------------------------------------------------------------

    async def _with_session(self, candidate: Candidate, work: Callable[[GattSession], Any]) -> Any:
        transport = self._transport()
        if transport is None:
            raise ProvisioningFailed(503, "ble_unavailable", "Bluetooth is not available")
        self._progress(candidate, "connecting")
        try:
            async with transport.connect(
                candidate.address,
                connect_timeout=self._settings.connect_timeout,
                handle=candidate.advertisement.handle,
            ) as session:
                self._progress(candidate, "connected")
                return await work(session)
        except BleError as error:
            failure = failure_for(error)
            self._progress(candidate, "failed", failure.code, failure.message)
            raise failure from error

    def _require_candidate(self, address: str) -> Candidate:
        candidate = self._find_candidate(address)
        if candidate is None:
            raise ProvisioningFailed(
                404,
                "unknown_candidate",
                f"{address} is not among the current candidates; keep the provisioning "
                "WebSocket open so the hub scans, and wait for the device to appear",
            )
        return candidate

    @contextlib.asynccontextmanager
    async def _exclusive(self, address: str) -> AsyncIterator[None]:
        """One provisioning at a time: a second request is refused rather than queued
        behind a connect that may take the whole connect timeout."""
        if self._busy is not None:
            raise ProvisioningFailed(
                409, "busy", f"{self._busy} is being provisioned; try again when it has finished"
            )
        self._busy = address
        try:
            yield
        finally:
            self._busy = None

    def _progress(
        self, candidate: Candidate, state: str, code: str | None = None, message: str | None = None
    ) -> None:
        event: dict[str, Any] = {
            "type": "provisioning",
            "address": candidate.address,
            "protocol": candidate.protocol,
            "state": state,
        }
        if code is not None:
            event["error"] = {"code": code, "message": message}
        self._on_progress(event)

    def _external_id(self, request: ProvisionRequest, candidate: Candidate) -> str:
        if request.external_id is not None:
            if not _EXTERNAL_ID.match(request.external_id):
                raise ProvisioningFailed(
                    400, "invalid_request", "externalId must match [A-Za-z0-9_-]{1,64}"
                )
            return request.external_id
        slug = re.sub(r"[^A-Za-z0-9]", "", candidate.address).lower()
        return f"esp32-{slug}"[:64]

    def broker_url(self) -> str:
        """The broker address devices must use; loopback addresses are useless to them.

        ``ble_provisioning.broker_url`` when set, else what the MQTT integration offers
        (``hub.services.DEVICE_BROKER``), else the host of ``BASE_URL``. Never with the
        hub's own login in it: the MQTT integration's address has none, and a
        hand-written ``broker_url`` carrying the hub's account is stripped of it.
        """
        broker = self._hub.registrations.services.get(DEVICE_BROKER)
        if self._settings.broker_url:
            explicit = self._settings.broker_url
            return broker.for_devices(explicit) if broker is not None else explicit
        if broker is not None and broker.url is not None:
            return broker.url
        base_url = self._hub.settings.base_url
        host = urlsplit(base_url).hostname if base_url else None
        if host and host not in LOOPBACK_HOSTS:
            return f"mqtt://{host}:{DEFAULT_MQTT_PORT}"
        raise ProvisioningFailed(
            503,
            "broker_url_unknown",
            "devices need a broker address they can reach: set ble_provisioning.broker_url "
            "(e.g. mqtt://192.168.1.10:1883) or the hub's BASE_URL",
        )


class _MqttAccounts:
    """The device's own broker account, made by the mqtt_devices integration when it runs
    with per-device identities; every step is a no-op without it."""

    def __init__(self, runtime: Any) -> None:
        self._runtime = runtime

    @classmethod
    def of(cls, hub: Hub) -> _MqttAccounts:
        from plugins.mqtt_devices import runtime_for  # only when provisioning runs

        return cls(runtime_for(hub))

    def new(self, external_id: str) -> MqttAccount | None:
        if self._runtime is None:
            return None
        from plugins.mqtt_devices.identities import IdentityRefused

        try:
            credentials = self._runtime.new_identity(external_id)
        except IdentityRefused as error:
            raise ProvisioningFailed(409, "mqtt_account_conflict", str(error)) from error
        if credentials is None:
            return None
        return MqttAccount(credentials.username, credentials.password, credentials.client_id)

    async def apply(self, external_id: str, account: MqttAccount) -> None:
        from plugins.mqtt_devices.dynsec import DynsecError
        from plugins.mqtt_devices.identities import DeviceCredentials, IdentityRefused

        credentials = DeviceCredentials(account.username, account.password, account.client_id)
        try:
            await self._runtime.issue_identity(external_id, credentials)
        except IdentityRefused as error:
            raise ProvisioningFailed(409, "mqtt_account_conflict", str(error)) from error
        except DynsecError as error:
            raise ProvisioningFailed(
                503,
                "mqtt_identity_unavailable",
                f"the device's own MQTT account could not be made: {error}",
            ) from error

    def remember(self, device_id: str, external_id: str) -> None:
        """Forgetting this device later deletes its account too."""
        self._runtime.remember_device(device_id, external_id)

    async def discard(self, external_id: str) -> None:
        from plugins.mqtt_devices.dynsec import DynsecError

        try:
            await self._runtime.revoke_identity(external_id)
        except DynsecError as error:
            _LOGGER.warning("Could not remove the MQTT account of %s: %s", external_id, error)
