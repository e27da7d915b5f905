"""The device page's "Older events" in a real browser while live events trim its list:
however many arrive (here more than a thousand, from a device on a real Mosquitto),
paging back goes on right below the bottom entry and ends with every event shown once,
newest first."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import aiomqtt
import orjson
import pytest
import pytest_asyncio

from hub.event_bus import Event
from hub.testing.mqtt import publish_and_wait
from tests.frontend.conftest import WAIT_MS
from tests.frontend.portal_hub import STATION, PortalHub, portal_hub

pytestmark = pytest.mark.asyncio(loop_scope="module")

OWNER = ("olivia", "correct horse battery")
DEVICE = "esp-paging"
EVENT_TOPIC = f"station/{STATION}/device/{DEVICE}/event"
PAST = 120  # events before the page opens: the first page shows 50 of them
STORM = 1100  # live events at once: more than the list holds, and than the 1,000 it kept


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def station(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[PortalHub]:
    async with portal_hub(tmp_path_factory.mktemp("paging")) as running:
        async with aiohttp.ClientSession(base_url=running.url) as http:
            owner = {"username": OWNER[0], "password": OWNER[1]}
            async with http.post("/api/auth/onboarding", json=owner) as response:
                assert response.status in (200, 201), await response.text()
        yield running


def expect():  # imported late: the module is skipped, not broken, without playwright
    from playwright.async_api import expect as playwright_expect

    playwright_expect.set_options(timeout=WAIT_MS)
    return playwright_expect


class Device:
    """The device on the broker: publishes events (QoS 1) as a device would, and waits
    until the hub has fired the last one (so it is recorded, and on its way to the page)."""

    def __init__(self, station: PortalHub, client: aiomqtt.Client) -> None:
        self.station = station
        self.client = client
        self.next_seq = 0

    async def send(self, count: int) -> int:
        """``count`` events with the next seqs; returns the last seq."""
        last = self.next_seq + count - 1
        fired: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def on_event(event: Event) -> None:
            if event.data.get("seq") == last and not fired.done():
                fired.set_result(None)

        unsubscribe = self.station.hub.bus.listen("device_event", on_event)
        try:
            for seq in range(self.next_seq, last + 1):
                payload = {"type": "tick", "data": {"n": seq}, "seq": seq}
                await self.client.publish(EVENT_TOPIC, orjson.dumps(payload), qos=1)
            self.next_seq = last + 1
            async with asyncio.timeout(WAIT_MS / 1000):
                await fired
        finally:
            unsubscribe()
        return last


@pytest_asyncio.fixture(loop_scope="module")
async def device(station: PortalHub) -> AsyncIterator[Device]:
    await publish_and_wait(
        station.hub,
        station.broker.url,
        f"station/{STATION}/device/{DEVICE}/handshake",
        {"deviceType": "esp32-sim", "firmware": "1.0.0"},
        until="device_registered",
    )
    host, port = station.broker.url.removeprefix("mqtt://").split(":")
    async with aiomqtt.Client(host, int(port), identifier=DEVICE) as client:
        yield Device(station, client)


async def test_older_events_pages_to_the_end_however_many_live_events_trimmed(
    station, device, new_context
) -> None:
    check = expect()
    await device.send(PAST)
    page = await (await new_context()).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    registered = station.hub.devices.by_external_id(DEVICE)
    assert registered is not None
    await page.goto(station.url)
    await page.get_by_label("Username").fill(OWNER[0])
    await page.get_by_label("Password").fill(OWNER[1])
    await page.get_by_role("button", name="Sign in").click()
    await check(page.get_by_role("heading", name="Devices")).to_be_visible()
    await page.goto(f"{station.url}/#/device/{registered.id}")
    listed = page.locator("ul.events li")
    older = page.get_by_role("button", name="Older events")

    async def seqs() -> list[int]:
        return await listed.evaluate_all("items => items.map(item => Number(item.dataset.seq))")

    async def live(count: int) -> int:
        """``count`` live events, shown on top: returns the list's length before them."""
        before = await listed.count()
        last = await device.send(count)
        await check(listed.first).to_have_attribute("data-seq", str(last))
        return before

    async def page_back() -> None:
        """One click on "Older events": it adds entries, and the list has no gap."""
        count = await listed.count()
        await older.click()
        await check(listed).not_to_have_count(count)
        shown = await seqs()
        assert shown == list(range(shown[0], shown[0] - len(shown), -1))

    async def page_to_the_end(most: int) -> int:
        """Clicks until the button goes (at most ``most``); returns how many it took."""
        for clicks in range(1, most + 1):
            await page_back()
            if await older.is_hidden():
                return clicks
        raise AssertionError(f'"Older events" still shown after {most} clicks')

    await check(listed).to_have_count(50)  # 119..70
    # Live events trim the first page (whose entries have no cursor of their own), and
    # "Older events" goes on right below the bottom entry all the same.
    shown = await live(10)  # 129..80
    await check(listed).to_have_count(shown)
    await page_back()
    assert (await seqs())[0] == 129
    # Live events that trim the list while a page is read are shown again on top of it.
    requested = asyncio.Event()
    release = asyncio.Event()

    async def held(route) -> None:
        requested.set()
        await release.wait()
        await route.continue_()

    await page.route("**/events?*", held)
    count = await listed.count()
    await older.click()
    async with asyncio.timeout(WAIT_MS / 1000):
        await requested.wait()
    await live(10)  # 139..
    release.set()
    await check(listed).not_to_have_count(count)
    await page.unroute("**/events?*")
    listed_seqs = await seqs()
    assert listed_seqs == list(range(139, 139 - len(listed_seqs), -1))
    # Live events trim into pages "Older events" read; it pages to the first event.
    await live(20)
    await page_to_the_end(10)
    assert await seqs() == list(range(159, -1, -1))
    # A trim brings the button back, to show what it took off.
    await live(5)
    await check(older).to_be_visible()
    await page_to_the_end(1)
    assert await seqs() == list(range(164, -1, -1))

    # More live events than the list holds, and more than a thousand: every entry that
    # was there is trimmed, and "Older events" pages back to the first event all the
    # same, 50 at a time.
    shown = await live(STORM)
    last = device.next_seq - 1
    await check(listed).to_have_count(shown)
    assert await seqs() == list(range(last, last - shown, -1))
    clicks = await page_to_the_end(100)
    await check(page.locator("p[role=status]", has_text="no older ones")).to_be_focused()
    assert await seqs() == list(range(last, -1, -1))
    assert clicks == -(-STORM // 50)
    assert errors == []
