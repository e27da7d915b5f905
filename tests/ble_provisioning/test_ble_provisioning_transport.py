"""The production BleakTransport, driven through the bumble backends in this process."""

from __future__ import annotations

import asyncio
import time

import pytest

from plugins.ble_provisioning.const import (
    CUSTOM_CREDENTIALS_UUID,
    CUSTOM_SERVICE_UUID,
    CUSTOM_STATUS_UUID,
)
from plugins.ble_provisioning.testing import Behaviour, SimulatedProvisioningDevice
from plugins.ble_provisioning.transport import (
    Advertisement,
    BleError,
    CharacteristicMissing,
    ConnectTimeout,
    DeviceDisconnected,
    GattError,
)
from tests.ble_provisioning.conftest import WAIT

ADDRESS = "C4:DD:57:80:00:01"


async def test_scan_reports_adverts_through_bleak(virtual_air, ble_transport):
    await SimulatedProvisioningDevice.start(virtual_air, ADDRESS, name="Gate")
    found = asyncio.get_running_loop().create_future()

    def on_advertisement(advert: Advertisement) -> None:
        if not found.done():
            found.set_result(advert)

    await ble_transport.start_scan([CUSTOM_SERVICE_UUID], on_advertisement)
    advert = await asyncio.wait_for(found, WAIT)
    await ble_transport.stop_scan()
    assert advert.address == ADDRESS and advert.name == "Gate"
    assert advert.service_uuids == (CUSTOM_SERVICE_UUID,)
    assert advert.handle is not None  # bleak's BLEDevice, reused to connect


async def test_write_without_response_is_limited_to_mtu_minus_3(virtual_air, ble_transport):
    device = await SimulatedProvisioningDevice.start(
        virtual_air, ADDRESS, behaviour=Behaviour.SILENT
    )
    async with ble_transport.connect(ADDRESS, connect_timeout=WAIT) as session:
        assert session.mtu == 23
        await session.write(CUSTOM_SERVICE_UUID, CUSTOM_CREDENTIALS_UUID, b"x" * 20, response=False)
        await asyncio.wait_for(device.written.wait(), WAIT)
        with pytest.raises(BleError, match="exceeds MTU - 3"):
            await session.write(
                CUSTOM_SERVICE_UUID, CUSTOM_CREDENTIALS_UUID, b"x" * 21, response=False
            )
        assert session.connected
        # With a response, the same bytes go as a long write.
        await session.write(CUSTOM_SERVICE_UUID, CUSTOM_CREDENTIALS_UUID, b"y" * 21)
    assert device.raw_writes == [b"x" * 20, b"y" * 21]
    assert device.prepared_parts == 2


async def test_missing_characteristics_and_att_errors_have_their_own_types(
    virtual_air, ble_transport
):
    await SimulatedProvisioningDevice.start(virtual_air, ADDRESS, behaviour=Behaviour.ATT_ERROR)
    async with ble_transport.connect(ADDRESS, connect_timeout=WAIT) as session:
        assert session.has_characteristic(CUSTOM_SERVICE_UUID, CUSTOM_STATUS_UUID)
        assert (CUSTOM_SERVICE_UUID, CUSTOM_CREDENTIALS_UUID) in session.characteristics()
        with pytest.raises(CharacteristicMissing):
            await session.read(CUSTOM_SERVICE_UUID, "9e5d10ff-6b3a-4c1f-9a2e-5b7c8d1e0f00")
        with pytest.raises(GattError) as error:
            await session.write(CUSTOM_SERVICE_UUID, CUSTOM_CREDENTIALS_UUID, b"{}")
        assert error.value.att_code == 0x80
        assert session.connected


async def test_a_connect_to_a_vanished_device_times_out_and_leaves_the_radio_usable(
    virtual_air, ble_transport
):
    gone = await SimulatedProvisioningDevice.start(virtual_air, ADDRESS)
    present = await SimulatedProvisioningDevice.start(virtual_air, "C4:DD:57:80:00:02")
    virtual_air.vanish(gone.device)

    started = time.monotonic()
    with pytest.raises(ConnectTimeout):
        async with ble_transport.connect(ADDRESS, connect_timeout=0.2):
            pass
    assert time.monotonic() - started < WAIT / 2  # gave up at its 0.2 s, did not hang
    async with ble_transport.connect("C4:DD:57:80:00:02", connect_timeout=WAIT) as session:
        assert session.connected
    assert present.connected.is_set()


async def test_link_loss_mid_write_and_while_waiting_are_disconnects(virtual_air, ble_transport):
    await SimulatedProvisioningDevice.start(
        virtual_air, ADDRESS, behaviour=Behaviour.VANISH_MID_WRITE, vanish_after_bytes=36
    )
    async with ble_transport.connect(ADDRESS, connect_timeout=WAIT) as session:
        with pytest.raises(DeviceDisconnected):
            await session.write(CUSTOM_SERVICE_UUID, CUSTOM_CREDENTIALS_UUID, b"z" * 100)
        assert not session.connected
        await asyncio.wait_for(session.wait_disconnected(), WAIT)

    silent = await SimulatedProvisioningDevice.start(
        virtual_air, "C4:DD:57:80:00:03", behaviour=Behaviour.SILENT
    )
    async with ble_transport.connect("C4:DD:57:80:00:03", connect_timeout=WAIT) as session:
        queue = await session.subscribe(CUSTOM_SERVICE_UUID, CUSTOM_STATUS_UUID)
        await session.write(CUSTOM_SERVICE_UUID, CUSTOM_CREDENTIALS_UUID, b"{}")
        virtual_air.vanish(silent.device)
        started = time.monotonic()
        with pytest.raises(DeviceDisconnected):
            await session.receive(queue, within=WAIT)
        # DeviceDisconnected, not a timeout: the link loss ended the wait, well inside it.
        assert time.monotonic() - started < WAIT / 2
