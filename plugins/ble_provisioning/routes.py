"""HTTP and WebSocket routes of BLE provisioning (docs/ble-provisioning.md).

Provisioning hands the station's Wi-Fi passphrase and a device token to a radio peer of
the caller's choosing, so it is an owner/admin act (``PROVISIONING_ROLES``); the stored
passphrase is used only for roles allowed to hand it out (``STORED_WIFI_ROLES``), and an
existing device is re-bound to new hardware only when the request says ``replace: true``,
which is logged and fired as ``DEVICE_PROVISIONED`` with who did it. Watching the scan
stays open to every user. The feed socket ends when its session does (``SessionGuard``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any, TypedDict

import voluptuous as vol
from aiohttp import WSMsgType, web

from hub.auth import PUBLIC, Principal, requires
from hub.events import EventType
from hub.http.errors import ApiError
from hub.http.json import dumps, json_response, parse_json_bytes, read_json
from hub.http.websocket_api import SessionGuard, authenticate_socket
from hub.timestamps import iso
from plugins.ble_provisioning.candidates import PROTOCOL_CUSTOM
from plugins.ble_provisioning.credentials import InvalidCredentials, WifiCredentials, validate
from plugins.ble_provisioning.provisioner import ProvisioningFailed, ProvisionRequest

if TYPE_CHECKING:
    from hub.core import Hub
    from hub.registrar import Registrar
    from plugins.ble_provisioning.runtime import BleProvisioningRuntime

_LOGGER = logging.getLogger(__name__)

MAX_WATCHER_QUEUE = 1024
MAX_MESSAGE_BYTES = 16 * 1024

# Global roles that may provision (and identify) a device. A plain ``user`` may watch the
# scan but not hand the station's Wi-Fi and a device token to a device of their choosing.
PROVISIONING_ROLES = ("owner", "admin")
# Roles for whom the passphrase stored with PUT /api/agent/wifi may be sent to a device.
# Kept apart from PROVISIONING_ROLES on purpose: widening who may provision must not
# widen who may make the hub send the stored passphrase to a radio peer.
STORED_WIFI_ROLES = ("owner", "admin")


class ProvisionedBy(TypedDict):
    """Who provisioned: the principal of the request."""

    kind: str
    id: str
    name: str


class DeviceProvisionedData(TypedDict):
    """What was provisioned, over which protocol, by whom; never a secret."""

    address: str
    protocol: str
    externalId: str | None
    deviceId: str | None
    replaced: bool
    by: ProvisionedBy


# Fired after every successful provisioning: an audit trail for a security-relevant act.
DEVICE_PROVISIONED: EventType[DeviceProvisionedData] = EventType("device_provisioned")

# Types are checked here; the Wi-Fi rules (bytes, lengths, NUL) by credentials.validate.
ADD_SCHEMA = vol.Schema(
    {
        vol.Required("address", description="BLE address of a current candidate"): vol.All(
            str, vol.Length(min=1, max=64)
        ),
        vol.Optional("ssid", description="1-32 bytes in UTF-8, no NUL"): str,
        vol.Optional("password", description="8-63 printable ASCII or 64 hex"): str,
        vol.Optional("name"): vol.All(str, vol.Length(min=1, max=128)),
        vol.Optional("externalId", description="[A-Za-z0-9_-]{1,64}; default esp32-<address>"): str,
        vol.Optional("deviceType"): vol.All(str, vol.Length(min=1, max=64)),
        vol.Optional(
            "replace",
            default=False,
            description="re-bind an existing externalId to this hardware",
        ): bool,
    }
)
IDENTIFY_SCHEMA = vol.Schema({vol.Required("address"): vol.All(str, vol.Length(min=1, max=64))})
WIFI_SCHEMA = vol.Schema({vol.Required("ssid"): str, vol.Required("password"): str})


class RuntimeRef:
    """Routes are registered before setup creates the runtime; this bridges the gap."""

    def __init__(self) -> None:
        self.runtime: BleProvisioningRuntime | None = None

    def require(self) -> BleProvisioningRuntime:
        if self.runtime is None:
            raise ApiError(503, "ble_unavailable", "BLE provisioning is not set up")
        return self.runtime

    def require_available(self) -> BleProvisioningRuntime:
        runtime = self.require()
        if not runtime.available:
            raise ApiError(503, "ble_unavailable", f"Bluetooth is not available: {runtime.reason}")
        return runtime


class ProvisioningViews:
    """The provisioning handlers, one method each; ``register`` wires them to routes.

    Routes are registered before setup creates the runtime, so every handler asks the
    ``RuntimeRef`` for it (503 until it exists).
    """

    def __init__(self, hub: Hub, ref: RuntimeRef) -> None:
        self.hub = hub
        self.ref = ref

    async def provisioning_ws(self, request: web.Request) -> web.StreamResponse:
        """Live BLE candidates: auth phase, then candidate and scan messages."""
        runtime = self.ref.require()
        socket = web.WebSocketResponse(heartbeat=30, max_msg_size=MAX_MESSAGE_BYTES)
        await socket.prepare(request)
        authenticated = await authenticate_socket(self.hub, socket)
        if authenticated is None:
            return socket
        principal, token = authenticated
        watcher = SocketWatcher(socket)
        writer = asyncio.create_task(watcher.run())

        async def end_session(code: int, reason: str) -> None:
            watcher.close()  # nothing more reaches a client whose right ended
            await socket.close(code=code, message=reason.encode())

        guard = SessionGuard(self.hub, principal, token, end_session)
        guard.start()
        try:
            await runtime.scans.add_watcher(watcher)
            async for message in socket:
                _answer(watcher, message)
        finally:
            guard.stop()
            await runtime.scans.remove_watcher(watcher)
            watcher.close()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        return socket

    async def list_candidates(self, _request: web.Request) -> web.Response:
        """The candidates of the running scan (empty when nobody is watching)."""
        runtime = self.ref.require()
        return json_response([item.as_dict() for item in runtime.scans.candidates.all()])

    async def add(self, request: web.Request) -> web.Response:
        """Provision one candidate with Wi-Fi credentials and the station's details."""
        runtime = self.ref.require_available()
        body = await read_json(request, ADD_SCHEMA)
        principal: Principal = request["principal"]
        credentials = await _credentials(runtime, body, principal)
        replaced = _check_rebinding(self.hub, runtime, body, credentials, principal)
        try:
            result = await runtime.provisioner.provision(
                ProvisionRequest(
                    address=body["address"],
                    credentials=credentials,
                    external_id=body.get("externalId"),
                    name=body.get("name"),
                    device_type=body.get("deviceType"),
                )
            )
        except ProvisioningFailed as failure:
            if failure.code == "ble_unavailable":
                runtime.mark_unavailable(failure.message)
            raise ApiError(
                failure.status, failure.code, failure.message, details=failure.details
            ) from None
        _record(self.hub, result, replaced, principal)
        runtime.scans.forget(result["address"])
        runtime.scans.broadcast(
            {
                "type": "provisioning",
                "address": result["address"],
                "state": "provisioned",
                "protocol": result["protocol"],
            }
        )
        return json_response(result, status=201 if result["registered"] else 200)

    async def identify(self, request: web.Request) -> web.Response:
        """Ask an Improv device to blink or beep so the user can tell which one it is."""
        runtime = self.ref.require_available()
        body = await read_json(request, IDENTIFY_SCHEMA)
        try:
            await runtime.provisioner.identify(body["address"])
        except ProvisioningFailed as failure:
            raise ApiError(
                failure.status, failure.code, failure.message, details=failure.details
            ) from None
        return json_response({"address": body["address"], "identify": "sent"})

    async def put_wifi(self, request: web.Request) -> web.Response:
        """Store the Wi-Fi credentials devices get when a provisioning request has none."""
        runtime = self.ref.require()
        body = await read_json(request, WIFI_SCHEMA)
        try:
            credentials = validate(body["ssid"], body["password"])
        except InvalidCredentials as error:
            raise ApiError(400, "invalid_credentials", str(error)) from None
        updated_at = await runtime.wifi.save(credentials)
        return json_response({"ssid": credentials.ssid, "updatedAt": iso(updated_at)})

    async def get_wifi(self, _request: web.Request) -> web.Response:
        """Which network is stored (never the passphrase)."""
        runtime = self.ref.require()
        stored = await runtime.wifi.load()
        if stored is None:
            return json_response({"configured": False, "ssid": None, "updatedAt": None})
        credentials, updated_at = stored
        return json_response(
            {"configured": True, "ssid": credentials.ssid, "updatedAt": iso(updated_at)}
        )


