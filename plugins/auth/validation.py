"""Checks on the values the store accepts, each failing with a message that says why."""

from __future__ import annotations

import unicodedata
from typing import Any

from .const import (
    MAX_ID_CHARS,
    MAX_PASSWORD_CHARS,
    MAX_USERNAME_CHARS,
    MIN_PASSWORD_CHARS,
    ROLES,
    STATION_ROLES,
)
from .errors import InvalidValueError
from .passwords import is_supported_hash

MAX_HASH_CHARS = 1024
# The stored folded name (users.username_key) is at most this long: bounded so the unique
# index stays within PostgreSQL's B-tree entry limit.
MAX_USERNAME_KEY_CHARS = 512
MAX_STATION_NAME_CHARS = 128


def username(value: Any) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_USERNAME_CHARS:
        raise InvalidValueError(f"username must be a string of 1-{MAX_USERNAME_CHARS} characters")
    if value != value.strip() or any(unicodedata.category(char)[0] == "C" for char in value):
        raise InvalidValueError(
            "username must not start or end with spaces or contain control characters"
        )
    if len(username_key(value)) > MAX_USERNAME_KEY_CHARS:
        # A few characters expand many times under NFKC (U+FDFA is 18 letters).
        raise InvalidValueError("username is too long once its letters are normalised")
    return value


def username_key(value: str) -> str:
    """The form usernames are unique and looked up in: NFKC case-folded, so "Bob",
    "BOB" and the full-width "bob" are one name. Computed here rather than with SQL's
    lower(), which folds only ASCII on SQLite and so would disagree with PostgreSQL."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold())


def role(value: Any) -> str:
    if value not in ROLES:
        raise InvalidValueError(f"role must be one of {', '.join(ROLES)}, not {value!r}")
    return str(value)


def station_role(value: Any) -> str:
    if value not in STATION_ROLES:
        raise InvalidValueError(
            f"station role must be one of {', '.join(STATION_ROLES)}, not {value!r}"
        )
    return str(value)


def password(value: Any) -> str:
    if not isinstance(value, str) or not MIN_PASSWORD_CHARS <= len(value) <= MAX_PASSWORD_CHARS:
        raise InvalidValueError(
            f"password must be {MIN_PASSWORD_CHARS}-{MAX_PASSWORD_CHARS} characters"
        )
    if "\x00" in value:
        raise InvalidValueError("password must not contain NUL characters")
    return value


def password_hash(value: Any) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_HASH_CHARS:
        raise InvalidValueError(f"password hash must be a string of 1-{MAX_HASH_CHARS} characters")
    if not is_supported_hash(value):
        raise InvalidValueError(
            "password hash must be bcrypt ($2a$, $2b$, $2y$) or argon2 ($argon2...)"
        )
    return value


def identifier(value: Any, what: str) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_ID_CHARS:
        raise InvalidValueError(f"{what} must be a string of 1-{MAX_ID_CHARS} characters")
    return value


def station_name(value: Any) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_STATION_NAME_CHARS:
        raise InvalidValueError(
            f"station name must be a string of 1-{MAX_STATION_NAME_CHARS} characters"
        )
    return value
