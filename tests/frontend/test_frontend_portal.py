"""The portal in a real browser against a real hub, Mosquitto, the simulator and a
virtual BLE radio: the path a station's owner takes, and what a member may not see."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio

from plugins.ble_provisioning.testing import SimulatedProvisioningDevice
from tests.frontend.conftest import WAIT_MS
from tests.frontend.portal_hub import PortalHub, fleet, portal_hub

pytestmark = pytest.mark.asyncio(loop_scope="module")

OWNER = ("olivia", "correct horse battery")
MEMBER = ("mark", "another long password")
BLE_ADDRESS = "C4:DD:57:30:00:01"
NETWORKS = {"Farm WiFi": "correct horse"}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def station(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[PortalHub]:
    async with portal_hub(tmp_path_factory.mktemp("portal")) as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def set_up(station: PortalHub) -> PortalHub:
    """What the first test makes through the portal, for the tests after it: the owner,
    the member, the simulator's devices sim-0000 to sim-0002 with sim-0001 named "Pump
    house" and holding a temperature to chart, and the IoT object TEMP_01.

    Made here through the API and in process only when missing, so a test run alone
    needs no other test, while after the first test (which asks for none of this, so that
    it still onboards the owner through the page) it only looks: a few quick requests."""
    async with aiohttp.ClientSession(base_url=station.url) as http:
        if await onboarding_open(station):
            async with http.post(
                "/api/auth/onboarding", json={"username": OWNER[0], "password": OWNER[1]}
            ) as response:
                assert response.status in (200, 201), await response.text()
        async with http.post(
            "/api/auth/login", json={"username": OWNER[0], "password": OWNER[1]}
        ) as response:
            assert response.status == 200, await response.text()
            token = (await response.json())["access_token"]
        owner = {"Authorization": f"Bearer {token}"}
        async with http.get("/api/auth/users", headers=owner) as response:
            assert response.status == 200, await response.text()
            body = await response.json()
        users = body if isinstance(body, list) else body["items"]
        if MEMBER[0] not in {user["username"] for user in users}:
            member = {"username": MEMBER[0], "password": MEMBER[1], "role": "user"}
            async with http.post("/api/auth/users", json=member, headers=owner) as response:
                assert response.status in (200, 201), await response.text()
        async with http.get("/api/iot/objects?limit=1000", headers=owner) as response:
            assert response.status == 200, await response.text()
            objects = (await response.json())["items"]
        if "TEMP_01" not in {item["code"] for item in objects}:
            created = {"code": "TEMP_01", "name": "Greenhouse temperature", "type": "point"}
            async with http.post("/api/iot/objects", json=created, headers=owner) as response:
                assert response.status in (200, 201), await response.text()
    devices = station.hub.devices
    for number in range(3):
        external_id = f"sim-{number:04d}"
        if devices.by_external_id(external_id) is None:
            name = "Pump house" if external_id == "sim-0001" else None
            await devices.handshake(
                external_id, device_type="esp32-sim", transport="mqtt", name=name
            )
    pump = devices.by_external_id("sim-0001")
    assert pump is not None and pump.name == "Pump house", "the first test renames sim-0001"
    if not isinstance(pump.state.get("temperature"), int | float):
        devices.report_state(pump, {"temperature": 21.5, "humidity": 40})
    return station


def expect():  # imported late: the module is skipped, not broken, without playwright
    from playwright.async_api import expect as playwright_expect

    playwright_expect.set_options(timeout=WAIT_MS)
    return playwright_expect


async def onboarding_open(station: PortalHub) -> bool:
    async with (
        aiohttp.ClientSession(base_url=station.url) as http,
        http.get("/api/auth/onboarding") as response,
    ):
        return (await response.json())["required"]


async def sign_in(page, username: str, password: str) -> None:
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()


async def owner_on_devices_page(station: PortalHub, new_context):
    """A fresh tab signed in as the owner (``set_up``), on the devices page."""
    page = await (await new_context()).new_page()
    await page.goto(station.url)
    await sign_in(page, *OWNER)
    await expect()(page.get_by_role("heading", name="Devices")).to_be_visible()
    return page


async def test_owner_runs_the_station_from_the_portal(station, new_context) -> None:
    check = expect()
    context = await new_context()
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    # First run: the onboarding form creates the owner, who is then signed in.
    await page.goto(station.url)
    await check(page.get_by_role("heading", name="Welcome to Station Hub")).to_be_visible()
    await page.get_by_label("Username").fill(OWNER[0])
    await page.get_by_label("Password").fill(OWNER[1])
    await page.get_by_role("button", name="Create owner").click()
    await check(page.get_by_role("heading", name="Devices")).to_be_visible()

    # Sign out, and back in.
    await page.get_by_role("button", name="Sign out").click()
    await check(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await sign_in(page, *OWNER)
    await check(page.get_by_role("heading", name="Devices")).to_be_visible()

    # Devices appear live, from the simulator, without a reload.
    async with fleet(station.broker, 3, rate=4, heartbeat_interval=1, seed=3):
        rows = page.locator("table.devices tbody tr")
        await check(rows).to_have_count(3, timeout=WAIT_MS)
        await check(page.get_by_role("link", name="sim-0001")).to_be_visible()
        await check(rows.first.locator(".badge")).to_have_text("online")
        await page.get_by_label("Search").fill("sim-0002")
        await check(page.locator("table.devices tbody tr:visible")).to_have_count(1)
        await page.get_by_label("Search").fill("")

        # The device page: its chart draws from the history, a command succeeds, and its
        # events list starts with the events from before it was opened, then goes on live.
        sim = station.hub.devices.by_external_id("sim-0001")
        assert sim is not None
        station.hub.devices.report_event(sim, "maintenance_started", {"by": "olivia"}, seq=10**12)
        await page.get_by_role("link", name="sim-0001").click()
        await check(page.get_by_role("heading", name="sim-0001")).to_be_visible()
        earlier = page.locator("ul.events li[data-type=maintenance_started]")
        await check(earlier).to_have_count(1)
        await check(earlier).to_contain_text('{"by":"olivia"}')
        station.hub.devices.report_event(sim, "maintenance_ended", {"by": "olivia"})
        await check(page.locator("ul.events li[data-type=maintenance_ended]")).to_have_count(1)
        await check(earlier).to_have_count(1)
        # Newest first (the simulator's own random events may come in between).
        shown = await page.locator("ul.events li").evaluate_all(
            "items => items.map(item => item.dataset.type)"
        )
        assert shown.index("maintenance_ended") < shown.index("maintenance_started")
        chart = page.locator("svg.chart polyline[data-series='temperature']")
        await check(chart).to_have_count(1)
        await page.get_by_label("Command").select_option("set")
        await page.get_by_label("Params (JSON)").fill('{"relay": true}')
        await page.get_by_role("button", name="Send command").click()
        status = page.locator(".command-status")
        await check(status).to_have_attribute("data-status", "succeeded")
        await check(page.locator("dd[data-attribute='relay']")).to_have_text("true")
        await page.get_by_label("Window").select_option(label="1 hour")
        await check(chart).to_have_count(1)

        # Rename it from its page; the list shows the new name.
        await page.get_by_label("Name", exact=True).fill("Pump house")
        await page.get_by_role("button", name="Rename").click()
        await check(page.get_by_role("heading", name="Pump house")).to_be_visible()

        # A device with more past events than the page's first 50 pages back through them.
        # It is made in process and sends nothing live, so no live event trims the list
        # while the test counts it.
        gate = await station.hub.devices.handshake(
            "gate-01", device_type="esp32-sim", transport="mqtt", name="Gate"
        )
        for number in range(120):
            station.hub.devices.report_event(gate, "opened", {"n": number}, seq=number)
        await page.goto(f"{station.url}/#/device/{gate.id}")
        await check(page.get_by_role("heading", name="Gate")).to_be_visible()
        opened = page.locator("ul.events li[data-type=opened]")
        await check(opened).to_have_count(50)
        older = page.get_by_role("button", name="Older events")
        await older.click()
        await check(opened).to_have_count(100)
        # A failed read says so and leaves the button to try again.
        await page.route(
            "**/events?*before=*",
            lambda route: route.fulfill(
                status=500, json={"error": {"code": "internal", "message": "the test refuses it"}}
            ),
        )
        await older.click()
        await check(page.locator("p[role=status]", has_text="could not be read")).to_contain_text(
            "the test refuses it"
        )
        await page.unroute("**/events?*before=*")
        # With the keyboard: the last 20, and the button goes, as there are no older ones.
        await older.focus()
        await page.keyboard.press("Enter")
        await check(opened).to_have_count(120)
        await check(older).to_be_hidden()
        await check(page.locator("p[role=status]", has_text="no older ones")).to_be_focused()
        seqs = await opened.evaluate_all("items => items.map(item => Number(item.dataset.seq))")
        assert seqs == list(range(119, -1, -1))
        # A live event beyond the list's cap takes the oldest entry off the bottom, and
        # "Older events" comes back to show it again: the list keeps no gap.
        station.hub.devices.report_event(gate, "closed", {"n": 120}, seq=120)
        await check(page.locator("ul.events li[data-type=closed]")).to_have_count(1)
        await check(opened).to_have_count(119)
        await older.click()
        await check(opened).to_have_count(120)
        await check(older).to_be_hidden()
        listed = page.locator("ul.events li")
        seqs = await listed.evaluate_all("items => items.map(item => Number(item.dataset.seq))")
        assert seqs == list(range(120, -1, -1))

        # A dashboard widget bound to a device attribute, saved on the hub.
        await page.get_by_role("link", name="Dashboard").click()
        await check(page.get_by_role("heading", name="Main")).to_be_visible()
        await page.get_by_label("Widget").select_option("gauge")
        await page.get_by_label("Title").fill("Pump temperature")
        await page.locator("select[name=device]").select_option(label="Pump house")
        await page.get_by_label("Attribute").fill("temperature")
        await page.get_by_role("button", name="Add widget").click()
        widget = page.locator("article.widget", has_text="Pump temperature")
        await check(widget.locator("svg.gauge")).to_be_visible()
        # A value widget bound to an IoT point (seed's dataType: iot), polled every 2 s.
        station.gateway_values({"TEMP_01": 21.5})
        await page.get_by_label("Widget").select_option("value")
        await page.get_by_label("Data").select_option("iot")
        await page.get_by_label("Title").fill("Gateway temperature")
        await page.get_by_label("Point code").fill("TEMP_01")
        await page.get_by_label("Poll every (s)").fill("2")
        await page.get_by_role("button", name="Add widget").click()
        point = page.locator("article.widget", has_text="Gateway temperature")
        await check(point.locator(".value")).to_have_text("21.5")
        station.gateway_values({"TEMP_01": 22.25})
        await check(point.locator(".value")).to_have_text("22.25")

        # Both widgets were saved on the hub: a reload shows them, bound as before.
        await page.reload()
        await check(widget).to_be_visible()
        await check(widget.locator("svg.gauge text")).to_have_text(re.compile(r"^\d"))
        await check(point.locator(".value")).to_have_text("22.25")

        # A second dashboard, with a chart that starts from the device's history.
        await page.get_by_label("New dashboard").fill("Field")
        await page.get_by_role("button", name="Create", exact=True).click()
        await check(page.get_by_role("heading", name="Field")).to_be_visible()
        await page.get_by_label("Widget").select_option("chart")
        await page.get_by_label("Title").fill("Pump trend")
        await page.locator("select[name=device]").select_option(label="Pump house")
        await page.get_by_label("Attribute").fill("temperature")
        await page.get_by_role("button", name="Add widget").click()
        trend = page.locator("article.widget", has_text="Pump trend")
        await check(trend.locator("polyline[data-series=temperature]")).to_have_count(1)
        # A widget type a third-party integration adds, bound to a device attribute.
        await page.get_by_label("Widget").select_option(label="Soil moisture")
        await page.get_by_label("Title").fill("Bed moisture")
        await page.locator("select[name=device]").select_option(label="Pump house")
        await page.get_by_label("Attribute").fill("humidity")
        await page.get_by_role("button", name="Add widget").click()
        bed = page.locator("article.widget", has_text="Bed moisture")
        await check(bed.locator("p.moisture")).to_have_text(re.compile(r"^Soil humidity: \d"))
        await page.get_by_label("Dashboard", exact=True).select_option(label="Main")
        await check(page.get_by_role("heading", name="Main")).to_be_visible()
        await check(widget).to_be_visible()

    # Provision a simulated ESP32 over the virtual radio from the provisioning page.
    device = await SimulatedProvisioningDevice.start(
        station.air, BLE_ADDRESS, name="SH-NEW01", networks=NETWORKS
    )
    await page.get_by_role("link", name="Provisioning").click()
    await page.get_by_role("button", name="Choose SH-NEW01").click()
    await page.get_by_label("Wi-Fi network (SSID)").fill("Farm WiFi")
    await page.get_by_label("Wi-Fi password").fill("correct horse")
    await page.get_by_label("Device name (optional)").fill("Seed tray")
    await page.get_by_role("button", name="Provision").click()
    await check(page.locator("p.result")).to_have_attribute("data-outcome", "provisioned")
    await check(page.locator("ol.progress li").last).to_have_text("provisioned")
    assert device.payloads and device.payloads[0]["ssid"] == "Farm WiFi"
    registered = station.hub.devices.by_external_id("esp32-c4dd57300001")
    assert registered is not None and registered.name == "Seed tray"

    # It is listed at once (pending its first MQTT handshake); forget it from its page.
    await page.get_by_role("link", name="Devices").click()
    await page.get_by_role("link", name="Seed tray").click()
    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.get_by_role("button", name="Forget device").click()
    await check(page.get_by_role("heading", name="Devices")).to_be_visible()
    await check(page.get_by_role("link", name="Seed tray")).to_have_count(0)
    assert station.hub.devices.by_external_id("esp32-c4dd57300001") is None

    # Pages other integrations deliver through hub_frontend_panels: a third party's, the
    # cloud link's and the IoT gateway's.
    await page.get_by_role("link", name="Greenhouse").click()
    await check(page.locator("p.greenhouse")).to_have_text(
        re.compile(r"Greenhouse sees \d+ devices")
    )
    await page.get_by_role("link", name="Cloud").click()
    await check(page.locator("dd[data-key=state]")).not_to_be_empty()
    await page.get_by_role("link", name="IoT objects").click()
    await page.get_by_label("Code").fill("TEMP_01")
    await page.get_by_label("Name").fill("Greenhouse temperature")
    await page.get_by_role("button", name="Create object").click()
    await check(page.locator("tr[data-code=TEMP_01]")).to_contain_text("Greenhouse temperature")

    # The station page: integrations' health and the MQTT counters.
    await page.get_by_role("link", name="Station").click()
    await check(page.locator("tr[data-integration=mqtt_devices] .badge")).to_have_text("running")
    await check(page.locator("dd[data-dropped]")).to_be_visible()
    await page.get_by_label("Token name").fill("backup script")
    await page.get_by_role("button", name="Create token").click()
    await check(page.get_by_text(re.compile(r"New token \(shown once\): shub_"))).to_be_visible()
    await page.get_by_role("button", name="Revoke backup script").click()
    await check(page.get_by_role("button", name="Revoke backup script")).to_have_count(0)

    # The owner adds a member, from the users page.
    await page.get_by_role("link", name="Users").click()
    await page.get_by_label("Username").fill(MEMBER[0])
    await page.get_by_label("Password").fill(MEMBER[1])
    await page.locator("select[name=new-role]").select_option("user")
    await page.get_by_role("button", name="Add user").click()
    await check(page.get_by_role("cell", name=MEMBER[0], exact=True)).to_be_visible()
    # And manages a short-lived account: deactivate, then delete it.
    await page.get_by_label("Username").fill("visitor")
    await page.get_by_label("Password").fill("a visitor's password")
    await page.get_by_role("button", name="Add user").click()
    await page.get_by_role("button", name="Deactivate visitor").click()
    await check(page.locator("tr[data-user=visitor] td").nth(2)).to_have_text("inactive")
    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.get_by_role("button", name="Delete visitor").click()
    await check(page.locator("tr[data-user=visitor]")).to_have_count(0)
    assert errors == []


async def test_a_member_on_a_phone_sees_no_users_or_provisioning_page(set_up, new_context):
    """Signed in with the keyboard alone, on a phone-width screen."""
    check = expect()
    station = set_up
    context = await new_context(viewport={"width": 390, "height": 844}, has_touch=True)
    page = await context.new_page()
    await page.goto(station.url)
    await check(page.get_by_label("Username")).to_be_focused()
    await page.keyboard.type(MEMBER[0])
    await page.keyboard.press("Tab")
    await check(page.get_by_label("Password")).to_be_focused()
    await page.keyboard.type(MEMBER[1])
    await page.keyboard.press("Enter")
    await check(page.get_by_role("heading", name="Devices")).to_be_visible()
    nav = page.get_by_role("navigation", name="Main")
    await check(nav.get_by_role("link", name="Dashboard")).to_be_visible()
    await check(nav.get_by_role("link", name="Users")).to_have_count(0)
    await check(nav.get_by_role("link", name="Provisioning")).to_have_count(0)
    await check(nav.get_by_role("link", name="Greenhouse")).to_have_count(0)
    await check(nav.get_by_role("link", name="IoT objects")).to_be_visible()
    await check(page.locator("table.devices tbody tr").first).to_be_visible()
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    await page.get_by_role("link", name="Pump house").focus()
    await page.keyboard.press("Enter")
    await check(page.get_by_role("heading", name="Pump house")).to_be_focused()
    await check(page.locator("svg.chart polyline").first).to_be_attached()
    await check(page.get_by_role("button", name="Send command")).to_be_visible()
    await check(page.get_by_role("button", name="Forget device")).to_have_count(0)
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    # Typing the address is no way round: the page says no, and so does the hub.
    await page.goto(f"{station.url}/#/users")
    await check(page.get_by_role("heading", name="Not available")).to_be_visible()
    await check(page.get_by_role("button", name="Add user")).to_have_count(0)
    await page.goto(f"{station.url}/#/panel/provisioning")
    await check(page.get_by_role("heading", name="Not available")).to_be_visible()
    # Members read IoT objects but get no form to create them.
    await page.goto(f"{station.url}/#/panel/iot")
    await check(page.locator("tr[data-code=TEMP_01]")).to_be_visible()
    await check(page.get_by_role("button", name="Create object")).to_have_count(0)
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


async def test_the_page_says_so_when_the_hub_does_not_answer(set_up, new_context):
    check = expect()
    station = set_up
    page = await owner_on_devices_page(station, new_context)
    await page.route("**/api/**", lambda route: route.abort("connectionrefused"))
    await page.get_by_role("link", name="Station").click()
    await check(page.get_by_role("heading", name="The hub does not answer")).to_be_visible()
    await page.unroute("**/api/**")
    await page.get_by_role("button", name="Continue").click()
    await check(page.get_by_role("heading", name="Station")).to_be_visible()


async def test_the_page_says_so_when_the_session_ends(set_up, new_context):
    check = expect()
    station = set_up
    page = await owner_on_devices_page(station, new_context)
    # Spend the tab's refresh token elsewhere, as a thief would: the hub ends every
    # session of the user, and the portal's next call finds out.
    spent = await page.evaluate("sessionStorage.getItem('stationHub.refreshToken')")
    async with aiohttp.ClientSession(base_url=station.url) as http:
        for _ in range(2):
            await http.post("/api/auth/refresh", json={"refresh_token": spent})
    await page.get_by_role("link", name="Station").click()
    await check(page.get_by_role("heading", name="Your session has ended")).to_be_visible()


async def test_names_with_markup_are_shown_as_text(set_up, new_context):
    """A device name is data: the page shows its characters and runs nothing."""
    check = expect()
    station = set_up
    device = station.hub.devices.by_external_id("sim-0002")
    hostile = '<img src=x onerror="window.pwned=1">Tank'
    await station.hub.devices.rename(device.id, hostile)
    page = await (await new_context()).new_page()
    await page.goto(station.url)
    await sign_in(page, *OWNER)
    await check(page.get_by_role("link", name=hostile)).to_be_visible()
    await check(page.locator("table.devices img")).to_have_count(0)
    await page.get_by_role("link", name=hostile).click()
    await check(page.get_by_role("heading", name=hostile)).to_be_visible()
    assert await page.evaluate("window.pwned === undefined")


async def test_the_devices_page_catches_up_after_a_lost_connection(set_up, new_context):
    check = expect()
    station = set_up
    page = await (await new_context()).new_page()
    # The page's WebSocket API connections pass through Playwright, which can cut one
    # and hold the next back until the test lets it reach the hub.
    sockets = []
    release = asyncio.Event()
    release.set()

    async def through(socket) -> None:
        sockets.append(socket)
        await release.wait()
        socket.connect_to_server()

    await page.route_web_socket(re.compile(r"/api/websocket$"), through)
    await page.goto(station.url)
    await sign_in(page, *OWNER)
    await check(page.get_by_role("link", name="Pump house")).to_be_visible()
    release.clear()
    connected = len(sockets)
    await sockets[-1].close(code=1012, reason="the test cuts the connection")
    count = page.locator("p[aria-live=polite]").first
    await check(count).to_have_attribute("data-connection", "lost")
    # A change while no connection reaches the hub cannot be sent to the page as an
    # event; the page shows it only because it reads the list again once reconnected.
    device = station.hub.devices.by_external_id("sim-0000")
    await station.hub.devices.rename(device.id, "Renamed while away")
    release.set()
    await check(page.get_by_role("link", name="Renamed while away")).to_be_visible()
    await check(count).not_to_have_attribute("data-connection", "lost")
    assert len(sockets) > connected


SAME_EVENT_CASES = """async () => {
  const main = document.querySelector("script[type=module]").src;
  const { alreadyShown } = await import(main.replace(/main\\.js$/, "pages/device.js"));
  const at = (ms) => new Date(Date.UTC(2026, 10, 29, 17, 0, 0, ms)).toISOString();
  const read = () => [{ type: "pressed", data: { n: 1 }, seq: 5, recordedAt: at(0) }];
  const live = (changes) => ({ type: "pressed", data: { n: 1 }, seq: 5, recordedAt: at(1), ...changes });
  const twice = read();
  return {
    same: alreadyShown(read(), live({})),
    otherSeq: alreadyShown(read(), live({ seq: 6 })),
    otherData: alreadyShown(read(), live({ data: { n: 2 } })),
    muchLater: alreadyShown(read(), live({ recordedAt: at(1000) })),
    earlier: alreadyShown(read(), live({ recordedAt: at(-1) })),
    firstOfTwo: alreadyShown(twice, live({})),
    secondOfTwo: alreadyShown(twice, live({})),
  };
}"""


async def test_a_live_event_the_device_page_already_read_is_shown_once(station, new_context):
    """The device page listens before it reads the past events, so one event can come
    both ways; it is dropped once (the race is not reproducible in a browser test, so the
    rule is checked directly)."""
    page = await (await new_context()).new_page()
    await page.goto(station.url)
    verdicts = await page.evaluate(SAME_EVENT_CASES)
    assert verdicts == {
        "same": True,
        "otherSeq": False,
        "otherData": False,
        "muchLater": False,
        "earlier": False,
        "firstOfTwo": True,
        "secondOfTwo": False,
    }
