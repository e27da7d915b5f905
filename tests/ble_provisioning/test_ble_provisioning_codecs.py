"""Byte-level contracts: advert layouts, Improv frames, credential rules, the payload."""

from __future__ import annotations

import json

import pytest

from plugins.ble_provisioning import advertising
from plugins.ble_provisioning.bridge.protocol import BadCommand, payload_bytes
from plugins.ble_provisioning.const import (
    CUSTOM_SERVICE_UUID,
    IMPROV_SERVICE_DATA_UUID,
    IMPROV_SERVICE_UUID,
)
from plugins.ble_provisioning.credentials import InvalidCredentials, validate
from plugins.ble_provisioning.custom_protocol import StationInfo, build_payload, decode_status
from plugins.ble_provisioning.improv import (
    InvalidFrame,
    ServiceData,
    decode_frame,
    decode_strings,
    encode_frame,
    wifi_settings_frame,
)


def test_the_documented_custom_advert_fills_exactly_31_bytes_and_reads_back():
    payload = advertising.build_payload(
        [
            advertising.flags(),
            advertising.complete_service_uuids([CUSTOM_SERVICE_UUID]),
            advertising.local_name("SH-1A2B3", complete=False),
        ]
    )
    assert len(payload) == 31
    assert payload[:3] == bytes.fromhex("020106")
    assert payload[3:5] == bytes.fromhex("1107")
    assert payload[5:21] == bytes.fromhex(CUSTOM_SERVICE_UUID.replace("-", ""))[::-1]
    parsed = advertising.parse_payload(payload)
    assert parsed.service_uuids == [CUSTOM_SERVICE_UUID]
    assert parsed.local_name == "SH-1A2B3"
    assert parsed.flags == 0x06
    with pytest.raises(advertising.AdvertisingTooLong):
        advertising.build_payload(
            [
                advertising.flags(),
                advertising.complete_service_uuids([CUSTOM_SERVICE_UUID]),
                advertising.local_name("SH-1A2B3C", complete=False),
            ]
        )


def test_the_improv_advert_fits_and_scan_response_name_wins_over_the_short_one():
    advert = advertising.build_payload(
        [
            advertising.flags(),
            advertising.complete_service_uuids([IMPROV_SERVICE_UUID]),
            advertising.service_data(IMPROV_SERVICE_DATA_UUID, ServiceData(2, 1).encode()),
        ]
    )
    assert len(advert) == 31
    response = advertising.build_payload([advertising.local_name("Kitchen light", complete=True)])
    parsed = advertising.parse_payload(advert + response)
    assert parsed.service_data == {IMPROV_SERVICE_DATA_UUID: bytes([2, 1, 0, 0, 0, 0])}
    assert parsed.local_name == "Kitchen light"


def test_parsing_tolerates_truncated_and_zero_length_structures():
    assert advertising.parse_payload(b"\x05\x09ab").local_name is None  # runs past the end
    assert advertising.parse_payload(b"\x00\x03\x09ab").local_name is None  # early end
    parsed = advertising.parse_payload(b"\x03\x03\x0d\x18\x01\x07")
    assert parsed.service_uuids == ["0000180d-0000-1000-8000-00805f9b34fb"]


def test_improv_frames_carry_a_low_byte_sum_checksum():
    frame = encode_frame(0x01, b"\x03abc")
    assert frame == bytes(
        [0x01, 0x04, 0x03, 0x61, 0x62, 0x63, (1 + 4 + 3 + 0x61 + 0x62 + 0x63) & 0xFF]
    )
    assert decode_frame(frame) == (0x01, b"\x03abc")
    with pytest.raises(InvalidFrame, match="checksum"):
        decode_frame(frame[:-1] + bytes([(frame[-1] + 1) & 0xFF]))
    with pytest.raises(InvalidFrame):
        decode_frame(frame[:-2])


def test_improv_wifi_settings_frame_matches_the_spec_example():
    frame = wifi_settings_frame(validate("MyWirelessAP", "mysecurepassword"))
    # Spec: 01 1E 0C {MyWirelessAP} 10 {mysecurepassword} CS
    assert frame[:3] == bytes([0x01, 0x1E, 0x0C])
    assert frame[3:15] == b"MyWirelessAP"
    assert frame[15] == 0x10 and frame[16:32] == b"mysecurepassword"
    assert frame[-1] == sum(frame[:-1]) & 0xFF
    assert decode_strings(decode_frame(frame)[1]) == ["MyWirelessAP", "mysecurepassword"]


@pytest.mark.parametrize(
    ("ssid", "password", "field"),
    [
        ("a" * 33, "password", "ssid"),
        ("ö" * 17, "password", "ssid"),
        ("", "password", "ssid"),
        ("net\x00", "password", "ssid"),
        ("net", "1234567", "password"),
        ("net", "g" * 64, "password"),  # 64 characters but not hex
        ("net", "pass\tword", "password"),
        ("net", "pässword", "password"),
        (None, "password", "ssid"),
    ],
)
def test_credentials_outside_the_802_11_rules_are_refused(ssid, password, field):
    with pytest.raises(InvalidCredentials) as error:
        validate(ssid, password)
    assert error.value.field == field
    assert password not in str(error.value)


def test_credentials_at_the_limits_are_accepted_and_never_printed():
    credentials = validate("ö" * 16, "f" * 64)  # 32 bytes; a hex PSK
    assert len(credentials.ssid.encode()) == 32
    assert "f" * 64 not in repr(credentials)
    assert validate("x", "\"\\}{ '~ ok").password == "\"\\}{ '~ ok"


def test_the_payload_is_compact_json_that_escapes_hostile_text():
    payload = build_payload(
        validate('a"b\nc', 'q"uote\\s!'),
        StationInfo("st", "esp32-1", "mqtt://10.0.0.1:1883", "tok", hub_url="http://10.0.0.1"),
    )
    assert b"\n" not in payload and b" " not in payload
    document = json.loads(payload)
    assert document == {
        "v": 1,
        "ssid": 'a"b\nc',
        "password": 'q"uote\\s!',
        "stationId": "st",
        "externalId": "esp32-1",
        "broker": "mqtt://10.0.0.1:1883",
        "deviceToken": "tok",
        "hubUrl": "http://10.0.0.1",
    }


def test_status_notifications_decode_with_or_without_the_error_byte():
    assert decode_status(b"\x03") == (3, 0)
    assert decode_status(b"\x04\x02") == (4, 2)
    assert decode_status(b"") == (0, 0)


def test_bridge_payloads_are_text_objects_or_hex_and_anything_else_is_refused():
    assert payload_bytes({"event": "write", "payload": "é"}) == "é".encode()
    assert payload_bytes({"event": "write", "payload": {"a": [1, "x"]}}) == b'{"a":[1,"x"]}'
    assert payload_bytes({"event": "write", "payload_hex": "00ff"}) == b"\x00\xff"
    for bad in ({"payload": 5}, {"payload": None}, {"payload_hex": "zz"}, {"payload_hex": 1}):
        with pytest.raises(BadCommand):
            payload_bytes({"event": "write", **bad})
