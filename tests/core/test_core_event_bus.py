import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from hub import events
from hub.event_bus import MATCH_ALL, Event, EventBus
from hub.events import EventType


async def test_listen_receives_and_unsubscribe_stops():
    bus = EventBus()
    seen = []
    unsubscribe = bus.listen("thing", lambda event: seen.append(event.data["n"]))
    bus.fire("thing", {"n": 1})
    unsubscribe()
    unsubscribe()  # harmless twice
    bus.fire("thing", {"n": 2})
    assert seen == [1]
    assert bus.listener_count("thing") == 0


async def test_a_failing_listener_never_affects_the_others(caplog):
    bus = EventBus()
    seen = []

    def broken(_event):
        raise ValueError("boom")

    async def broken_async(_event):
        raise ValueError("async boom")

    bus.listen("thing", broken)
    bus.listen("thing", broken_async)
    bus.listen("thing", lambda event: seen.append("sync"))
    done = asyncio.Event()

    async def good_async(_event):
        done.set()

    bus.listen("thing", good_async)
    bus.fire("thing", {})
    await asyncio.wait_for(done.wait(), 2)
    await bus.drain()
    assert seen == ["sync"]
    assert "boom" in caplog.text


async def test_match_all_sees_every_type_once():
    bus = EventBus()
    seen: list[EventType[Any] | str] = []
    bus.listen(MATCH_ALL, lambda event: seen.append(event.type))
    bus.fire("a", {})
    bus.fire("b", {})
    assert seen == ["a", "b"]


async def test_unsubscribing_during_fire_keeps_that_fire_consistent():
    bus = EventBus()
    seen: list[str] = []
    unsubscribers: list[Callable[[], None]] = []

    def first(_event):
        seen.append("first")
        unsubscribers[1]()

    unsubscribers.append(bus.listen("x", first))
    unsubscribers.append(bus.listen("x", lambda event: seen.append("second")))
    bus.fire("x", {})
    bus.fire("x", {})
    assert seen == ["first", "second", "first"]


def test_a_typed_event_type_is_its_name_at_runtime():
    """Listeners written with plain strings, JSON and the WebSocket API see no difference."""
    assert events.DEVICE_STATE_CHANGED == "device_state_changed"
    assert hash(events.DEVICE_STATE_CHANGED) == hash("device_state_changed")
    assert orjson.dumps({"event_type": events.DEVICE_STATE_CHANGED}) == (
        b'{"event_type":"device_state_changed"}'
    )
    assert isinstance(EventType("mine"), str)


async def test_typed_and_plain_str_event_types_reach_the_same_listeners():
    bus = EventBus()
    seen: list[tuple[str, Mapping[str, Any]]] = []
    bus.listen("device_removed", lambda event: seen.append(("str", event.data)))
    bus.listen(events.DEVICE_REMOVED, lambda event: seen.append(("typed", event.data)))
    removed: events.DeviceRemovedData = {"deviceId": "a"}
    bus.fire(events.DEVICE_REMOVED, removed)
    bus.fire("device_removed", {"deviceId": "b"})
    assert seen == [
        ("str", {"deviceId": "a"}),
        ("typed", {"deviceId": "a"}),
        ("str", {"deviceId": "b"}),
        ("typed", {"deviceId": "b"}),
    ]
    assert bus.listener_count(events.DEVICE_REMOVED) == bus.listener_count("device_removed") == 2


async def test_fire_hands_the_data_on_as_it_is():
    """No copy or conversion per event: the ingest hot path fires one per message."""
    bus = EventBus()
    seen: list[Event[events.DeviceRemovedData]] = []
    bus.listen(events.DEVICE_REMOVED, seen.append)
    data: events.DeviceRemovedData = {"deviceId": "a"}
    event = bus.fire(events.DEVICE_REMOVED, data)
    assert seen == [event] and event.data is data and type(event.data) is dict
