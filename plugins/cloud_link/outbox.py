"""Device notifications on their way to the cloud.

The bus listeners run on the ingest hot path, so they only filter by channel and file the
notification in memory; one sender task writes to the socket. State and presence are
"latest wins" per device: while the link is down (or slow) only the newest value of each
device waits, bounded by ``max_devices``, and goes out once after reconnecting. Events
are a bounded queue, oldest dropped first. Every drop is counted.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from hub import events
from hub.event_bus import Event, EventBus
from hub.timestamps import iso
from plugins.cloud_link.const import (
    CHANNEL_EVENTS,
    CHANNEL_PRESENCE,
    CHANNEL_STATE,
    NOTIFY_EVENT,
    NOTIFY_PRESENCE,
    NOTIFY_STATE,
)
from plugins.cloud_link.jsonrpc import ConnectionClosed, JsonRpcPeer

_LOGGER = logging.getLogger(__name__)


# What each channel sends: the notification's method and the bus event fields it carries.
NOTIFICATIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    CHANNEL_STATE: (NOTIFY_STATE, ("deviceId", "externalId", "state")),
    CHANNEL_PRESENCE: (NOTIFY_PRESENCE, ("deviceId", "externalId", "online")),
    CHANNEL_EVENTS: (NOTIFY_EVENT, ("deviceId", "externalId", "type", "data", "seq")),
}


@dataclass(slots=True)
class _Item:
    """A bus event waiting to be sent; its params are built only when it is sent, so the
    hot path allocates nothing more, and a value overwritten while waiting costs nothing."""

    seq: int
    channel: str
    event: Event

    @property
    def device_id(self) -> str:
        return str(self.event.data["deviceId"])

    def message(self) -> tuple[str, dict[str, Any]]:
        method, fields = NOTIFICATIONS[self.channel]
        data = self.event.data
        params = {name: data.get(name) for name in fields}
        params["time"] = iso(self.event.time_fired)
        return method, params


class Outbox:
    def __init__(
        self,
        channels: Iterable[str],
        *,
        max_devices: int,
        max_events: int,
        batch_size: int = 100,
    ) -> None:
        self._channels = frozenset(channels)
        self._max_devices = max_devices
        self._max_events = max_events
        self._batch_size = batch_size
        self._seq = itertools.count()
        self._latest: dict[str, OrderedDict[str, _Item]] = {
            CHANNEL_STATE: OrderedDict(),
            CHANNEL_PRESENCE: OrderedDict(),
        }
        self._events: deque[_Item] = deque()
        self._peer: JsonRpcPeer | None = None
        self._wakeup = asyncio.Event()
        self.sent = 0
        self.dropped = 0

    # --- channels -------------------------------------------------------------------

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(sorted(self._channels))

    def set_channels(self, channels: Iterable[str]) -> None:
        """Switch channels; what waits for a channel just switched off is discarded."""
        self._channels = frozenset(channels)
        for channel, latest in self._latest.items():
            if channel not in self._channels:
                latest.clear()
        if CHANNEL_EVENTS not in self._channels:
            self._events.clear()

    # --- filling (hot path) -----------------------------------------------------------

    def listen(self, bus: EventBus) -> Callable[[], None]:
        """Subscribe to the device events the cloud can receive; returns the unsubscribe."""
        unsubscribers = [
            bus.listen(events.DEVICE_STATE_CHANGED, self._on_state),
            bus.listen(events.DEVICE_EVENT, self._on_event),
            bus.listen(events.DEVICE_PRESENCE_CHANGED, self._on_presence),
        ]

        def unsubscribe() -> None:
            for remove in unsubscribers:
                remove()

        return unsubscribe

    def _on_state(self, event: Event[events.DeviceStateChangedData]) -> None:
        self._keep_latest(CHANNEL_STATE, event)

    def _on_presence(self, event: Event[events.DevicePresenceChangedData]) -> None:
        self._keep_latest(CHANNEL_PRESENCE, event)

    def _on_event(self, event: Event[events.DeviceEventData]) -> None:
        if CHANNEL_EVENTS not in self._channels:
            return
        self._events.append(_Item(next(self._seq), CHANNEL_EVENTS, event))
        if len(self._events) > self._max_events:
            self._events.popleft()
            self.dropped += 1
        self._wakeup.set()

    def _keep_latest(
        self,
        channel: str,
        event: Event[events.DeviceStateChangedData] | Event[events.DevicePresenceChangedData],
    ) -> None:
        if channel not in self._channels:
            return
        latest = self._latest[channel]
        device_id = event.data["deviceId"]
        latest.pop(device_id, None)
        latest[device_id] = _Item(next(self._seq), channel, event)
        if len(latest) > self._max_devices:
            latest.popitem(last=False)
            self.dropped += 1
        self._wakeup.set()

    # --- draining ---------------------------------------------------------------------

    @property
    def pending(self) -> int:
        return len(self._events) + sum(len(latest) for latest in self._latest.values())

    def attach(self, peer: JsonRpcPeer) -> None:
        """Start sending through ``peer`` (after ``auth_ok``); what waited goes out first."""
        self._peer = peer
        self._wakeup.set()

    def detach(self, peer: JsonRpcPeer) -> None:
        if self._peer is peer:
            self._peer = None

    async def run(self) -> None:
        """The sender task: runs for the link's lifetime, across reconnects."""
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._peer is not None and self.pending:
                peer = self._peer
                chunk = self._take(self._batch_size)
                try:
                    await _send(peer, chunk)
                except ConnectionClosed:
                    self._put_back(chunk)
                    self.detach(peer)
                    break
                except TypeError:
                    # Something an integration fired cannot be encoded: send the chunk
                    # item by item so only the bad item is lost.
                    if not await self._send_one_by_one(peer, chunk):
                        break
                    continue
                self.sent += len(chunk)

    async def _send_one_by_one(self, peer: JsonRpcPeer, chunk: list[_Item]) -> bool:
        """False when the connection closed meanwhile (the rest is put back)."""
        for index, item in enumerate(chunk):
            try:
                await _send(peer, [item])
            except ConnectionClosed:
                self._put_back(chunk[index:])
                self.detach(peer)
                return False
            except TypeError as error:
                self.dropped += 1
                _LOGGER.error("Dropped a %s notification that is not JSON: %s", item.channel, error)
            else:
                self.sent += 1
        return True

    def _take(self, limit: int) -> list[_Item]:
        """The oldest ``limit`` items across all channels, removed from the outbox."""
        sources = [self._events, *(latest.values() for latest in self._latest.values())]
        chunk = list(itertools.islice(heapq.merge(*sources, key=_by_seq), limit))
        for item in chunk:
            if item.channel == CHANNEL_EVENTS:
                self._events.popleft()
            else:
                del self._latest[item.channel][item.device_id]
        return chunk

    def _put_back(self, chunk: list[_Item]) -> None:
        """Requeue what a failed send may not have delivered, unless something newer came."""
        for item in reversed(chunk):
            if item.channel not in self._channels:
                continue
            if item.channel == CHANNEL_EVENTS:
                if len(self._events) < self._max_events:
                    self._events.appendleft(item)
                else:
                    self.dropped += 1
                continue
            latest = self._latest[item.channel]
            if item.device_id in latest:
                continue
            if len(latest) < self._max_devices:
                latest[item.device_id] = item
                latest.move_to_end(item.device_id, last=False)
            else:
                self.dropped += 1
        _LOGGER.debug("Send failed; %d notifications wait for the next connection", self.pending)


def _by_seq(item: _Item) -> int:
    return item.seq


async def _send(peer: JsonRpcPeer, chunk: list[_Item]) -> None:
    if len(chunk) == 1:
        await peer.notify(*chunk[0].message())
    else:
        await peer.notify_many([item.message() for item in chunk])
