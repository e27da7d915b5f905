"""The core's YAML schema and the validation of each integration's key.

Each integration validates only its own top-level key (Home Assistant's rule), so one
integration's mistake fails that integration and names it, and leaves the others running.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import voluptuous as vol

from hub.yaml_loader import ConfigError, LineDict, load_yaml

CONFIG_FILE = "configuration.yaml"
CORE_KEY = "hub"

_STATION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")


def _station_id(value: Any) -> str:
    value = str(value)
    if not _STATION_ID.match(value):
        raise vol.Invalid("must be 1-64 letters, digits, '_' or '-' (it is an MQTT topic level)")
    return value


def _port(value: Any) -> int:
    port = vol.Coerce(int)(value)
    if not 0 <= port <= 65535:
        raise vol.Invalid("must be between 0 and 65535 (0 picks a free port)")
    return port


def _ip_network(value: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """An address or a CIDR block, e.g. ``127.0.0.1`` or ``10.0.0.0/8``."""
    try:
        return ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        raise vol.Invalid(f"{value!r} is not an IP address or network") from None


_HOST_NAME = re.compile(r"(\*\.)?[a-z0-9]([a-z0-9-]{0,62})(\.[a-z0-9]([a-z0-9-]{0,62}))*\.?\Z")


def _allowed_host(value: Any) -> str:
    """A host name, ``*.suffix`` wildcard, IP address or CIDR block the hub answers to."""
    text = str(value).strip().lower()
    try:
        ipaddress.ip_network(text.strip("[]"), strict=False)
        return text
    except ValueError:
        pass
    if not _HOST_NAME.match(text):
        raise vol.Invalid(
            f"{value!r} is not a host name (hub.example), wildcard (*.site.lan), IP or CIDR"
        )
    return text


CORE_SCHEMA = vol.Schema(
    {
        vol.Optional("station_id", default="station"): _station_id,
        vol.Optional("name", default="Station"): vol.All(str, vol.Length(min=1, max=128)),
        vol.Optional("http", default={}): vol.Schema(
            {
                vol.Optional("host", default="0.0.0.0"): str,
                vol.Optional("port", default=8123): _port,
                vol.Optional("max_body_bytes", default=1024 * 1024): vol.All(
                    vol.Coerce(int), vol.Range(min=1024, max=64 * 1024 * 1024)
                ),
                vol.Optional("cors_origins", default=[]): [vol.Url()],
                # Reverse proxies whose X-Forwarded-For is believed (addresses or CIDRs).
                vol.Optional("trusted_proxies", default=[]): [_ip_network],
                # Names the hub answers to beyond its own (hub/http/hosts.py).
                vol.Optional("allowed_hosts", default=[]): [_allowed_host],
                # A connection must send a complete request head within this many
                # seconds of opening (or of its previous answer), or it is closed.
                vol.Optional("header_timeout", default=15.0): vol.All(
                    vol.Coerce(float), vol.Range(min=0.05, max=3600)
                ),
                # A body a handler reads must arrive within this many seconds (408).
                vol.Optional("body_timeout", default=30.0): vol.All(
                    vol.Coerce(float), vol.Range(min=0.05, max=3600)
                ),
            }
        ),
        vol.Optional("database", default={}): vol.Schema({vol.Optional("url"): str}),
        vol.Optional("presence", default={}): vol.Schema(
            {
                vol.Optional("heartbeat_interval", default=30.0): vol.All(
                    vol.Coerce(float), vol.Range(min=0.05)
                ),
                vol.Optional("missed_heartbeats", default=3): vol.All(
                    vol.Coerce(int), vol.Range(min=1, max=100)
                ),
            }
        ),
        vol.Optional("history", default={}): vol.Schema(
            {
                vol.Optional("flush_interval", default=0.5): vol.All(
                    vol.Coerce(float), vol.Range(min=0.01, max=60)
                ),
            }
        ),
        vol.Optional("setup_timeout", default=30.0): vol.All(vol.Coerce(float), vol.Range(min=0.1)),
        # Refuse to start when an integration's configuration is invalid (as --strict).
        vol.Optional("strict", default=False): bool,
        vol.Optional("log_level", default="info"): vol.In(
            ["debug", "info", "warning", "error", "critical"]
        ),
    },
    extra=vol.PREVENT_EXTRA,
)


def read_config_file(config_dir: Path) -> dict[str, Any]:
    path = config_dir / CONFIG_FILE
    if not path.is_file():
        raise ConfigError(f"{CONFIG_FILE} not found in {config_dir}", file=str(path))
    data = load_yaml(path)
    if data is None:
        return LineDict()
    if not isinstance(data, dict):
        raise ConfigError("the top level must be a mapping of integration names", file=str(path))
    return data


def check_top_level_keys(raw: dict[str, Any], available: Iterable[str]) -> None:
    known = set(available)
    for key in raw:
        if key != CORE_KEY and key not in known:
            names = ", ".join(sorted(known)) or "none installed"
            raise ConfigError(
                f"unknown key {key!r}{did_you_mean(str(key), [CORE_KEY, *known])}: not the core"
                f" key {CORE_KEY!r} and no installed integration has that name (available"
                f" integrations: {names})",
                file=getattr(raw, "file", None),
                line=_line_of(raw, key),
                key=str(key),
            )


def validate_core(raw: dict[str, Any]) -> dict[str, Any]:
    return validate_section(raw, CORE_KEY, CORE_SCHEMA, integration=None)


def validate_section(
    raw: dict[str, Any], key: str, schema: Any, *, integration: str | None
) -> dict[str, Any]:
    """Validate ``raw[key]`` against ``schema``; a missing or empty section counts as {}."""
    value = raw.get(key)
    if value is None:
        value = {}
    if schema is None:
        schema = vol.Schema({}, extra=vol.ALLOW_EXTRA)
    elif not isinstance(schema, vol.Schema):
        schema = vol.Schema(schema)
    try:
        validated = schema(value)
    except vol.MultipleInvalid as error:
        raise _locate(raw, key, error.errors[0], integration, schema) from error
    except vol.Invalid as error:
        raise _locate(raw, key, error, integration, schema) from error
    return validated if validated is not None else {}


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'broker'?)`` for a likely misspelling, else nothing."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _keys_at(schema: Any, path: list[Any]) -> list[str] | None:
    """The keys a (nested) mapping schema accepts at ``path``, when it can be read."""
    node = schema.schema if isinstance(schema, vol.Schema) else schema
    for part in path:
        if not isinstance(node, dict):
            return None
        node = next((value for marker, value in node.items() if str(marker) == str(part)), None)
        node = node.schema if isinstance(node, vol.Schema) else node
    if not isinstance(node, dict):
        return None
    return sorted(str(marker) for marker in node if isinstance(marker, str | vol.Marker))


def _unknown_key_message(error: vol.Invalid, schema: Any) -> str | None:
    """``unknown key 'brokr' (did you mean 'broker'?); valid keys: ...`` for an extra key."""
    if not error.path or error.error_message != "extra keys not allowed":
        return None
    valid = _keys_at(schema, list(error.path[:-1]))
    if not valid:
        return None
    unknown = str(error.path[-1])
    return f"unknown key {unknown!r}{did_you_mean(unknown, valid)}; valid keys: {', '.join(valid)}"


def _locate(
    raw: dict[str, Any],
    key: str,
    error: vol.Invalid,
    integration: str | None,
    schema: Any = None,
) -> ConfigError:
    node: Any = raw
    file = getattr(raw, "file", None)
    line = _line_of(raw, key)
    path = [key, *error.path]
    for part in path:
        if isinstance(node, dict) and part in node:
            line = _line_of(node, part) or line
            file = getattr(node, "file", file)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            break
    dotted = ".".join(str(part) for part in path)
    return ConfigError(
        _unknown_key_message(error, schema) or error.error_message or str(error),
        file=file,
        line=line,
        key=dotted,
        integration=integration or (None if key == CORE_KEY else key),
    )


def _line_of(mapping: Any, key: Any) -> int | None:
    lines = getattr(mapping, "key_lines", None)
    return lines.get(key) if lines else None
