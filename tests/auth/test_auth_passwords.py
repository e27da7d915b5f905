"""Password verification by hash prefix, without a hub."""

from __future__ import annotations

import time

import bcrypt
import pytest
from argon2 import PasswordHasher, Type

from plugins.auth.passwords import Passwords, is_supported_hash

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
