"""Where the JWT signing secret comes from, and the guarantees it must meet.

Order: the YAML (``auth: jwt_secret``), then the environment (``HUB_JWT_SECRET`` or
``JWT_SECRET``), then a file in the config directory that the hub writes on its first
start. A secret shorter than 32 bytes, or a secret file others can read, stops the
integration with a message saying what to fix: a weak key must never sign tokens.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

from .const import MIN_SECRET_BYTES, SECRET_FILE


class SecretError(ValueError):
    """The configured or stored secret cannot be used; the message says why."""


def resolve_jwt_secret(
    configured: str | None, from_environment: str | None, config_dir: Path
) -> bytes:
    if configured is not None:
        return _checked(configured, "auth.jwt_secret in the configuration")
    if from_environment is not None:
        return _checked(from_environment, "the JWT_SECRET / HUB_JWT_SECRET environment variable")
    return load_or_create_secret_file(config_dir / SECRET_FILE)


def _checked(secret: str, source: str) -> bytes:
    encoded = secret.encode("utf-8")
    if len(encoded) < MIN_SECRET_BYTES:
        raise SecretError(
            f"the JWT secret from {source} is {len(encoded)} bytes; at least "
            f"{MIN_SECRET_BYTES} bytes are required (remove it to let the hub generate one)"
        )
    return encoded


def load_or_create_secret_file(path: Path) -> bytes:
    """Read the generated secret, creating it (mode 0600, never overwritten) if missing."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_secret_file(path)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(secrets.token_urlsafe(48) + "\n")
    except BaseException:
        with contextlib.suppress(OSError):
            path.unlink()
        raise
    return _read_secret_file(path)


def _read_secret_file(path: Path) -> bytes:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretError(
            f"{path} is accessible to other users (mode {mode:04o}); run "
            f"'chmod 600 {path}' or delete it to have a new secret generated"
        )
    secret = path.read_text(encoding="utf-8").strip()
    return _checked(secret, str(path))
