"""Names and defaults of the cloud link, in one place so docs and code agree."""

from __future__ import annotations

DOMAIN = "cloud_link"

# Where the cloud expects stations when only CLOUD_HOST is configured.
CLOUD_PATH = "/ws/station"

# Exit code of the process after a ``station_reset`` from the cloud. A supervisor that
# restarts the hub on failure should treat it as "reset done, start unclaimed".
EXIT_STATION_RESET = 3

# Event channels the cloud can choose with ``station.setActiveChannels``.
CHANNEL_STATE = "state"
CHANNEL_EVENTS = "events"
CHANNEL_PRESENCE = "presence"
ALL_CHANNELS = (CHANNEL_STATE, CHANNEL_EVENTS, CHANNEL_PRESENCE)

# Notifications the station sends, one per channel.
NOTIFY_STATE = "device.state"
NOTIFY_EVENT = "device.event"
NOTIFY_PRESENCE = "device.presence"

# Link states reported by GET /api/cloud/status.
STATE_NOT_CONFIGURED = "not_configured"
STATE_CONNECTING = "connecting"
STATE_AUTHENTICATING = "authenticating"
STATE_CONNECTED = "connected"
STATE_BACKOFF = "backoff"
STATE_AUTH_FAILED = "auth_failed"

# Application error codes in JSON-RPC error responses (outside the spec's reserved range).
ERROR_DEVICE_NOT_FOUND = 1001
ERROR_COMMAND_FAILED = 1002
