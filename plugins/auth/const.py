"""Names and limits shared by the auth integration's modules."""

from __future__ import annotations

from pathlib import Path

DOMAIN = "auth"

# Global roles, strongest first (docs/auth.md).
ROLE_OWNER = "owner"
ROLE_ADMIN = "admin"
ROLE_USER = "user"
ROLES = (ROLE_OWNER, ROLE_ADMIN, ROLE_USER)

# Station-scoped roles: the station's owner comes from the stations table; everyone else
# from station_members.
STATION_ROLES = ("owner", "admin", "member")

JWT_ALGORITHM = "HS256"
MIN_SECRET_BYTES = 32
SECRET_FILE = ".jwt_secret"

# Bounds on what a caller can make the hub parse or hash.
MAX_TOKEN_CHARS = 4096
MAX_DEVICE_TOKEN_CHARS = 512
MIN_AGENT_TOKEN_CHARS = 16
MAX_USERNAME_CHARS = 128
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 1024
MAX_ID_CHARS = 128

# Long-lived tokens carry a prefix so the user scheme can tell them from JWTs without
# trying to parse them, and so a leaked one is recognisable in logs and secret scanners.
API_TOKEN_PREFIX = "shub_"

MIGRATIONS = Path(__file__).parent / "migrations"
