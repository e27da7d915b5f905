"""A test integration: a recording device transport, a device type and two RPC methods
registered through the core's registrar, as any third-party integration would."""

from __future__ import annotations

import asyncio
from typing import Any

from hub.devices.models import DeviceType
from hub.hookspecs import hookimpl
from hub.rpc import InvalidParams, RpcError

TRANSPORT = "fake"


class RecordingTransport:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, Any]]] = []
        self.failing: set[str] = set()
        self.changed = asyncio.Event()

    async def send_command(self, device: Any, command: Any) -> None:
        if device.external_id in self.failing:
            raise ConnectionError("radio silence")
        self.sent.append((device.external_id, command.command, command.params))
        self.changed.set()


TRANSPORTS: dict[Any, RecordingTransport] = {}


async def _double(params: Any, context: Any) -> Any:
    if not isinstance(params.get("n"), int):
        raise InvalidParams("n must be an integer")
    if params["n"] < 0:
        raise RpcError(4001, "Negative numbers are not doubled here", data={"n": params["n"]})
    return {"doubled": params["n"] * 2, "source": context.source}


@hookimpl
def hub_register(hub: Any, registrar: Any, config: Any) -> None:
    transport = RecordingTransport()
    TRANSPORTS[hub] = transport
    registrar.device_transport(TRANSPORT, transport)
    registrar.device_type(DeviceType("fake-lamp", "A lamp for tests", ["on_off"], ["toggle"]))
    registrar.rpc_method("fake.double", _double)
    registrar.rpc_method("fake.sync_echo", lambda params, context: params)
