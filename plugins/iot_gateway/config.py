"""The ``iot_gateway:`` YAML key, and the settings it resolves to with the environment.

``base_url``, ``app_id`` and ``app_secret`` may come from the YAML or, when the YAML leaves
them out, from the environment (``BASE_URL``/``HUB_BASE_URL``, ``APP_ID``/``HUB_APP_ID``,
``APP_SECRET``/``HUB_APP_SECRET``) so a station's existing ``.env`` keeps working.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import voluptuous as vol
from yarl import URL

from hub.yaml_loader import ConfigError

from .const import (
    DEFAULT_CONNECT_TIMEOUT_SECONDS,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_PATHS,
    DEFAULT_TIMEOUT_SECONDS,
    DOMAIN,
)


def base_url(value: Any) -> str:
    """An http(s) URL with a host; a path prefix is allowed, a query or fragment is not."""
    if not isinstance(value, str) or not value.strip():
        raise vol.Invalid("must be an http:// or https:// URL")
    try:
        url = URL(value.strip())
    except ValueError as error:
        raise vol.Invalid(f"is not a valid URL ({error})") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise vol.Invalid("must be an http:// or https:// URL with a host")
    if url.query_string or url.fragment or url.user or url.password:
        raise vol.Invalid("must not carry a query, a fragment or credentials")
    return value.strip()


def upstream_path(value: Any) -> str:
    """A plain absolute path: it is appended to ``base_url``, so it must not escape it."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//"):
        raise vol.Invalid("must be a path starting with a single '/'")
    if any(char in value for char in "?#\\") or any(char.isspace() for char in value):
        raise vol.Invalid("must not contain '?', '#', '\\' or whitespace")
    if ".." in value.split("/"):
        raise vol.Invalid("must not contain '..' segments")
    return value


def _seconds(maximum: float) -> vol.All:
    return vol.All(vol.Coerce(float), vol.Range(min=0.1, max=maximum))


CONFIG_SCHEMA = vol.Schema(
    {
        vol.Optional("base_url"): base_url,
        vol.Optional("app_id"): vol.All(vol.Coerce(str), vol.Length(min=1, max=256)),
        vol.Optional("app_secret"): vol.All(vol.Coerce(str), vol.Length(min=1, max=4096)),
        vol.Optional("paths", default={}): vol.Schema(
            {vol.Optional(key): upstream_path for key in DEFAULT_PATHS}
        ),
        vol.Optional("timeout", default=DEFAULT_TIMEOUT_SECONDS): _seconds(600),
        vol.Optional("connect_timeout", default=DEFAULT_CONNECT_TIMEOUT_SECONDS): _seconds(60),
        vol.Optional("max_response_bytes", default=DEFAULT_MAX_RESPONSE_BYTES): vol.All(
            vol.Coerce(int), vol.Range(min=1024, max=256 * 1024 * 1024)
        ),
    },
    extra=vol.PREVENT_EXTRA,
)


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    """Everything the integration needs to reach the gateway, resolved once at start."""

    base_url: URL
    app_id: str
    app_secret: str | None = field(default=None, repr=False)
    paths: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_PATHS))
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_SECONDS
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES

    def url(self, key: str) -> URL:
        """The upstream URL for a path key; unknown keys are a programming error."""
        path = self.paths[key]
        return self.base_url.with_path(self.base_url.path.rstrip("/") + path, encoded=False)


def resolve_settings(config: Mapping[str, Any], env: Any) -> GatewaySettings:
    """Merge the validated YAML with the environment settings (``hub.settings``).

    Raises ``ConfigError`` naming the key and the environment variable to set when the
    gateway's address or application id is missing from both.
    """
    config = CONFIG_SCHEMA(dict(config or {}))
    url = config.get("base_url") or _plain(getattr(env, "base_url", None))
    if not url:
        raise ConfigError(
            "base_url is not set: add iot_gateway.base_url to the YAML or set BASE_URL "
            "(or HUB_BASE_URL) in the environment",
            key=f"{DOMAIN}.base_url",
            integration=DOMAIN,
        )
    try:
        url = base_url(url)
    except vol.Invalid as error:
        raise ConfigError(
            f"base_url from the environment {error.error_message}",
            key=f"{DOMAIN}.base_url",
            integration=DOMAIN,
        ) from None
    app_id = config.get("app_id") or _plain(getattr(env, "app_id", None))
    if not app_id:
        raise ConfigError(
            "app_id is not set: add iot_gateway.app_id to the YAML or set APP_ID "
            "(or HUB_APP_ID) in the environment",
            key=f"{DOMAIN}.app_id",
            integration=DOMAIN,
        )
    secret = config.get("app_secret") or _plain(getattr(env, "app_secret", None))
    return GatewaySettings(
        base_url=URL(url),
        app_id=app_id,
        app_secret=secret or None,
        paths={**DEFAULT_PATHS, **config["paths"]},
        timeout=config["timeout"],
        connect_timeout=config["connect_timeout"],
        max_response_bytes=config["max_response_bytes"],
    )


def _plain(value: Any) -> str | None:
    """Settings may hold pydantic ``SecretStr``s; unwrap them only here."""
    if value is None:
        return None
    reveal = getattr(value, "get_secret_value", None)
    text = reveal() if callable(reveal) else str(value)
    return text.strip() or None
