"""hub.testing's RPC tools, used as a third-party author would: ``call_rpc`` (through the
cloud link's error mapping, no socket) and the ``fake_cloud`` double (through a socket)."""

from __future__ import annotations

import types
from typing import Any

import pytest
import voluptuous as vol

from hub.hookspecs import hookimpl
from hub.rpc import CallContext, InvalidParams, RpcError
from hub.testing import call_rpc

SCHEMA = vol.Schema({vol.Required("seconds"): int})


def _garage() -> types.ModuleType:
    """An integration whose RPC methods answer in every way a handler can."""
    module = types.ModuleType("garage")

    async def open_door(params: Any, context: CallContext) -> dict[str, Any]:
        seconds = SCHEMA(params)["seconds"]
        if seconds > 60:
            raise InvalidParams("seconds: at most 60")
        if seconds == 0:
            raise RpcError(4100, "Door jammed", data={"seconds": 0})
        return {"opened": seconds, "by": context.source, "as": context.method}

    def crash(params: Any, context: CallContext) -> None:
        raise RuntimeError("secret detail")

    def not_json(params: Any, context: CallContext) -> object:
        return object()

    def pair(params: Any, context: CallContext) -> tuple[int, int]:
        return (1, 2)

    def hub_register(registrar: Any) -> None:
        registrar.rpc_method("garage.open", open_door)
        registrar.rpc_method("garage.crash", crash)
        registrar.rpc_method("garage.not_json", not_json)
        registrar.rpc_method("garage.pair", pair)

    module.hub_register = hookimpl(hub_register)  # type: ignore[attr-defined]
    return module


async def test_call_rpc_answers_as_the_cloud_would_be_answered(hub_factory):
    hub = await hub_factory({"garage": {}}, integrations={"garage": _garage()})

    assert await call_rpc(hub, "garage.open", {"seconds": 3}) == {
        "opened": 3,
        "by": "cloud",
        "as": "garage.open",
    }
    assert await call_rpc(hub, "garage.pair") == [1, 2]  # JSON on the wire: a list

    async def error(method: str, params: Any = None) -> dict[str, Any]:
        with pytest.raises(RpcError) as raised:
            await call_rpc(hub, method, params)
        return raised.value.as_error_object()

    assert await error("garage.open", {"seconds": "3"}) == {
        "code": -32602,
        "message": "Invalid params",
        "data": "field 'seconds': expected int",
    }
    assert await error("garage.open", {"seconds": 99}) == {
        "code": -32602,
        "message": "Invalid params",
        "data": "seconds: at most 60",
    }
    assert await error("garage.open", {"seconds": 0}) == {
        "code": 4100,
        "message": "Door jammed",
        "data": {"seconds": 0},
    }
    crashed = await error("garage.crash")
    assert crashed["code"] == -32603 and "secret" not in str(crashed)
    assert (await error("garage.not_json"))["code"] == -32603
    assert (await error("garage.missing"))["code"] == -32601


async def test_the_cloud_double_calls_an_integrations_method_end_to_end(fake_cloud, hub_factory):
    await hub_factory(
        {"cloud_link": fake_cloud.link_config(), "garage": {}},
        integrations={"garage": _garage()},
    )
    cloud = await fake_cloud.next_connection()
    reply = await cloud.call("garage.open", {"seconds": 5})
    assert reply["result"] == {"opened": 5, "by": "cloud", "as": "garage.open"}
    refused = await cloud.call("garage.open", {"seconds": 0})
    assert refused["error"] == {"code": 4100, "message": "Door jammed", "data": {"seconds": 0}}
