"""Call a registered RPC method the way the cloud would, without a cloud.

The request goes through the cloud link's own JSON-RPC peer (``plugins.cloud_link``'s
``JsonRpcPeer.process``), so what a test sees is what the cloud would get: params omitted
become ``{}``, a handler's ``InvalidParams``, ``voluptuous.Invalid`` or ``RpcError`` comes
back as the JSON-RPC error object, a crash as -32603 without its text, a result that is
not JSON as -32603, a result is JSON-decoded (a tuple comes back a list). Only the socket
is missing: a handler that calls the cloud back (``context.peer.call``) gets
``ConnectionError``; for that, and for a test through a real socket, use the cloud
double (``hub.testing.cloud``, the ``fake_cloud`` fixture).
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from hub.core import Hub
    from plugins.cloud_link.jsonrpc import PeerLimits

_ids = itertools.count(1)


async def call_rpc(
    hub: Hub,
    method: str,
    params: Any = None,
    *,
    source: str = "cloud",
    limits: PeerLimits | None = None,
) -> Any:
    """Call ``method`` among the RPC methods registered on ``hub`` and return its result
    as the cloud would decode it; raise ``hub.rpc.RpcError`` carrying the error object's
    ``code``, ``message`` and ``data`` otherwise (-32601 for a name nobody registered).

    ``params`` is sent as given (a dict or a list; None leaves them out). ``limits`` is a
    ``plugins.cloud_link.jsonrpc.PeerLimits`` (the link's defaults when None): the
    handler timeout and the reply bound apply as on the wire.
    """
    # Imported here: the peer belongs to the cloud_link integration, which a test of
    # another integration need not configure (its methods are served all the same).
    from plugins.cloud_link.jsonrpc import ConnectionClosed, JsonRpcPeer
    from plugins.cloud_link.jsonrpc.messages import error_from_response

    async def no_socket(_text: str) -> None:
        raise ConnectionClosed("call_rpc has no cloud to call back; use the fake_cloud fixture")

    peer = JsonRpcPeer(no_socket, hub.registrations.rpc_handler, limits=limits, source=source)
    request: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": next(_ids)}
    if params is not None:
        request["params"] = params
    # A JSON round trip, as on the wire: the handler sees what the cloud could send.
    reply = await peer.process(orjson.loads(orjson.dumps(request)))
    assert reply is not None, "a request with an id is always answered"
    response = orjson.loads(reply)
    if "error" in response:
        raise error_from_response(response)
    return response["result"]
