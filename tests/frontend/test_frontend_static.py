"""The portal's files and the dashboards API over plain HTTP (no browser needed).

Headers (CSP, framing, caching), content-hashed asset paths, page weight, the rule that
no portal code builds HTML from strings, the vendored client against its locked package,
and the integration being removable like any other.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest

from hub.testing import static_auth
from plugins.frontend.const import PORTAL_CSP
from plugins.frontend.static import WWW, PortalFiles

ROOT = Path(__file__).parents[2]
VENDOR = WWW / "vendor" / "home-assistant-js-websocket"
LOCKED = ROOT / "tests" / "websocket_clients" / "node_modules" / "home-assistant-js-websocket"
OWNER = "owner-token"
ADMIN = "admin-token"
MEMBER = "member-token"
CONFIG = {
    "static_auth": {"users": {OWNER: "owner", ADMIN: "admin", MEMBER: "user"}},
    "frontend": {},
}


@pytest.fixture
async def portal(hub_factory):
    return await hub_factory(CONFIG, integrations={"static_auth": static_auth})


async def test_index_is_revalidated_and_locked_down(portal, hub_client):
    client = await hub_client(portal)
    async with client.get("/") as response:
        assert response.status == 200
        assert response.content_type == "text/html"
        assert response.headers["Content-Security-Policy"] == PORTAL_CSP
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Cache-Control"] == "no-cache"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        page = await response.text()
    build = PortalFiles().build
    assert f"/frontend/{build}/js/main.js" in page
    # No inline script or style: everything the page runs comes from a file.
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)
    assert "<style" not in page and " style=" not in page
    assert "'unsafe-inline'" not in PORTAL_CSP and "'unsafe-eval'" not in PORTAL_CSP


async def test_assets_are_cached_for_good_under_their_build_id(portal, hub_client):
    client = await hub_client(portal)
    build = PortalFiles().build
    async with client.get(
        f"/frontend/{build}/js/main.js", headers={"Accept-Encoding": "gzip"}
    ) as response:
        assert response.status == 200
        assert response.content_type == "text/javascript"
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert response.headers["Content-Encoding"] == "gzip"
        assert "import" in await response.text()
    # A page from before an upgrade still gets the file, but not to keep.
    async with client.get("/frontend/000000000000/js/main.js") as response:
        assert response.status == 200
        assert response.headers["Cache-Control"] == "no-cache"
    for bad in ("js/nope.js", "..%2f__init__.py", "../__init__.py", "%2e%2e/static.py"):
        async with client.get(f"/frontend/{build}/{bad}") as response:
            assert response.status == 404, bad


def test_the_whole_portal_weighs_under_150_kb_compressed():
    """Every file the first page can load (index, CSS, all modules, the vendored client),
    gzipped as the hub serves them: a bound on the first page, whatever it imports."""
    files = PortalFiles()
    total = len(files.index.gzipped or files.index.body) + sum(
        len(asset.gzipped or asset.body)
        for name, asset in files.assets.items()
        if name.endswith((".js", ".css", ".html"))
    )
    print(f"portal, every file gzipped: {total / 1024:.1f} KiB")
    assert total < 150 * 1024


def test_portal_code_never_parses_html_from_strings():
    own = [p for p in (WWW / "js").rglob("*.js")]
    assert own
    for path in own:
        text = path.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in text, f"{path.relative_to(ROOT)} uses {sink}"
        assert '.setAttribute("style"' not in text and "new Function" not in text


def test_vendored_client_is_the_locked_package_unmodified():
    if not LOCKED.exists():
        pytest.skip("tests/websocket_clients/node_modules is not installed (scripts/test does)")
    locked = json.loads((LOCKED / "package.json").read_text())
    readme = (WWW / "vendor" / "README.md").read_text()
    assert f"| {locked['version']} |" in readme and locked["license"] in readme
    for path in VENDOR.glob("*.js"):
        assert path.read_bytes() == (LOCKED / "dist" / path.name).read_bytes(), path.name
    wanted = {p.name for p in (LOCKED / "dist").glob("*.js")} - {"haws.umd.js"}
    assert {p.name for p in VENDOR.glob("*.js")} == wanted


async def test_the_portal_is_removable_like_any_integration(hub_factory, hub_client):
    hub = await hub_factory(
        {"static_auth": CONFIG["static_auth"]}, integrations={"static_auth": static_auth}
    )
    client = await hub_client(hub)
    async with client.get("/") as response:
        assert response.status == 404
        assert (await response.json())["error"]["code"] == "not_found"


async def test_dashboards_are_saved_per_user_and_checked(portal, hub_client):
    owner = await hub_client(portal, token=OWNER)
    member = await hub_client(portal, token=MEMBER)
    widget = {
        "id": "w1",
        "type": "gauge",
        "dataType": "device",
        "deviceId": "d-1",
        "attribute": "temperature",
    }
    async with owner.post(
        "/api/frontend/dashboards", json={"name": "Pumps", "widgets": [widget]}
    ) as response:
        assert response.status == 201
        created = await response.json()
    assert created["widgets"][0]["min"] == 0 and created["widgets"][0]["interval"] == 10
    iot = {"id": "w2", "type": "value", "dataType": "iot", "code": "TEMP_01", "interval": 5}
    url = f"/api/frontend/dashboards/{created['id']}"
    async with owner.put(url, json={"name": "Pumps", "widgets": [widget, iot]}) as response:
        assert response.status == 200
        assert [w["id"] for w in (await response.json())["widgets"]] == ["w1", "w2"]
    async with owner.get("/api/frontend/dashboards") as response:
        [listed] = await response.json()
        assert listed["widgets"][1]["code"] == "TEMP_01"
    # Another user neither sees nor changes it.
    async with member.get("/api/frontend/dashboards") as response:
        assert await response.json() == []
    async with member.put(url, json={"name": "Mine", "widgets": []}) as response:
        assert response.status == 404
    async with member.delete(url) as response:
        assert response.status == 404
    # Shapes that cannot be shown are refused with the field named.
    for bad in (
        {**widget, "type": "pie"},
        {"id": "x", "type": "value", "dataType": "iot"},
        {"id": "x", "type": "value", "dataType": "device", "deviceId": "d"},
        {**iot, "interval": 1},
        {**widget, "min": 10, "max": 5},
    ):
        async with owner.put(url, json={"name": "Pumps", "widgets": [bad]}) as response:
            assert response.status == 400, bad
    async with owner.delete(url) as response:
        assert response.status == 204
    async with owner.get("/api/frontend/dashboards") as response:
        assert await response.json() == []


async def test_a_broken_panel_is_left_out_and_the_portal_runs(
    hub_factory, hub_client, caplog: pytest.LogCaptureFixture
) -> None:
    from types import ModuleType

    from hub.hookspecs import hookimpl
    from plugins.frontend import Panel

    broken = ModuleType("broken")
    # ModuleType declares no hook attributes; a module made at run time gets them set.
    broken.hub_frontend_panels = hookimpl(  # type: ignore[attr-defined]
        lambda register: register(Panel(name="broken", title="Broken", static_dir=WWW / "nope"))
    )
    hub = await hub_factory(
        {**CONFIG, "broken": {}}, integrations={"static_auth": static_auth, "broken": broken}
    )
    assert hub.integration_state("frontend") == "running"
    client = await hub_client(hub, token=OWNER)
    async with client.get("/api/frontend/panels") as response:
        assert await response.json() == []
    assert "its portal panel is not served" in caplog.text


def test_gzip_forms_decode_to_the_files():
    files = PortalFiles()
    for asset in files.assets.values():
        if asset.gzipped is not None:
            assert gzip.decompress(asset.gzipped) == asset.body


async def test_the_openapi_document_with_the_portal_is_valid(portal, hub_client):
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation import OpenAPIV31SpecValidator

    client = await hub_client(portal)
    async with client.get("/api/openapi.json") as response:
        document = await response.json()
    validate(document, cls=OpenAPIV31SpecValidator)
    assert "/api/frontend/dashboards/{dashboard_id}" in document["paths"]
    assert "/frontend/{build}/{path}" in document["paths"]
