"""Keeps hub/hookspecs.py, docs/writing-integrations.md and the tests in step."""

import argparse
import inspect
import re
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import sqlalchemy as sa
import voluptuous as vol

from hub import hookspecs
from hub.cli import build_parser
from hub.core import Hub
from hub.plugins import call_for, create_plugin_manager
from hub.subcommands import Subcommands

ROOT = Path(__file__).parents[2]
HOOKS = {name: fn for name, fn in vars(hookspecs).items() if name.startswith("hub_")}


def documented_signature(name: str) -> str:
    signature = inspect.signature(HOOKS[name])
    params = ", ".join(f"{p.name}: {p.annotation}" for p in signature.parameters.values())
    return f"{name}({params}) -> {signature.return_annotation}"


def test_every_hook_is_documented_with_its_exact_signature():
    docs = (ROOT / "docs" / "writing-integrations.md").read_text()
    headings = re.findall(r"^### `(hub_[^`]+)`$", docs, re.MULTILINE)
    assert sorted(headings) == sorted(documented_signature(name) for name in HOOKS)


def test_every_hook_has_a_test_named_for_it():
    sources = "\n".join(path.read_text() for path in (ROOT / "tests").rglob("test_*.py"))
    for name in HOOKS:
        assert f"def test_hook_{name}" in sources, name


def test_hook_specs_have_one_line_docstrings():
    for name, function in HOOKS.items():
        assert function.__doc__ and "\n" not in function.__doc__.strip(), name


# --- one test per hook: each checks what the core does with it ----------------------
# A test that only called the hook back would pass even if the core ignored the hook, so
# each of these starts a real hub (or the real CLI) and looks at the effect.


def _integration(name: str, **hooks: Callable[..., Any]) -> ModuleType:
    """A throw-away integration module whose hooks are ``hooks``."""
    module = ModuleType(name)
    for hook, function in hooks.items():
        setattr(module, hook, hookspecs.hookimpl(function))
    return module


async def _door_after_lamp(hub_factory, hook: str) -> tuple[list[str], Hub]:
    """Start "door" (whose ``hook`` names "lamp") with lamp, then alone: the set-up
    order of the first hub, and the second hub. "door" sorts before "lamp", so only the
    hook can put lamp first."""
    seen: list[str] = []

    def recording(name: str, **hooks: Callable[..., Any]) -> ModuleType:
        return _integration(name, hub_setup=lambda hub, config: seen.append(name), **hooks)

    modules = {"door": recording("door", **{hook: lambda: ["lamp"]}), "lamp": recording("lamp")}
    await hub_factory({"door": {}, "lamp": {}}, integrations=modules)
    order = list(seen)
    return order, await hub_factory({"door": {}}, integrations=modules)


async def test_hook_hub_dependencies(hub_factory):
    order, alone = await _door_after_lamp(hub_factory, "hub_dependencies")
    assert order == ["lamp", "door"]
    assert alone.integration_state("door") == "failed"
    assert alone.integrations["door"].error is not None
    assert "needs integration 'lamp'" in alone.integrations["door"].error


async def test_hook_hub_after_dependencies(hub_factory):
    order, alone = await _door_after_lamp(hub_factory, "hub_after_dependencies")
    assert order == ["lamp", "door"]
    assert alone.integration_state("door") == "running"  # optional: runs without it


async def test_hook_hub_config_schema(hub_factory) -> None:
    configs: list[dict[str, Any]] = []
    garage = _integration(
        "garage",
        hub_config_schema=lambda: {
            vol.Required("pin"): int,
            vol.Optional("seconds", default=3): int,
        },
        hub_setup=lambda hub, config: configs.append(config),
    )
    await hub_factory({"garage": {"pin": 17}}, integrations={"garage": garage})
    assert configs == [{"pin": 17, "seconds": 3}]  # validated, defaults filled in
    refused = await hub_factory({"garage": {"pin": "x"}}, integrations={"garage": garage})
    assert refused.integration_state("garage") == "failed"
    assert "garage.pin" in refused.integrations["garage"].error


async def test_hook_hub_migrations(hub_factory, tmp_path):
    versions = tmp_path / "migrations" / "versions"
    versions.mkdir(parents=True)
    (versions / "garage_0001.py").write_text(
        "import sqlalchemy as sa\n"
        "from alembic import op\n"
        "revision = 'garage_0001'\n"
        "down_revision = None\n"
        "branch_labels = None\n"
        "depends_on = None\n"
        "def upgrade():\n"
        "    op.create_table('garage_doors', sa.Column('id', sa.Integer, primary_key=True))\n"
        "def downgrade():\n"
        "    op.drop_table('garage_doors')\n"
    )
    garage = _integration("garage", hub_migrations=lambda: str(tmp_path / "migrations"))
    hub = await hub_factory({"garage": {}}, integrations={"garage": garage})
    async with hub.db.require_engine().connect() as connection:
        tables = await connection.run_sync(lambda sync: sa.inspect(sync).get_table_names())
        version = (await connection.execute(sa.text("SELECT * FROM alembic_version_garage"))).all()
    assert "garage_doors" in tables
    assert version == [("garage_0001",)]


def test_hook_hub_cli_commands():
    parser = argparse.ArgumentParser()
    subparsers = parser.add_subparsers(dest="command")
    garage = _integration(
        "garage",
        hub_cli_commands=lambda subparsers: subparsers.add_parser("garage").set_defaults(
            func=lambda args: 7
        ),
    )
    manager = create_plugin_manager()
    manager.register(garage, name="garage")
    call_for(manager, "garage", "hub_cli_commands", subparsers=Subcommands(subparsers))
    args = parser.parse_args(["garage"])
    assert args.func(args) == 7
    # The real CLI collects the commands of the installed integrations: auth adds "user".
    assert build_parser().parse_args(["user", "list"]).command == "user"