def register(hub: Hub, registrar: Registrar, ref: RuntimeRef) -> None:
    views = ProvisioningViews(hub, ref)
    provisioners = requires("user", roles=PROVISIONING_ROLES)
    agent = requires("agent")
    # Authentication happens inside the socket, as for /api/websocket: a browser cannot
    # set headers on an upgrade. The auth phase is mandatory and fails closed.
    registrar.http_route(
        "GET",
        "/api/provisioning/ws",
        views.provisioning_ws,
        auth=PUBLIC,
        websocket=True,
        description='Send {"type": "auth", "access_token": ...} after auth_required.',
    )
    registrar.http_route(
        "GET", "/api/provisioning/candidates", views.list_candidates, auth=requires("user")
    )
    registrar.http_route(
        "POST", "/api/provisioning/add", views.add, auth=provisioners, request_schema=ADD_SCHEMA
    )
    registrar.http_route(
        "POST",
        "/api/provisioning/identify",
        views.identify,
        auth=provisioners,
        request_schema=IDENTIFY_SCHEMA,
    )
    registrar.http_route(
        "PUT", "/api/agent/wifi", views.put_wifi, auth=agent, request_schema=WIFI_SCHEMA
    )
    registrar.http_route("GET", "/api/agent/wifi", views.get_wifi, auth=agent)


