"""``action: device_command``: send a command through the device registry, as the API does.

The command is recorded with ``source: automation:<id>`` so ``GET /api/commands/{id}``
tells where it came from. With ``wait: true`` the step lasts until the device answers
(succeeded or failed), bounded by the step's ``timeout`` (10 s by default).
"""

from __future__ import annotations

import asyncio
from typing import Any

import voluptuous as vol

from hub import events
from hub.devices.models import COMMAND_FAILED, COMMAND_SUCCEEDED
from hub.devices.registry import DeviceError
from hub.event_bus import Event

from ..conditions import find_device
from ..const import DEFAULT_COMMAND_TIMEOUT
from ..platforms import ActionContext, ActionType
from ..validators import any_value, device_ref, template_or

FINAL = (COMMAND_SUCCEEDED, COMMAND_FAILED)


class CommandFailed(Exception):
    """The device refused or failed the command; the message says which and why."""


async def send_device_command(context: ActionContext, config: dict[str, Any]) -> dict[str, Any]:
    hub = context.hub
    device = find_device(hub.devices, str(config["device"]))
    if device is None:
        raise CommandFailed(f"no device {config['device']!r} (neither an external id nor an id)")
    try:
        record = await hub.devices.send_command(
            device.id,
            str(config["command"]),
            config.get("params") or {},
            source=f"automation:{context.automation_id}",
        )
    except DeviceError as error:
        raise CommandFailed(error.message) from None
    if not config.get("wait"):
        return {"commandId": record.id, "status": record.status}
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_status(event: Event[events.CommandStatusChangedData]) -> None:
        data = event.data
        if data["commandId"] == record.id and data["status"] in FINAL and not done.done():
            done.set_result(None)

    unlisten = hub.bus.listen(events.COMMAND_STATUS_CHANGED, on_status)
    try:
        if record.status not in FINAL:
            await done
    finally:
        unlisten()
    if record.status == COMMAND_FAILED:
        raise CommandFailed(
            f"device {device.external_id} failed command {record.command!r}: {record.error}"
        )
    return {"commandId": record.id, "status": record.status, "result": record.result}


DEVICE_ACTIONS = (
    ActionType(
        "device_command",
        {
            vol.Required("device"): device_ref,
            vol.Required("command"): template_or(vol.All(str, vol.Length(min=1, max=128))),
            vol.Optional("params", default={}): vol.All(dict, any_value),
            vol.Optional("wait", default=False): bool,
        },
        send_device_command,
        "send a command to a device (and wait for its answer)",
        timeout=DEFAULT_COMMAND_TIMEOUT,
    ),
)
