"""Counting the messages the hub refuses, and saying why without flooding the log.

A misbehaving device can send thousands of bad messages a second; each is counted, but the
log gets the first one of each reason and then one summary line per ``log_every`` seconds.
Topics and details come from the network: control characters in them are escaped
(``\\n``, ``\\x1b``) before they reach a log line, so a topic cannot forge log entries or
drive a terminal.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

_LOGGER = logging.getLogger(__name__)

# C0 and C1 control characters, DEL, and the Unicode line/paragraph separators.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def printable(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with control characters escaped (``\\xNN``)."""
    return _CONTROL.sub(_escape, text[:limit])


def _escape(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


class DropCounter:
    __slots__ = ("_last", "_last_logged", "_suppressed", "counts", "log_every")

    def __init__(self, log_every: float = 30.0) -> None:
        self.counts: dict[str, int] = {}
        self.log_every = log_every
        self._last: dict[str, dict[str, Any]] = {}
        self._last_logged: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def drop(self, reason: str, topic: str, detail: str = "") -> None:
        self.counts[reason] = self.counts.get(reason, 0) + 1
        topic, detail = printable(topic, 200), printable(detail, 300)
        self._last[reason] = {"topic": topic, "detail": detail, "at": time.time()}
        now = time.monotonic()
        last = self._last_logged.get(reason)
        if last is not None and now - last < self.log_every:
            self._suppressed[reason] = self._suppressed.get(reason, 0) + 1
            return
        self._last_logged[reason] = now
        suppressed = self._suppressed.pop(reason, 0)
        more = f" ({suppressed} more dropped for this reason since the last report)"
        _LOGGER.warning(
            "Dropped MQTT message on %s: %s%s%s",
            topic,
            reason,
            f": {detail}" if detail else "",
            more if suppressed else "",
        )

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def snapshot(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "byReason": dict(sorted(self.counts.items())),
            "last": {reason: dict(info) for reason, info in sorted(self._last.items())},
        }
