"""The ``auth:`` YAML key, and the settings resolved from it and the environment."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from .const import MAX_TOKEN_CHARS, MIN_AGENT_TOKEN_CHARS, MIN_SECRET_BYTES
from .secret import SecretError, resolve_jwt_secret

if TYPE_CHECKING:
    from hub.settings import HubSettings


def _secret(value: Any) -> str:
    if not isinstance(value, str) or len(value.encode("utf-8")) < MIN_SECRET_BYTES:
        raise vol.Invalid(
            f"must be a string of at least {MIN_SECRET_BYTES} bytes "
            "(leave it out to have the hub generate one)"
        )
    return value


def _agent_token(value: Any) -> str | None:
    if value is None or value == "":
        return None
    problem = agent_token_problem(value)
    if problem:
        raise vol.Invalid(problem)
    return str(value)


def agent_token_problem(value: Any) -> str | None:
    """Why ``value`` cannot be the agent token, or None when it can."""
    if not isinstance(value, str):
        return "must be a string"
    if not MIN_AGENT_TOKEN_CHARS <= len(value) <= MAX_TOKEN_CHARS:
        return (
            f"must be {MIN_AGENT_TOKEN_CHARS}-{MAX_TOKEN_CHARS} characters "
            "(a short agent token can be guessed)"
        )
    if not all("!" <= char <= "~" for char in value):
        return "must be printable ASCII without spaces (it travels in a Bearer header)"
    return None


def _seconds(low: float, high: float) -> vol.All:
    return vol.All(vol.Coerce(float), vol.Range(min=low, max=high))


def _count(low: int, high: int) -> vol.All:
    return vol.All(vol.Coerce(int), vol.Range(min=low, max=high))


DAY = 86400.0

CONFIG_SCHEMA = vol.Schema(
    {
        vol.Optional("jwt_secret"): _secret,
        vol.Optional("agent_token"): _agent_token,
        vol.Optional("access_token_ttl", default=900): _seconds(30, DAY),
        vol.Optional("refresh_token_ttl", default=30 * DAY): _seconds(300, 365 * DAY),
        # Tokens signed elsewhere with the same secret may live longer than ours, but
        # never longer than this.
        vol.Optional("max_access_token_lifetime", default=DAY): _seconds(30, 7 * DAY),
        vol.Optional("leeway", default=10): _seconds(0, 300),
        vol.Optional("user_cache_ttl", default=30): _seconds(0, 3600),
        vol.Optional("login_throttle", default={}): vol.Schema(
            {
                vol.Optional("max_failures_per_user", default=5): _count(1, 1000),
                vol.Optional("max_failures_per_ip", default=20): _count(1, 100_000),
                vol.Optional("window", default=300): _seconds(1, DAY),
            }
        ),
        vol.Optional("password_hashing", default={}): vol.Schema(
            {
                vol.Optional("time_cost", default=3): _count(1, 10),
                vol.Optional("memory_kib", default=65536): _count(8192, 1024 * 1024),
                vol.Optional("parallelism", default=4): _count(1, 16),
            }
        ),
    },
    extra=vol.PREVENT_EXTRA,
)


@dataclass(frozen=True, slots=True)
class AuthSettings:
    jwt_secret: bytes
    agent_token: str | None
    access_token_ttl: float
    refresh_token_ttl: float
    max_access_token_lifetime: float
    leeway: float
    user_cache_ttl: float
    max_failures_per_user: int
    max_failures_per_ip: int
    throttle_window: float
    argon2_time_cost: int
    argon2_memory_kib: int
    argon2_parallelism: int


def resolve_settings(
    config: dict[str, Any], settings: HubSettings, config_dir: Path
) -> AuthSettings:
    """Merge the YAML with the environment; raises SecretError for an unusable secret."""
    # An empty variable (a placeholder in a .env file) counts as unset.
    from_environment = settings.jwt_secret.get_secret_value() if settings.jwt_secret else None
    if "agent_token" in config:  # the YAML decides, even when it says "none"
        agent_token = config["agent_token"]
    else:
        agent_token = settings.agent_token.get_secret_value() if settings.agent_token else None
        problem = agent_token_problem(agent_token) if agent_token else None
        if problem:
            raise SecretError(f"the AGENT_TOKEN / HUB_AGENT_TOKEN environment variable {problem}")
    throttle = config["login_throttle"]
    hashing = config["password_hashing"]
    return AuthSettings(
        jwt_secret=resolve_jwt_secret(
            config.get("jwt_secret"), from_environment or None, config_dir
        ),
        agent_token=agent_token or None,
        access_token_ttl=config["access_token_ttl"],
        refresh_token_ttl=config["refresh_token_ttl"],
        max_access_token_lifetime=max(
            config["max_access_token_lifetime"], config["access_token_ttl"]
        ),
        leeway=config["leeway"],
        user_cache_ttl=config["user_cache_ttl"],
        max_failures_per_user=throttle["max_failures_per_user"],
        max_failures_per_ip=throttle["max_failures_per_ip"],
        throttle_window=throttle["window"],
        argon2_time_cost=hashing["time_cost"],
        argon2_memory_kib=hashing["memory_kib"],
        argon2_parallelism=hashing["parallelism"],
    )
