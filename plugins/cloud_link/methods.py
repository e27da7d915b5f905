"""The methods the cloud may call on the station.

Four belong to the cloud link itself and are registered through its registrar like any
integration's, so the names share one space and a clash is refused at registration,
naming both integrations. The peer looks each call up in the core's table
(``hub.registrations.rpc_methods``) at call time: a method registered late is served, and
a failed integration's withdrawn methods are not.

``devices.snapshot`` is paged (``{cursor?, limit?}`` → ``{devices, nextCursor}``): one
answer holds at most 1000 devices and half the peer's reply allowance, so a fleet of
10 000 devices (or a batch of snapshot calls) never builds an unbounded reply. Without
params it answers the first page, which for a fleet under a page is every device, as before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import voluptuous as vol

from hub.devices.paging import MAX_CURSOR_CHARS, MAX_PAGE_BYTES, MAX_PAGE_SIZE, device_page
from hub.devices.registry import DeviceError
from hub.rpc import CallContext, InvalidParams, RpcError
from plugins.cloud_link.const import ALL_CHANNELS, ERROR_COMMAND_FAILED, ERROR_DEVICE_NOT_FOUND
from plugins.cloud_link.jsonrpc import Handler
from plugins.cloud_link.outbox import Outbox

if TYPE_CHECKING:
    from hub.core import Hub
    from hub.registrar import Registrar

COMMAND_PARAMS = vol.Schema(
    {
        vol.Required("deviceId"): vol.All(str, vol.Length(min=1, max=64)),
        vol.Required("command"): vol.All(str, vol.Length(min=1, max=64)),
        vol.Optional("params", default={}): dict,
    }
)


def _page_size(value: Any) -> int:
    """1-1000 as a JSON integer; ``true`` is an int to Python but not a page size."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PAGE_SIZE:
        raise vol.Invalid(f"must be an integer from 1 to {MAX_PAGE_SIZE}")
    return value


SNAPSHOT_PARAMS = vol.Schema(
    {
        vol.Optional("cursor"): vol.Any(
            None, vol.All(str, vol.Length(min=1, max=MAX_CURSOR_CHARS))
        ),
        vol.Optional("limit", default=MAX_PAGE_SIZE): _page_size,
    }
)
CHANNELS_PARAMS = vol.Schema(
    {vol.Required("channels"): vol.All([vol.In(ALL_CHANNELS)], vol.Unique())}
)


class StationMethods:
    def __init__(self, hub: Hub, outbox: Outbox) -> None:
        self._hub = hub
        self._outbox = outbox

    def register(self, registrar: Registrar) -> None:
        """The cloud link's own methods, from its ``hub_register``: an integration that
        registered one of these names first makes this raise, and the link fails naming
        it, rather than one of the two being silently unreachable."""
        registrar.rpc_method("device.command", self.device_command)
        registrar.rpc_method("devices.snapshot", self.devices_snapshot)
        registrar.rpc_method("device_types.list", self.device_types_list)
        registrar.rpc_method("station.setActiveChannels", self.set_active_channels)

    def lookup(self, name: str) -> Handler | None:
        """Every integration's methods, this one's included, as registered right now."""
        return self._hub.registrations.rpc_handler(name)

    async def device_command(self, params: Any, _context: CallContext) -> dict[str, Any]:
        """Send a command to a device, named by its id or its external id."""
        request = COMMAND_PARAMS(params)
        devices = self._hub.devices
        device = devices.get(request["deviceId"]) or devices.by_external_id(request["deviceId"])
        if device is None:
            raise RpcError(
                ERROR_DEVICE_NOT_FOUND,
                "Device not found",
                data=f"no device with id or external id {request['deviceId']!r}",
            )
        try:
            command = await devices.send_command(
                device.id, request["command"], request["params"], source="cloud"
            )
        except DeviceError as error:
            code = (
                ERROR_DEVICE_NOT_FOUND if error.code == "device_not_found" else ERROR_COMMAND_FAILED
            )
            raise RpcError(code, error.code, data=error.message) from None
        return {"status": "ok", "commandId": command.id, "commandStatus": command.status}

    def devices_snapshot(self, params: Any, context: CallContext) -> dict[str, Any]:
        """One page of devices; ``nextCursor`` (null on the last page) asks for the next."""
        request = SNAPSHOT_PARAMS({} if params == [] else params)
        page = device_page(
            self._hub.devices,
            cursor=request.get("cursor"),
            limit=request["limit"],
            # Leave room in the reply frame for the envelope and a batch's other answers.
            max_bytes=min(MAX_PAGE_BYTES, context.max_reply_bytes // 2),
        )
        return {
            "devices": [device.as_dict() for device in page.devices],
            "nextCursor": page.next_cursor,
        }

    def device_types_list(self, params: Any, _context: CallContext) -> dict[str, Any]:
        """Every device type: registered by integrations, or learnt from handshakes."""
        _no_params(params)
        return {"deviceTypes": [item.as_dict() for item in self._hub.devices.device_types()]}

    def set_active_channels(self, params: Any, _context: CallContext) -> dict[str, Any]:
        """Choose which notifications (state, events, presence) the station sends."""
        channels = CHANNELS_PARAMS(params)["channels"]
        self._outbox.set_channels(channels)
        return {"ok": True, "channels": list(self._outbox.channels)}


def _no_params(params: Any) -> None:
    if params:
        raise InvalidParams("this method takes no params (omit them, or send {} or [])")
