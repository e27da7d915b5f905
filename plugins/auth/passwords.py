"""Password hashing and verification.

Local passwords are hashed with argon2id. Hashes synced from the cloud may be bcrypt
(``$2a$``/``$2b$``/``$2y$``) or argon2 (``$argon2…``) and are verified by their prefix.
Verification never raises: a malformed or unknown hash is simply a failed login. Hashes
whose cost parameters would let one login attempt pin the CPU or exhaust memory are
refused for the same reason. Hashing runs in a worker thread so logins never stall the
event loop.

Every login does the same work whoever is named (``verify_login``), so its time tells
nothing about the username: one argon2 check at the hub's parameters (the user's local
hash, else a dummy), then, when any cloud hash is stored, the work of the costliest one
(``LoginProfile``): a bcrypt check at the highest stored cost — a user's cheaper bcrypt
hash is topped up with dummy checks at costs c, c+1, ..., ref-1, which sums to exactly
the work of one check at the reference cost (bcrypt's work is 2^cost) — and an argon2
check at the costliest stored station parameters. Unknown users, users without a
password, deactivated users and wrong passwords all run that same sequence.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass

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


DUMMY_PASSWORD = "not a password anyone has"


@dataclass(frozen=True, slots=True)
class LoginProfile:
    """The costliest station (cloud) hashes stored: what every login must spend on them.

    ``bcrypt_cost`` None: no usable bcrypt station hash; ``argon2_hash`` None: no usable
    argon2 station hash (else the one with the most memory x time, a template for dummies).
    """

    bcrypt_cost: int | None = None
    argon2_hash: str | None = None

    @classmethod
    def of(cls, station_hashes: Iterable[str | None]) -> LoginProfile:
        bcrypt_cost: int | None = None
        argon2_hash: str | None = None
        argon2_work = -1
        for stored in station_hashes:
            if not stored:
                continue
            cost = _bcrypt_cost(stored)
            if cost is not None:
                bcrypt_cost = max(cost, bcrypt_cost or 0)
                continue
            parameters = _argon2_parameters(stored)
            if parameters is not None:
                work = parameters.memory_cost * parameters.time_cost
                if work > argon2_work:
                    argon2_work, argon2_hash = work, stored
        return cls(bcrypt_cost, argon2_hash)


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
        self._bcrypt_dummies: dict[int, bytes] = {}
        self._argon2_dummies: dict[tuple[argon2.Type, int, int, int], str] = {}

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
                self._dummy_hash = self._hasher.hash(DUMMY_PASSWORD)
            return self._dummy_hash

    async def verify_login_async(
        self, local: str | None, station: str | None, password: str, profile: LoginProfile
    ) -> bool:
        return await asyncio.to_thread(self.verify_login, local, station, password, profile)

    def verify_login(
        self, local: str | None, station: str | None, password: str, profile: LoginProfile
    ) -> bool:
        """Whether ``password`` matches either hash, after the same work for everyone.

        ``local``/``station`` are None for an unknown user or a missing hash. Nothing is
        skipped after a match, so a deactivated user's right password costs the same too.
        """
        matched = self.verify(local or self.dummy_hash(), password) and bool(local)
        station_cost = _bcrypt_cost(station) if station else None
        station_argon2 = _argon2_parameters(station) is not None if station else False
        reference = profile.bcrypt_cost
        if station_cost is not None:
            matched = _verify_bcrypt(station, password) or matched  # type: ignore[arg-type]
            # Top up to the reference cost; a hash newer (costlier) than a cached profile
            # is simply checked.
            top_up = range(station_cost, max(station_cost, reference or 0))
        elif reference is not None:
            top_up = range(reference, reference + 1)
        else:
            top_up = range(0)
        for cost in top_up:
            _check_bcrypt(password, self._bcrypt_dummy(cost))
        if profile.argon2_hash is not None or station_argon2:
            if station_argon2:
                matched = self.verify(station, password) or matched
            else:
                self.verify(self._argon2_dummy(profile.argon2_hash), password)  # type: ignore[arg-type]
        return matched

    def _bcrypt_dummy(self, cost: int) -> bytes:
        with self._dummy_lock:
            dummy = self._bcrypt_dummies.get(cost)
            if dummy is None:
                dummy = bcrypt.hashpw(DUMMY_PASSWORD.encode(), bcrypt.gensalt(rounds=cost))
                self._bcrypt_dummies[cost] = dummy
            return dummy

    def _argon2_dummy(self, template: str) -> str:
        """A hash of the dummy password with ``template``'s parameters."""
        parameters = argon2.extract_parameters(template)
        key = (
            parameters.type,
            parameters.memory_cost,
            parameters.time_cost,
            parameters.parallelism,
        )
        with self._dummy_lock:
            dummy = self._argon2_dummies.get(key)
            if dummy is None:
                dummy = argon2.PasswordHasher(
                    time_cost=parameters.time_cost,
                    memory_cost=parameters.memory_cost,
                    parallelism=parameters.parallelism,
                    hash_len=parameters.hash_len,
                    salt_len=parameters.salt_len,
                    type=parameters.type,
                ).hash(DUMMY_PASSWORD)
                self._argon2_dummies[key] = dummy
            return dummy

    def _verify_argon2(self, stored: str, password: str) -> bool:
        if _argon2_parameters(stored) is None:
            if stored.startswith(ARGON2_PREFIX):
                _LOGGER.warning("Refusing an argon2 hash that is malformed or too costly")
            return False
        try:
            return self._hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


def _bcrypt_cost(stored: str) -> int | None:
    """The cost of a well-formed bcrypt hash this module will run, else None."""
    if not stored.startswith(BCRYPT_PREFIXES) or len(stored) != 60 or stored[6] != "$":
        return None
    cost = stored[4:6]
    if not cost.isdigit() or not 4 <= int(cost) <= MAX_BCRYPT_COST:
        return None
    return int(cost)


def _argon2_parameters(stored: str) -> argon2.Parameters | None:
    """The parameters of an argon2 hash this module will run, else None."""
    if not stored.startswith(ARGON2_PREFIX):
        return None
    try:
        parameters = argon2.extract_parameters(stored)
    except InvalidHashError:
        return None
    if (
        parameters.memory_cost > MAX_ARGON2_MEMORY_KIB
        or parameters.time_cost > MAX_ARGON2_TIME_COST
        or parameters.parallelism > MAX_ARGON2_PARALLELISM
    ):
        return None
    return parameters


def _verify_bcrypt(stored: str, password: str) -> bool:
    if _bcrypt_cost(stored) is None:
        return False
    try:
        return _check_bcrypt(password, stored.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return False


def _check_bcrypt(password: str, stored: bytes) -> bool:
    """The one place bcrypt runs (the timing tests count its calls by cost)."""
    return bcrypt.checkpw(password.encode("utf-8")[:BCRYPT_MAX_BYTES], stored)