async def _credentials(
    runtime: BleProvisioningRuntime, body: dict[str, Any], principal: Principal
) -> WifiCredentials:
    """Credentials from the request, else the agent's stored ones (for STORED_WIFI_ROLES
    only: sending them to a device is as good as reading them); both validated."""
    if "ssid" in body or "password" in body:
        if "ssid" not in body or "password" not in body:
            raise ApiError(400, "invalid_credentials", "give both ssid and password, or neither")
        try:
            return validate(body["ssid"], body["password"])
        except InvalidCredentials as error:
            raise ApiError(400, "invalid_credentials", str(error)) from None
    if principal.role not in STORED_WIFI_ROLES:
        raise ApiError(
            403,
            "forbidden",
            "give ssid and password: the stored Wi-Fi passphrase is used only for "
            f"{', '.join(STORED_WIFI_ROLES)}",
        )
    stored = await runtime.wifi.load()
    if stored is None:
        raise ApiError(
            400,
            "wifi_credentials_missing",
            "the request has no ssid/password and none are stored (PUT /api/agent/wifi)",
        )
    return stored[0]


def _check_rebinding(
    hub: Hub,
    runtime: BleProvisioningRuntime,
    body: dict[str, Any],
    credentials: WifiCredentials,
    principal: Principal,
) -> bool:
    """Whether this request replaces an existing device; 409 unless it says so.

    Re-binding an external id to new hardware gives the new board the id's token and
    ends the old board's, so it must never happen by a typo or a default id.
    """
    candidate = runtime.scans.candidates.get(body["address"])
    if candidate is None or candidate.protocol != PROTOCOL_CUSTOM:
        return False  # the provisioner answers unknown candidates; Improv registers nothing
    if runtime.provisioner._busy is not None:
        # The device being provisioned right now is pre-registered already; the
        # provisioner answers 409 busy, which is the truth, before anything is sent.
        return False
    request = ProvisionRequest(body["address"], credentials, external_id=body.get("externalId"))
    try:
        # The provisioner's own rule (and check) for the id, so both agree on it.
        external_id = runtime.provisioner._external_id(request, candidate)
    except ProvisioningFailed as failure:
        raise ApiError(failure.status, failure.code, failure.message) from None
    existing = hub.devices.by_external_id(external_id)
    if existing is None:
        return False
    if not body["replace"]:
        raise ApiError(
            409,
            "device_exists",
            f'a device with externalId {external_id!r} already exists; send "replace": true '
            "to re-bind it to this hardware (its current token stops working)",
            details={"externalId": external_id, "deviceId": existing.id},
        )
    _LOGGER.warning(
        "%s %s (%s) re-binds device %s (%s) to BLE device %s; its old token will stop working",
        principal.kind,
        principal.name,
        principal.id,
        external_id,
        existing.id,
        body["address"],
    )
    return True


def _record(hub: Hub, result: dict[str, Any], replaced: bool, principal: Principal) -> None:
    """Log and fire who provisioned what: an audit trail for a security-relevant act."""
    device = result.get("device") or {}
    _LOGGER.info(
        "%s %s provisioned %s over %s%s",
        principal.kind,
        principal.name,
        result["address"],
        result["protocol"],
        f" as device {device.get('externalId')}" if device else "",
    )
    data: DeviceProvisionedData = {
        "address": result["address"],
        "protocol": result["protocol"],
        "externalId": device.get("externalId"),
        "deviceId": device.get("id"),
        "replaced": replaced,
        "by": {"kind": principal.kind, "id": principal.id, "name": principal.name},
    }
    hub.bus.fire(DEVICE_PROVISIONED, data)


class SocketWatcher:
    """A WebSocket client of the scan: a bounded queue drained by one writer task."""

    def __init__(self, socket: web.WebSocketResponse) -> None:
        self._socket = socket
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue(MAX_WATCHER_QUEUE)
        self._closed = False

    def send(self, message: dict[str, Any]) -> None:
        if self._closed:
            return
        try:
            self._queue.put_nowait(dumps(message))
        except asyncio.QueueFull:
            _LOGGER.warning("Provisioning WebSocket client is too slow; closing it")
            self.close()
            asyncio.get_running_loop().create_task(self._socket.close(message=b"too slow"))

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            with contextlib.suppress(asyncio.QueueFull):
                self._queue.put_nowait(None)

    async def run(self) -> None:
        while True:
            data = await self._queue.get()
            if data is None or self._socket.closed:
                return
            try:
                await self._socket.send_str(data.decode())
            except ConnectionError:
                return


def _answer(watcher: SocketWatcher, message: Any) -> None:
    """The socket is a feed; clients may ping, anything else gets an error, never a drop."""
    if message.type != WSMsgType.TEXT:
        if message.type == WSMsgType.BINARY:
            watcher.send(_error("invalid_format", "binary frames are not accepted"))
        return
    try:
        data = parse_json_bytes(message.data.encode())
    except ValueError as error:
        watcher.send(_error("invalid_format", str(error)))
        return
    if isinstance(data, dict) and data.get("type") == "ping":
        watcher.send({"type": "pong", "id": data.get("id")})
        return
    watcher.send(_error("unknown_command", 'this socket only answers {"type": "ping"}'))


def _error(code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"code": code, "message": message}}
