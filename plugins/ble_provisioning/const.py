"""Names and numbers the integration, its devices and its tests agree on."""

from __future__ import annotations

from typing import Final

DOMAIN: Final = "ble_provisioning"

# Our own provisioning service (docs/ble-provisioning.md, "Custom GATT protocol").
CUSTOM_SERVICE_UUID: Final = "9e5d1000-6b3a-4c1f-9a2e-5b7c8d1e0f00"
CUSTOM_CREDENTIALS_UUID: Final = "9e5d1001-6b3a-4c1f-9a2e-5b7c8d1e0f00"
CUSTOM_STATUS_UUID: Final = "9e5d1002-6b3a-4c1f-9a2e-5b7c8d1e0f00"
CUSTOM_PAYLOAD_VERSION: Final = 1

# The open Improv Wi-Fi BLE standard (https://www.improv-wifi.com/ble/).
IMPROV_SERVICE_UUID: Final = "00467768-6228-2272-4663-277478268000"
IMPROV_CURRENT_STATE_UUID: Final = "00467768-6228-2272-4663-277478268001"
IMPROV_ERROR_STATE_UUID: Final = "00467768-6228-2272-4663-277478268002"
IMPROV_RPC_COMMAND_UUID: Final = "00467768-6228-2272-4663-277478268003"
IMPROV_RPC_RESULT_UUID: Final = "00467768-6228-2272-4663-277478268004"
IMPROV_CAPABILITIES_UUID: Final = "00467768-6228-2272-4663-277478268005"
IMPROV_SERVICE_DATA_UUID: Final = "00004677-0000-1000-8000-00805f9b34fb"

# ATT's default MTU: a value longer than MTU - 3 needs the long-write procedure.
DEFAULT_ATT_MTU: Final = 23

DEFAULT_CONNECT_TIMEOUT: Final = 10.0
DEFAULT_ANSWER_TIMEOUT: Final = 30.0
DEFAULT_MQTT_PORT: Final = 1883
