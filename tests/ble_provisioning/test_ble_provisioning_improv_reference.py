"""The hub's Improv codec checked against an independent one: the protocol module of
``py-improv-ble-client``, the library Home Assistant provisions Improv devices with.

The other Improv tests run the hub against its own simulator, which shares the hub's
codec: a mistake in that codec would be made on both sides and pass. Here every frame
the hub writes is decoded by the reference, and every frame the reference writes is
decoded by the hub.
"""

from __future__ import annotations

import pytest
from improv_ble_client import protocol as reference

from plugins.ble_provisioning import const
from plugins.ble_provisioning.credentials import WifiCredentials
from plugins.ble_provisioning.improv import (
    ImprovCapability,
    ImprovCommand,
    ImprovError,
    ImprovState,
    ServiceData,
    decode_frame,
    decode_strings,
    encode_frame,
    wifi_settings_frame,
)
from plugins.ble_provisioning.testing import SimulatedImprovDevice

ADDRESS = "C4:DD:57:30:00:09"

CREDENTIALS = [
    WifiCredentials("Farm WiFi", "correct horse"),
    WifiCredentials("Café Straße ☕", "pässwörd-ünïcode"),  # multi-byte UTF-8
    WifiCredentials("x" * 32, "a" * 63),  # the longest SSID, the longest passphrase
    WifiCredentials("hex", "0123456789abcdef" * 4),  # a 64-hex PSK
]


def test_uuids_and_numbers_match_the_reference():
    assert const.IMPROV_SERVICE_UUID == reference.SERVICE_UUID
    assert const.IMPROV_SERVICE_DATA_UUID == reference.SERVICE_DATA_UUID
    assert const.IMPROV_CURRENT_STATE_UUID == reference.CHARACTERISTIC_UUID_STATE
    assert const.IMPROV_ERROR_STATE_UUID == reference.CHARACTERISTIC_UUID_ERROR
    assert const.IMPROV_RPC_COMMAND_UUID == reference.CHARACTERISTIC_UUID_RPC_COMMAND
    assert const.IMPROV_RPC_RESULT_UUID == reference.CHARACTERISTIC_UUID_RPC_RESULT
    assert const.IMPROV_CAPABILITIES_UUID == reference.CHARACTERISTIC_UUID_CAPABILITIES
    for state in ImprovState:
        assert reference.State(state.value).name == state.name
    same_errors = {
        ImprovError.NONE: reference.Error.NO_ERROR,
        ImprovError.INVALID_RPC: reference.Error.INVALID_RPC_PACKET,
        ImprovError.UNKNOWN_RPC: reference.Error.UNKNOWN_RPC_COMMAND,
        ImprovError.UNABLE_TO_CONNECT: reference.Error.UNABLE_TO_CONNECT,
        ImprovError.NOT_AUTHORIZED: reference.Error.NOT_AUTHORIZED,
        ImprovError.UNKNOWN: reference.Error.UNKNOWN_ERROR,
    }
    assert set(same_errors) == set(ImprovError)
    for mine, theirs in same_errors.items():
        assert mine.value == theirs.value, mine
    assert ImprovCapability.IDENTIFY.value == reference.Capabilities.IDENTIFY.value
    assert ImprovCapability.DEVICE_INFO.value == reference.Capabilities.DEVICE_INFO.value


@pytest.mark.parametrize("credentials", CREDENTIALS, ids=lambda c: c.ssid[:12])
def test_the_wifi_settings_frame_is_the_references(credentials):
    frame = wifi_settings_frame(credentials)
    expected = reference.WiFiSettingsCmd(
        credentials.ssid.encode(), credentials.password.encode()
    ).as_bytes()
    assert frame == expected
    decoded = reference.WiFiSettingsCmd.from_bytes(frame)
    assert (decoded.ssid.decode(), decoded.password.decode()) == (
        credentials.ssid,
        credentials.password,
    )


def test_commands_without_data_are_the_references():
    assert encode_frame(ImprovCommand.IDENTIFY) == reference.IdentifyCmd().as_bytes()
    assert encode_frame(ImprovCommand.DEVICE_INFO) == reference.DeviceInfoCmd().as_bytes()


@pytest.mark.parametrize(
    ("result", "command", "strings"),
    [
        (
            reference.WiFiSettingsRes(b"http://esp-improv.local", []),
            0x01,
            ["http://esp-improv.local"],
        ),
        (reference.WiFiSettingsRes(None, []), 0x01, []),
        (
            reference.DeviceInfoRes(b"ESPHome", b"2026.11.0", b"ESP32-C3", b"Kitchen"),
            0x03,
            ["ESPHome", "2026.11.0", "ESP32-C3", "Kitchen"],
        ),
    ],
)
def test_the_hub_reads_the_references_rpc_results(result, command, strings):
    code, data = decode_frame(result.as_bytes())
    assert code == command
    assert decode_strings(data) == strings


@pytest.mark.parametrize("state", list(ImprovState))
def test_service_data_round_trips_through_the_reference(state):
    capabilities = ImprovCapability.IDENTIFY | ImprovCapability.DEVICE_INFO
    advertised = ServiceData(state, capabilities).encode()
    parsed = reference.ImprovServiceData.from_bytes(advertised)
    assert (parsed.state.value, parsed.capabilities.value) == (state.value, capabilities.value)
    mine = ServiceData.parse(bytes([state.value, capabilities.value, 0, 0, 0, 0]))
    assert mine == ServiceData(state.value, capabilities.value)


async def test_what_the_hub_writes_to_a_device_is_decoded_by_the_reference(
    virtual_air, ble_hub, api, open_scan
) -> None:
    """End to end: the frames the hub's provisioning really wrote over (virtual) BLE."""
    device = await SimulatedImprovDevice.start(
        virtual_air, ADDRESS, networks={"Café ☕": "correct horse"}
    )
    written: list[bytes] = []
    results: list[bytes] = []
    handle, update = device._handle_frame, device._update

    async def recording_handle(frame: bytes) -> None:
        written.append(frame)
        await handle(frame)

    async def recording_update(uuid: str, value: bytes) -> None:
        if uuid == const.IMPROV_RPC_RESULT_UUID:
            results.append(value)
        await update(uuid, value)

    # Wrapped on this one instance, to record what goes each way.
    device._handle_frame = recording_handle  # type: ignore[method-assign]
    device._update = recording_update  # type: ignore[method-assign]
    socket = await open_scan(ble_hub)
    await socket.candidate(ADDRESS)
    body = {"address": ADDRESS, "ssid": "Café ☕", "password": "correct horse"}
    async with api.post("/api/provisioning/add", json=body) as response:
        assert response.status == 200, await response.text()
        answer = await response.json()
    [frame] = [frame for frame in written if frame[0] == ImprovCommand.WIFI_SETTINGS]
    command = reference.WiFiSettingsCmd.from_bytes(frame)
    assert command.ssid is not None and command.password is not None
    assert (command.ssid.decode(), command.password.decode()) == ("Café ☕", "correct horse")
    # The simulator's answer is standard Improv too, and the hub reported what it said.
    [result] = [reference.parse_result(value) for value in results]
    assert isinstance(result, reference.WiFiSettingsRes)
    assert result.redirect_url is not None
    assert answer["redirectUrl"] == result.redirect_url.decode()
