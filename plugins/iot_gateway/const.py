"""Names and defaults shared by the gateway integration's modules."""

from __future__ import annotations

DOMAIN = "iot_gateway"

API_PREFIX = "/api/iot"

# Roles allowed to see the raw upstream token, force-write points and edit objects.
PRIVILEGED_ROLES = ("owner", "admin")

# The only upstream paths the hub ever calls, by key. The YAML may move a path (``paths:``)
# but a caller can never choose one: every route is bound to a key when it is registered.
DEFAULT_PATHS: dict[str, str] = {
    "token": "/auth/token",
    "refresh": "/auth/refresh",
    "codes_values": "/codes/values",
    "codes_history": "/codes/history",
    "codes_set": "/codes/set",
    "codes_force_set": "/codes/force-set",
    "alarms": "/alarms",
    "alarm_configs": "/alarm-configs",
    "objects": "/objects",
}

DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_CONNECT_TIMEOUT_SECONDS = 5.0
DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024

# Refresh this long before expiry, or at half the token's lifetime when that is shorter.
REFRESH_MARGIN_MS = 5 * 60 * 1000
