"""Access tokens (HS256 JWTs) and the random opaque tokens used for refresh and scripts.

A JWT is accepted only when all of this holds: the header says HS256 (nothing else, never
``none``), the signature matches the hub's secret, ``userId`` is a non-empty string,
``role`` is a known role, ``iat`` and ``exp`` are numbers (not strings, not booleans),
``iat`` is not in the future, ``exp`` is not past, the lifetime ``exp - iat`` is within
``max_lifetime``, and ``nbf`` (if present) has been reached; the clock checks allow
``leeway`` seconds of skew. Whether the user still exists and is active is the
scheme's job (it needs the store).

Verifying a JWT costs ~60 µs with PyJWT, as much as the rest of a request; tokens that
passed are remembered (by their exact text) so a busy client pays it once. Only the time
checks are repeated on a remembered token, since everything else cannot change.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt

from .const import JWT_ALGORITHM, MAX_ID_CHARS, MAX_TOKEN_CHARS, ROLES

REQUIRED_CLAIMS = ("userId", "role", "iat", "exp")
VERIFIED_CACHE_SIZE = 4096


class TokenError(Exception):
    """A token was refused; ``code`` is the API error code, the message says why."""

    def __init__(self, message: str, code: str = "invalid_token") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: str
    role: str
    issued_at: float
    expires_at: float


def opaque_token(prefix: str = "") -> str:
    """256 random bits, URL-safe; only its digest is ever stored."""
    return prefix + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def _is_clean_text(value: str) -> bool:
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class JwtCodec:
    def __init__(
        self,
        secret: bytes,
        *,
        ttl: float,
        leeway: float,
        max_lifetime: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._secret = secret
        self.ttl = ttl
        self.leeway = leeway
        self.max_lifetime = max_lifetime
        self.clock = clock
        self._verified: dict[str, AccessClaims] = {}

    def issue(self, user_id: str, role: str) -> str:
        # ``iat`` keeps its fraction (RFC 7519 NumericDate allows it): a session cut-off
        # (password change, deactivation) is a float, and a whole-second ``iat`` would
        # place a token issued just after it before it, refusing the fresh sign-in.
        issued_at = self.clock()
        claims = {
            "userId": user_id,
            "role": role,
            "iat": issued_at,
            "exp": int(issued_at) + int(self.ttl),
        }
        return jwt.encode(claims, self._secret, algorithm=JWT_ALGORITHM)

    def verify(self, token: str) -> AccessClaims:
        """The token's claims, or TokenError saying what is wrong with it."""
        claims = self._verified.get(token)
        if claims is None:
            claims = self._decode(token)
            if len(self._verified) >= VERIFIED_CACHE_SIZE:
                self._verified.pop(next(iter(self._verified)))
            self._verified[token] = claims
        if claims.expires_at <= self.clock() - self.leeway:
            self._verified.pop(token, None)
            raise TokenError("the access token has expired", "token_expired")
        return claims

    def _decode(self, token: str) -> AccessClaims:
        if len(token) > MAX_TOKEN_CHARS:
            raise TokenError(f"the token is longer than {MAX_TOKEN_CHARS} characters")
        try:
            # PyJWT checks the algorithm and the signature and that the claims exist;
            # the time checks are done below, after the claims' types, because PyJWT
            # would read "exp": true as 1 and "exp": "99999999999" as a number.
            payload = jwt.decode(
                token,
                self._secret,
                algorithms=[JWT_ALGORITHM],
                options={
                    "require": list(REQUIRED_CLAIMS),
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.MissingRequiredClaimError as error:
            raise TokenError(f"the access token has no {error.claim!r} claim") from None
        except jwt.InvalidTokenError as error:
            raise TokenError(f"the access token is invalid ({error})") from None
        return self._checked_claims(payload)

    def _checked_claims(self, payload: dict[str, Any]) -> AccessClaims:
        user_id, role = payload["userId"], payload["role"]
        issued_at, expires_at = payload["iat"], payload["exp"]
        if not isinstance(user_id, str) or not 0 < len(user_id) <= MAX_ID_CHARS:
            raise TokenError("claim 'userId' must be a non-empty string")
        if not _is_clean_text(user_id):
            # A signed token is still input: the JSON inside may spell a lone surrogate
            # (which no database can store) or a NUL (which PostgreSQL refuses).
            raise TokenError(
                "claim 'userId' must be valid Unicode text without NUL or lone surrogates"
            )
        if not isinstance(role, str) or role not in ROLES:
            raise TokenError(f"claim 'role' must be one of {', '.join(ROLES)}")
        not_before = payload.get("nbf", issued_at)
        for name, value in (("iat", issued_at), ("exp", expires_at), ("nbf", not_before)):
            if not _is_number(value):
                raise TokenError(f"claim {name!r} must be a number of seconds")
        now = self.clock()
        if max(issued_at, not_before) > now + self.leeway:
            raise TokenError("the access token is not valid yet")
        if expires_at <= issued_at or expires_at - issued_at > self.max_lifetime:
            raise TokenError(
                f"the access token's lifetime must be positive and at most {self.max_lifetime:g} s"
            )
        if expires_at <= now - self.leeway:
            raise TokenError("the access token has expired", "token_expired")
        return AccessClaims(user_id, role, float(issued_at), float(expires_at))