def test_call_for_goes_through_pluggy() -> None:
    """Wrappers and ``set_blocked`` apply to one integration's call as to any other."""
    calls: list[str] = []

    class Tracer:
        @hookspecs.hookimpl(wrapper=True)
        def hub_migrations(self):
            calls.append("before")
            result = yield
            calls.append(f"after {result}")
            return result

    manager = create_plugin_manager()
    manager.register(_integration("garage", hub_migrations=lambda: "/garage"), name="garage")
    manager.register(_integration("door", hub_migrations=lambda: "/door"), name="door")
    manager.register(Tracer(), name="tracer")
    assert call_for(manager, "door", "hub_migrations") == "/door"
    assert calls == ["before", "after ['/door']"]
    manager.set_blocked("door")
    assert call_for(manager, "door", "hub_migrations") is None
    assert call_for(manager, "garage", "hub_migrations") == "/garage"


async def test_hook_hub_register(hub_factory, fakes):
    hub = await hub_factory({"echo": {}}, integrations=fakes)
    assert hub.registrations.routes[("GET", "/api/echo/greet")].integration == "echo"
    assert "echo.say" in hub.registrations.rpc_methods
    assert "echo/+/ping" in hub.registrations.topics


async def test_hook_hub_setup(hub_factory, fakes):
    await hub_factory({"echo": {}}, integrations=fakes)
    assert fakes["echo"].EVENTS == ["setup"]


async def test_hook_hub_shutdown(hub_factory, fakes):
    hub = await hub_factory({"echo": {}}, integrations=fakes)
    await hub.stop()
    assert fakes["echo"].EVENTS == ["setup", "shutdown"]
    assert hub.integration_state("echo") == "stopped"


def test_hook_hub_automation_platforms():
    from plugins.automation import ActionType, TriggerType
    from plugins.automation.platforms import PlatformError, Platforms

    async def open_door(context, config):
        return {"opened": config["seconds"]}

    class Garage:
        @hookspecs.hookimpl
        def hub_automation_platforms(self, register):
            register(ActionType("garage.open", {"seconds": int}, open_door))
            register(TriggerType("garage.opened", {}, lambda context, config, fire: lambda: None))

    manager = create_plugin_manager()
    manager.register(Garage(), name="garage")
    platforms = Platforms()
    call_for(
        manager, "garage", "hub_automation_platforms", register=platforms.register_for("garage")
    )
    assert platforms.actions["garage.open"].run is open_door
    assert platforms.owners[("trigger", "garage.opened")] == "garage"
    # A second integration cannot take the same name; the refusal names the owner.
    manager.register(Garage(), name="copycat")
    try:
        call_for(
            manager,
            "copycat",
            "hub_automation_platforms",
            register=platforms.register_for("copycat"),
        )
    except PlatformError as error:
        assert "already provided by garage" in str(error)
    else:
        raise AssertionError("a duplicate type name was accepted")


async def test_hook_hub_frontend_panels(hub_factory, hub_client):
    from hub.testing import static_auth
    from tests.frontend import panel_integration

    hub = await hub_factory(
        {
            "static_auth": {"users": {"owner-token": "owner", "member-token": "user"}},
            "frontend": {},
            "greenhouse": {},
        },
        integrations={"static_auth": static_auth, "greenhouse": panel_integration},
    )
    owner = await hub_client(hub, token="owner-token")
    async with owner.get("/api/frontend/panels") as response:
        panels = {item["name"]: item for item in await response.json()}
    panel = panels["greenhouse"]
    assert panel["integration"] == "greenhouse" and panel["kind"] == "page"
    assert panels["moisture"]["kind"] == "widget"
    # The module is served from the integration's own package, at a versioned URL.
    async with owner.get(panel["url"]) as response:
        assert response.status == 200
        assert "export async function render" in await response.text()
        assert "immutable" in response.headers["Cache-Control"]
    # Roles decide who sees it in the navigation.
    member = await hub_client(hub, token="member-token")
    async with member.get("/api/frontend/panels") as response:
        assert [item["name"] for item in await response.json()] == ["moisture"]
    # A widget type becomes a type dashboards accept; an unknown one is refused.
    widget = {"id": "w", "type": "moisture", "dataType": "iot", "code": "SOIL_1"}
    async with member.post(
        "/api/frontend/dashboards", json={"name": "Beds", "widgets": [widget]}
    ) as response:
        assert response.status == 201
    async with member.post(
        "/api/frontend/dashboards", json={"name": "Beds", "widgets": [{**widget, "type": "pie"}]}
    ) as response:
        assert response.status == 400
        assert "moisture" in (await response.json())["error"]["message"]
    # A second integration cannot take the same name; the refusal names the owner.
    from plugins.frontend import Panel, PanelError, Panels

    registry = Panels()
    register = registry.register_for("greenhouse")
    panel_integration.hub_frontend_panels(register)
    try:
        panel_integration.hub_frontend_panels(registry.register_for("copycat"))
    except PanelError as error:
        assert "already provided by greenhouse" in str(error)
    else:
        raise AssertionError("a duplicate panel name was accepted")
    assert isinstance(registry.by_name["greenhouse"], Panel)
