"""Password hashing and verification.

Local passwords are hashed with argon2id. Hashes synced from the cloud may be bcrypt
(``$2a$``/``$2b$``/``$2y$``) or argon2 (``$argon2…``) and are verified by their prefix.
Verification never raises: a malformed or unknown hash is simply a failed login. Hashes
whose cost parameters would let one login attempt pin the CPU or exhaust memory are
refused for the same reason. Hashing runs in a worker thread so logins never stall the
event loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading

import argon2
import bcrypt
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_LOGGER = logging.getLogger(__name__)

BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")
ARGON2_PREFIX = "$argon2"
# bcrypt only reads the first 72 bytes; the cloud's hashes were made the same way, and
# bcrypt>=5 raises instead of truncating, so the truncation is done here.
BCRYPT_MAX_BYTES = 72

# Upper bounds for hashes that came from elsewhere: above them one check would take
# seconds or gigabytes, which is a denial of service rather than a password.
MAX_BCRYPT_COST = 15
MAX_ARGON2_MEMORY_KIB = 512 * 1024
MAX_ARGON2_TIME_COST = 16
MAX_ARGON2_PARALLELISM = 16


def is_supported_hash(stored: str) -> bool:
    """Whether ``stored`` has a prefix this module can verify (says nothing of its body)."""
    return stored.startswith(BCRYPT_PREFIXES) or stored.startswith(ARGON2_PREFIX)


class Passwords:
    """Hashes new passwords with argon2id and verifies any supported hash."""

    def __init__(
        self, *, time_cost: int = 3, memory_kib: int = 65536, parallelism: int = 4
    ) -> None:
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            type=argon2.Type.ID,
        )
        self._dummy_hash: str | None = None
        self._dummy_lock = threading.Lock()

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    async def hash_async(self, password: str) -> str:
        return await asyncio.to_thread(self.hash, password)

    def verify(self, stored: str | None, password: str) -> bool:
        """True only when ``password`` matches ``stored``; False for any malformed hash."""
        if not stored:
            return False
        try:
            if stored.startswith(ARGON2_PREFIX):
                return self._verify_argon2(stored, password)
            if stored.startswith(BCRYPT_PREFIXES):
                return _verify_bcrypt(stored, password)
        except Exception:  # a hash library surprise must be a failed login, not a 500
            _LOGGER.warning("Password hash could not be checked; treating as a mismatch")
            return False
        return False

    async def verify_async(self, stored: str | None, password: str) -> bool:
        return await asyncio.to_thread(self.verify, stored, password)

    async def verify_unknown_user(self, password: str) -> None:
        """Spend what a real check costs, so unknown usernames cannot be told apart."""
        await asyncio.to_thread(self.verify, self.dummy_hash(), password)

    def dummy_hash(self) -> str:
        with self._dummy_lock:
            if self._dummy_hash is None:
                self._dummy_hash = self._hasher.hash("not a password anyone has")
            return self._dummy_hash

    def _verify_argon2(self, stored: str, password: str) -> bool:
        try:
            parameters = argon2.extract_parameters(stored)
        except InvalidHashError:
            return False
        if (
            parameters.memory_cost > MAX_ARGON2_MEMORY_KIB
            or parameters.time_cost > MAX_ARGON2_TIME_COST
            or parameters.parallelism > MAX_ARGON2_PARALLELISM
        ):
            _LOGGER.warning("Refusing an argon2 hash with excessive cost parameters")
            return False
        try:
            return self._hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


def _verify_bcrypt(stored: str, password: str) -> bool:
    cost = stored[4:6]
    if len(stored) != 60 or not cost.isdigit() or not 4 <= int(cost) <= MAX_BCRYPT_COST:
        return False
    secret = password.encode("utf-8")[:BCRYPT_MAX_BYTES]
    try:
        return bcrypt.checkpw(secret, stored.encode("ascii"))
    except ValueError:
        return False
