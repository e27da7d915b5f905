"""A virtual radio: bumble controllers on one ``LocalLink``, with two gaps filled in.

bumble's virtual controller is a good radio for tests except in two places that BLE
provisioning depends on, so this module makes them behave like real controllers do:

* ``LE Create Connection Cancel`` is acknowledged but does nothing in bumble, so a connect
  to a device that stopped advertising stays pending forever (and the next connect is
  refused as "command disallowed"). ``VirtualController`` cancels it and reports the
  failed connection with ``Unknown Connection Identifier``, as the Core spec requires.
* ``LocalLink`` has no supervision timeout: a peripheral that loses power mid-write would
  leave its central waiting forever. ``VirtualAir.vanish`` silences the peripheral and,
  after ``supervision_timeout``, tells every connected central that the link timed out.

RSSI is always -50 dBm and scan responses are not sent (bumble repeats the advertising
data in their place); tests must not rely on either.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from dataclasses import dataclass, field

from bumble import hci
from bumble.controller import Controller
from bumble.device import Device
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink, Transport
from bumble.transport.tcp_server import open_tcp_server_transport_with_socket

_LOGGER = logging.getLogger(__name__)

DEFAULT_SUPERVISION_TIMEOUT = 0.05


class VirtualController(Controller):
    """bumble's controller, with connection cancelling as the Core spec describes it."""

    def on_hci_le_create_connection_cancel_command(
        self, _command: hci.HCI_LE_Create_Connection_Cancel_Command
    ) -> hci.HCI_StatusReturnParameters:
        pending = self.pending_le_connection
        if pending is None:
            return hci.HCI_StatusReturnParameters(hci.HCI_ErrorCode.COMMAND_DISALLOWED_ERROR)
        self.pending_le_connection = None
        # Vol 4, Part E, 7.8.13: after Command Complete, an LE Connection Complete event
        # with status Unknown Connection Identifier ends the cancelled attempt.
        asyncio.get_running_loop().call_soon(
            self.send_hci_packet,
            hci.HCI_LE_Connection_Complete_Event(
                status=hci.HCI_ErrorCode.UNKNOWN_CONNECTION_IDENTIFIER_ERROR,
                connection_handle=0,
                role=hci.Role.CENTRAL,
                peer_address_type=pending.peer_address.address_type,
                peer_address=pending.peer_address,
                connection_interval=0,
                peripheral_latency=0,
                supervision_timeout=0,
                central_clock_accuracy=0,
            ),
        )
        return hci.HCI_StatusReturnParameters(hci.HCI_ErrorCode.SUCCESS)


@dataclass(slots=True)
class HciEndpoint:
    """A controller on the air reachable by another process over TCP (H4 packets)."""

    spec: str
    controller: VirtualController
    transport: Transport
    controller_link: LocalLink

    async def close(self) -> None:
        """Stop serving and drop the connected host, as unplugging a dongle would."""
        server = getattr(self.transport, "server", None)
        if server is not None:
            server.close()
        connection = getattr(self.transport.sink, "transport", None)
        if connection is not None:
            connection.close()
        await self.transport.close()
        # bumble types a controller's and a connection's link as LocalLink, not Optional,
        # yet tests it before each send: None is how they stop transmitting.
        self.controller.link = None  # type: ignore[assignment]
        if self.controller in self.controller_link.controllers:
            self.controller_link.remove_controller(self.controller)


@dataclass
class VirtualAir:
    """Everything within radio range of everything else, in one event loop."""

    supervision_timeout: float = DEFAULT_SUPERVISION_TIMEOUT
    link: LocalLink = field(default_factory=LocalLink)
    _endpoints: list[HciEndpoint] = field(default_factory=list)
    _controllers: dict[int, VirtualController] = field(default_factory=dict)

    async def device(self, name: str, address: str) -> Device:
        """A powered-on bumble host with its own controller on this air.

        ``address`` is used as a random static address, as ESP32 firmware usually does.
        """
        controller = VirtualController(name, link=self.link, public_address=address)
        device = Device(
            name=name,
            address=hci.Address(address),
            host=Host(controller, AsyncPipeSink(controller)),
        )
        self._controllers[id(device)] = controller
        await device.power_on()
        return device

    async def serve_hci(
        self, name: str = "hub", address: str = "F0:F0:F0:F0:F0:F0", port: int = 0
    ) -> HciEndpoint:
        """Expose a fresh controller over ``tcp-server`` on loopback (``port`` 0: any).

        A hub or bridge opens it with bumble's ``tcp-client:127.0.0.1:<port>``, so its
        BLE traffic crosses a real HCI transport, in this process or another one.
        """
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted sockets inherit this on Linux; without it every ATT round trip waits
        # ~40 ms for Nagle and delayed ACKs.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(("127.0.0.1", port))
        port = sock.getsockname()[1]
        transport = await open_tcp_server_transport_with_socket(sock)
        controller = VirtualController(
            name,
            host_source=transport.source,
            host_sink=transport.sink,
            link=self.link,
            public_address=address,
        )
        endpoint = HciEndpoint(f"tcp-client:127.0.0.1:{port}", controller, transport, self.link)
        self._endpoints.append(endpoint)
        return endpoint

    def vanish(self, device: Device) -> None:
        """The device loses power: it falls silent now, its peers notice on timeout."""
        controller = self._controllers.get(id(device))
        if controller is None:
            raise TypeError("vanish() needs a device created by VirtualAir.device()")
        address = controller.random_address
        for connection in list(controller.le_connections.values()):
            # Nothing it sends reaches anyone any more. bumble types link as LocalLink, not
            # Optional, yet tests it before each send: None is how they stop transmitting.
            connection.link = None  # type: ignore[assignment]
        controller.link = None  # type: ignore[assignment]
        if controller in self.link.controllers:
            self.link.remove_controller(controller)
        loop = asyncio.get_running_loop()
        for peer in list(self.link.controllers):
            for connection in list(peer.le_connections.values()):
                if connection.peer_address == address:
                    loop.call_later(
                        self.supervision_timeout, _supervision_timeout, peer, connection
                    )

    async def close(self) -> None:
        for endpoint in self._endpoints:
            await endpoint.close()
        self._endpoints.clear()


def _supervision_timeout(controller: Controller, connection: object) -> None:
    if connection in controller.le_connections.values():
        controller.on_le_disconnected(
            connection,  # type: ignore[arg-type]
            hci.HCI_ErrorCode.CONNECTION_TIMEOUT_ERROR,
        )
