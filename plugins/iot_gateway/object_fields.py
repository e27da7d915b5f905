"""What a valid object looks like, for the API and for the gateway's bulk list alike."""

from __future__ import annotations

from typing import Any

import orjson
import voluptuous as vol

from hub.http.openapi import describe

MAX_METADATA_BYTES = 64 * 1024


@describe(type="string", minLength=1, maxLength=255)
def object_code(value: Any) -> str:
    """Codes name upstream points, so they are matched exactly: no padding, no controls."""
    if not isinstance(value, str):
        raise vol.Invalid("must be a string")
    if not value or len(value) > 255:
        raise vol.Invalid("must be 1 to 255 characters")
    if value != value.strip() or any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise vol.Invalid("must not have surrounding spaces or control characters")
    return value


def _text(maximum: int) -> vol.All:
    return vol.All(str, vol.Length(max=maximum))


@describe(type="object", description=f"at most {MAX_METADATA_BYTES} bytes of JSON")
def metadata(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise vol.Invalid("must be a JSON object")
    if len(orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)) > MAX_METADATA_BYTES:
        raise vol.Invalid(f"must encode to at most {MAX_METADATA_BYTES} bytes of JSON")
    return value


_OPTIONAL_FIELDS: dict[vol.Marker, Any] = {
    vol.Optional("type"): _text(64),
    vol.Optional("description"): vol.Any(None, _text(10_000)),
    vol.Optional("metadata"): vol.Any(None, metadata),
}

CREATE_SCHEMA = vol.Schema(
    {
        vol.Required("code"): object_code,
        vol.Required("name"): vol.All(str, vol.Length(min=1, max=255)),
        **_OPTIONAL_FIELDS,
    },
    extra=vol.PREVENT_EXTRA,
)


@describe(minProperties=1)
def _not_empty(value: dict[str, Any]) -> dict[str, Any]:
    if not value:
        raise vol.Invalid("name at least one of code, name, type, description, metadata")
    return value


UPDATE_SCHEMA = vol.Schema(
    vol.All(
        {
            vol.Optional("code"): object_code,
            vol.Optional("name"): vol.All(str, vol.Length(min=1, max=255)),
            **_OPTIONAL_FIELDS,
        },
        _not_empty,
    ),
    extra=vol.PREVENT_EXTRA,
)

# The gateway's list: only ``code`` is required, unknown keys are ignored so a gateway
# that adds fields does not break the sync.
UPSTREAM_OBJECT_SCHEMA = vol.Schema(
    {
        vol.Required("code"): object_code,
        vol.Optional("name"): vol.Any(None, vol.All(str, vol.Length(max=255))),
        **_OPTIONAL_FIELDS,
    },
    extra=vol.REMOVE_EXTRA,
)
