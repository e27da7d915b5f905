"""What the auth store raises when it refuses a change; callers map these to API errors."""

from __future__ import annotations


class AuthStoreError(Exception):
    """Base of every refusal; ``str(error)`` is a message fit for a user or a log."""


class InvalidValueError(AuthStoreError, ValueError):
    """A value breaks a rule (length, allowed roles, hash format)."""


class NotFoundError(AuthStoreError, LookupError):
    """The user, station or token named does not exist."""


class ConflictError(AuthStoreError):
    """The change collides with existing data (a taken username, users already exist)."""


class OnboardingClosedError(ConflictError):
    """The first owner can only be created while the hub has no users."""
