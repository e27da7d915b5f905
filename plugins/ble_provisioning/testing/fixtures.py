"""pytest fixtures for the BLE test kit; import them into a ``conftest.py``::

    from plugins.ble_provisioning.testing.fixtures import ble_transport, virtual_air  # noqa

``virtual_air`` is a fresh radio per test; ``ble_central`` the hub's side on it, in this
process; ``ble_transport`` the production ``BleakTransport`` driving that central;
``hci_endpoint`` a controller on the air served over TCP, for a hub (``hci:`` in its
YAML) or a bridge subprocess (``--hci``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from plugins.ble_provisioning.bleak_transport import BleakTransport
from plugins.ble_provisioning.bumble_backend import BumbleCentral
from plugins.ble_provisioning.testing import central_on_air
from plugins.ble_provisioning.testing.radio import HciEndpoint, VirtualAir


@pytest_asyncio.fixture
async def virtual_air() -> AsyncIterator[VirtualAir]:
    air = VirtualAir()
    try:
        yield air
    finally:
        await air.close()


@pytest_asyncio.fixture
async def ble_central(virtual_air: VirtualAir) -> AsyncIterator[BumbleCentral]:
    central = await central_on_air(virtual_air)
    try:
        yield central
    finally:
        await central.close()


@pytest_asyncio.fixture
async def ble_transport(ble_central: BumbleCentral) -> AsyncIterator[BleakTransport]:
    transport = BleakTransport(
        scanner_backend=ble_central.scanner_backend, client_backend=ble_central.client_backend
    )
    try:
        yield transport
    finally:
        await transport.close()


@pytest_asyncio.fixture
async def hci_endpoint(virtual_air: VirtualAir) -> HciEndpoint:
    return await virtual_air.serve_hci()
