import asyncio

from hub.event_bus import MATCH_ALL, EventBus


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
    seen = []
    bus.listen(MATCH_ALL, lambda event: seen.append(event.type))
    bus.fire("a", {})
    bus.fire("b", {})
    assert seen == ["a", "b"]


async def test_unsubscribing_during_fire_keeps_that_fire_consistent():
    bus = EventBus()
    seen = []
    unsubscribers = []

    def first(_event):
        seen.append("first")
        unsubscribers[1]()

    unsubscribers.append(bus.listen("x", first))
    unsubscribers.append(bus.listen("x", lambda event: seen.append("second")))
    bus.fire("x", {})
    bus.fire("x", {})
    assert seen == ["first", "second", "first"]
