"""The one way the API writes and reads a point in time: ISO 8601 in UTC.

Every JSON field that holds a time (``lastSeen``, ``recordedAt``, ``createdAt``,
``expiresAt``, ...), and every time in the WebSocket API, is written by ``iso``:
``2026-11-29T17:09:49.123456+00:00``, microseconds and the ``+00:00`` offset, as Home
Assistant writes them and as every ISO parser reads them (Python's ``fromisoformat``
before 3.11 does not read ``Z``). Internally the hub keeps epoch seconds (floats), which
are cheap to compare and store; the conversion happens only at the edge.

The microseconds are truncated, never rounded up, so a time read back with ``parse_iso``
is never later than the stored one: a "before this row" cursor then never repeats the row.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def iso(timestamp: float | None) -> str | None:
    """Epoch seconds as the API's ISO 8601 UTC string (None stays None)."""
    if timestamp is None:
        return None
    micros = int(timestamp * 1_000_000)
    # The product is a float: near a whole microsecond it can round *up* past the true
    # value. Step back until the time read back is not later than the one given.
    while micros / 1_000_000 > timestamp:
        micros -= 1
    moment = _EPOCH + timedelta(microseconds=micros)
    return moment.isoformat(timespec="microseconds")


def parse_iso(text: str) -> float:
    """An ISO 8601 time with a UTC offset (``+00:00``, ``Z`` or ``+01:00``) as epoch seconds.

    Raises ValueError naming the expected form when the text is not such a time, or has
    no offset (a time without one is ambiguous on a box whose clock zone may change).
    """
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is not an ISO 8601 time such as 2026-11-29T17:09:49.123456Z"
        ) from None
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset: end it with Z or +HH:MM")
    return (moment - _EPOCH).total_seconds()
