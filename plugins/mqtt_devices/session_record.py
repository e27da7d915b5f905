"""Keeps the broker's persistent session holding exactly the registered topic filters.

The broker keeps a persistent session's subscriptions for as long as the session lives
(days), across the hub's reconnects and restarts. A filter withdrawn while the hub was
disconnected, or no longer registered after a restart (an integration removed from the
configuration), would stay subscribed, and the broker would keep sending messages nobody
handles. So the hub remembers, in its database, every filter its session may hold, and each
new session first unsubscribes those remembered but no longer registered.

The record is kept a superset of what the broker holds: a filter is remembered *before*
its SUBSCRIBE goes out and forgotten only *after* its UNSUBACK, so a crash at any moment
leaves at worst a filter remembered that the broker does not hold (unsubscribing it again
is harmless), never one held but forgotten. This is session set-up work only; no message
passes through here. A database or broker failure is logged and the session goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Set

import aiomqtt

from .session_filters import SessionFilters

_LOGGER = logging.getLogger(__name__)

# The log line names at most this many filters.
LOG_FILTERS = 5


class SessionRecord:
    def __init__(self, store: SessionFilters) -> None:
        self._store = store

    async def prepare(
        self, client: aiomqtt.Client, registered: Collection[str], ack_within: float
    ) -> None:
        """Before a session subscribes: unsubscribe (one UNSUBSCRIBE) what is remembered
        but no longer registered, then remember what is about to be subscribed.

        A session the broker did not resume holds nothing, and the UNSUBSCRIBE is then
        needless but harmless; it is sent only when something is stale, which is rare.
        """
        wanted = set(registered)
        try:
            remembered = await self._store.load()
        except Exception as error:
            _LOGGER.error("Could not read the MQTT session's remembered filters: %s", error)
            remembered = set()
        stale = remembered - wanted
        if stale and await self._unsubscribe(client, stale, ack_within):
            await self._write(self._store.remove, stale)
        await self._write(self._store.add, wanted - remembered)

    async def subscribing(self, pattern: str) -> None:
        """A live SUBSCRIBE is about to go out."""
        await self._write(self._store.add, {pattern})

    async def unsubscribed(self, pattern: str) -> None:
        """The broker acknowledged a live UNSUBSCRIBE."""
        await self._write(self._store.remove, {pattern})

    async def _unsubscribe(
        self, client: aiomqtt.Client, stale: Set[str], ack_within: float
    ) -> bool:
        names = _some(stale)
        try:
            await client.unsubscribe(sorted(stale), timeout=ack_within)
        except (aiomqtt.MqttError, ValueError) as error:
            _LOGGER.warning(
                "Could not unsubscribe %s from %d topic filters no longer registered (%s): "
                "%s; the next session tries again",
                self._store.broker,
                len(stale),
                names,
                error,
            )
            return False
        _LOGGER.info(
            "Unsubscribed from %d topic filters no longer registered, left in the persistent "
            "session at %s: %s",
            len(stale),
            self._store.broker,
            names,
        )
        return True

    async def _write(
        self, change: Callable[[Set[str]], Awaitable[None]], patterns: Set[str]
    ) -> None:
        if not patterns:
            return
        try:
            await change(patterns)
        except Exception as error:
            _LOGGER.error(
                "Could not update the MQTT session's remembered filters (%s): %s",
                _some(patterns),
                error,
            )


def _some(patterns: Set[str]) -> str:
    names = sorted(patterns)
    shown = ", ".join(names[:LOG_FILTERS])
    return shown if len(names) <= LOG_FILTERS else f"{shown}, ... {len(names) - LOG_FILTERS} more"
