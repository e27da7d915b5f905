"""Settings from the environment and ``<config dir>/.env``.

The environment carries what must not live in YAML checked into a repository (secrets,
deployment URLs). The names of the Node seed (``JWT_SECRET``, ``AGENT_TOKEN``, ...) are
accepted beside the ``HUB_`` ones so an existing station's ``.env`` keeps working.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _either(name: str, alias: str | None = None) -> AliasChoices:
    names = [f"HUB_{name.upper()}"]
    if alias:
        names.append(alias)
    return AliasChoices(*names)


class HubSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    config_dir: Path = Field(Path("config"), validation_alias=_either("config_dir"))
    database_url: str | None = Field(None, validation_alias=_either("database_url"))
    # None: not set in the environment, so the YAML's value or its default applies.
    log_level: str | None = Field(None, validation_alias=_either("log_level"))
    http_port: int | None = Field(None, validation_alias=_either("http_port"), ge=0, le=65535)
    jwt_secret: SecretStr | None = Field(None, validation_alias=_either("jwt_secret", "JWT_SECRET"))
    agent_token: SecretStr | None = Field(
        None, validation_alias=_either("agent_token", "AGENT_TOKEN")
    )
    cloud_host: str | None = Field(None, validation_alias=_either("cloud_host", "CLOUD_HOST"))
    base_url: str | None = Field(None, validation_alias=_either("base_url", "BASE_URL"))
    app_id: str | None = Field(None, validation_alias=_either("app_id", "APP_ID"))
    app_secret: SecretStr | None = Field(None, validation_alias=_either("app_secret", "APP_SECRET"))


def load_settings(config_dir: str | Path | None = None) -> HubSettings:
    """Settings for ``config_dir`` (or ``HUB_CONFIG_DIR``), reading its ``.env`` if present."""
    directory = Path(config_dir or os.environ.get("HUB_CONFIG_DIR") or "config")
    env_file = directory / ".env"
    settings = HubSettings(
        _env_file=env_file if env_file.is_file() else None,  # type: ignore[call-arg]
    )
    settings.config_dir = directory.resolve()
    return settings
