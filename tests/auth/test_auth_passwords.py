"""Password verification by hash prefix, without a hub."""

from __future__ import annotations

import time

import bcrypt
import pytest
from argon2 import PasswordHasher, Type

from plugins.auth import passwords
from plugins.auth.passwords import LoginProfile, Passwords, is_supported_hash

FAST = Passwords(time_cost=1, memory_kib=8192, parallelism=1)


def test_new_hashes_are_argon2id_and_verify():
    stored = FAST.hash("a password")
    assert stored.startswith("$argon2id$")
    assert FAST.verify(stored, "a password")
    assert not FAST.verify(stored, "another")


def test_production_defaults_are_argon2id_with_64_mib():
    stored = Passwords().hash("x" * 10)
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


@pytest.mark.parametrize("prefix", ["$2a$", "$2b$", "$2y$"])
def test_bcrypt_variants(prefix):
    stored = prefix + bcrypt.hashpw(b"pw-123456", bcrypt.gensalt(4)).decode()[4:]
    assert FAST.verify(stored, "pw-123456")
    assert not FAST.verify(stored, "pw-1234567")


def test_argon2_variants_made_elsewhere():
    for kind in (Type.ID, Type.I, Type.D):
        stored = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=2, type=kind).hash("pw")
        assert FAST.verify(stored, "pw"), kind
        assert not FAST.verify(stored, "pW"), kind


@pytest.mark.parametrize(
    "stored",
    [
        None,
        "",
        "plaintext",
        "$1$md5crypt",
        "$2x$04$" + "a" * 53,
        "$2b$04$" + "a" * 10,
        "$2b$3a$" + "a" * 53,
        "$2b$99$" + "a" * 53,
        "$argon2id$v=19$m=65536,t=3,p=4$",
        "$argon2id$v=19$m=1048576,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
        "$argon2id$v=19$m=8192,t=100,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
        "$2b$04$\u00e9" + "a" * 52,
    ],
)
def test_malformed_or_dangerous_hashes_fail_quickly_without_raising(stored):
    started = time.perf_counter()
    assert FAST.verify(stored, "anything") is False
    assert time.perf_counter() - started < 1


def test_supported_prefixes():
    assert is_supported_hash("$2y$10$x") and is_supported_hash("$argon2i$x")
    assert not is_supported_hash("$5$sha256crypt") and not is_supported_hash("pbkdf2:sha256")


async def test_async_variants_run_in_a_thread():
    stored = await FAST.hash_async("pw-async")
    assert await FAST.verify_async(stored, "pw-async")
    await FAST.verify_unknown_user("pw-async")  # the dummy hash is built once, lazily
    assert FAST.dummy_hash() is FAST.dummy_hash()


def _bcrypt_hash(password: str, cost: int) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(cost)).decode()


def test_verify_login_does_the_reference_bcrypt_work_for_every_user(monkeypatch) -> None:
    """bcrypt's work is 2^cost: a cost-4 user is topped up with dummies at costs 4 and 5,
    which with the real check sums to the 2^6 a cost-6 user (or an unknown one) costs."""
    work: list[int] = []
    check = passwords._check_bcrypt

    def counting(password: str, stored: bytes) -> bool:
        work.append(2 ** int(stored[4:6]))
        return check(password, stored)

    monkeypatch.setattr(passwords, "_check_bcrypt", counting)
    cheap, dear = _bcrypt_hash("pw-123456", 4), _bcrypt_hash("pw-123456", 6)
    profile = LoginProfile.of([cheap, dear, None, "$2b$99$not-a-hash"])
    assert profile.bcrypt_cost == 6 and profile.argon2_hash is None
    local = FAST.hash("pw-123456")

    cases = [
        (None, cheap, "pw-123456", True),
        (None, dear, "pw-123456", True),
        (local, None, "pw-123456", True),
        (None, cheap, "wrong", False),
        (None, None, "pw-123456", False),  # unknown user
    ]
    for local_hash, station, password, expected in cases:
        work.clear()
        assert FAST.verify_login(local_hash, station, password, profile) is expected
        assert sum(work) == 2**6, (station, work)

    # A hash costlier than a (stale) profile is still checked, never skipped.
    newer = _bcrypt_hash("pw-123456", 7)
    assert FAST.verify_login(None, newer, "pw-123456", profile)


def test_verify_login_with_argon2_station_hashes():
    cloud = PasswordHasher(time_cost=2, memory_cost=8192, parallelism=1, type=Type.ID)
    station = cloud.hash("pw-123456")
    profile = LoginProfile.of([station])
    assert profile.argon2_hash == station and profile.bcrypt_cost is None
    assert FAST.verify_login(None, station, "pw-123456", profile)
    assert not FAST.verify_login(None, station, "wrong", profile)
    assert not FAST.verify_login(None, None, "pw-123456", profile)  # runs the dummy
