"""Names and limits of the MQTT device protocol (docs/mqtt-protocol.md); topic shapes are fixed."""

from __future__ import annotations

import re

DOMAIN = "mqtt_devices"
TRANSPORT = "mqtt"

# What a device's external id may be: it is one MQTT topic level.
EXTERNAL_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")
# Event types, device types and command names share the core's name rule.
NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,64}\Z")

# Leaves of station/S/device/D/<leaf>.
HANDSHAKE = "handshake"
HANDSHAKE_ACK = "handshake/ack"
STATE = "state"
EVENT = "event"
HEARTBEAT = "heartbeat"
COMMAND = "command"
COMMAND_RESULT = "command/result"

HUB_ONLINE = b"online"
HUB_OFFLINE = b"offline"

DEFAULT_LOCAL_BROKER = "mqtt://127.0.0.1:1883"
DEFAULT_EMBEDDED_HOST = "127.0.0.1"
DEFAULT_EMBEDDED_PORT = 1883
DEFAULT_MAX_PAYLOAD = 64 * 1024
DEFAULT_MAX_NESTING = 32
DEFAULT_MAX_DEVICES = 10_000
DEFAULT_NEW_DEVICES_PER_MINUTE = 60

# mqtt_devices.device_identities
IDENTITIES_DYNSEC = "dynsec"
IDENTITIES_OFF = "off"

# Why a message was dropped; the keys of the counters shown at GET /api/health.
DROP_OTHER_STATION = "other_station"
DROP_BAD_EXTERNAL_ID = "bad_external_id"
DROP_UNKNOWN_DEVICE = "unknown_device"
DROP_OVERSIZE = "oversize"
DROP_INVALID_JSON = "invalid_json"
DROP_NOT_OBJECT = "not_object"
DROP_TOO_DEEP = "too_deep"
DROP_INVALID_PAYLOAD = "invalid_payload"
DROP_FOREIGN_DEVICE = "names_other_device"
DROP_DUPLICATE_EVENT = "duplicate_event"
DROP_UNKNOWN_COMMAND = "unknown_command"
DROP_DEVICE_NOT_ACCEPTED = "device_not_accepted"
DROP_DEVICE_LIMIT = "device_limit"
DROP_NEW_DEVICE_RATE = "new_device_rate"
# A message the broker had stored (retained): old news, and a way to replay a forgery.
DROP_RETAINED = "retained"
DROP_NO_HANDLER = "no_handler"
DROP_HANDLER_ERROR = "handler_error"
DROP_HANDLER_TIMEOUT = "handler_timeout"
