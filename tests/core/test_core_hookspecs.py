"""Keeps hub/hookspecs.py, docs/writing-integrations.md and the tests in step."""

import inspect
import re
from pathlib import Path

from hub import hookspecs
from hub.plugins import call_for, create_plugin_manager

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


# --- one test per hook, each against a real plugin manager ---------------------------


class _Plugin:
    @hookspecs.hookimpl
    def hub_dependencies(self):
        return ["auth"]

    @hookspecs.hookimpl
    def hub_after_dependencies(self):
        return ["cloud_link"]

    @hookspecs.hookimpl
    def hub_config_schema(self):
        return {"pin": int}

    @hookspecs.hookimpl
    def hub_migrations(self):
        return "/somewhere"

    @hookspecs.hookimpl
    def hub_cli_commands(self, subparsers):
        subparsers.add_parser("garage")


def _manager():
    manager = create_plugin_manager()
    manager.register(_Plugin(), name="garage")
    return manager


def test_hook_hub_dependencies():
    assert call_for(_manager(), "garage", "hub_dependencies") == ["auth"]


def test_hook_hub_after_dependencies():
    assert call_for(_manager(), "garage", "hub_after_dependencies") == ["cloud_link"]


def test_hook_hub_config_schema():
    assert call_for(_manager(), "garage", "hub_config_schema") == {"pin": int}


def test_hook_hub_migrations():
    assert call_for(_manager(), "garage", "hub_migrations") == "/somewhere"


def test_hook_hub_cli_commands():
    import argparse

    from hub.cli import build_parser

    parser = argparse.ArgumentParser()
    subparsers = parser.add_subparsers(dest="command")
    call_for(_manager(), "garage", "hub_cli_commands", subparsers=subparsers)
    assert parser.parse_args(["garage"]).command == "garage"
    # The real CLI collects commands from installed integrations the same way.
    assert build_parser().parse_args(["check-config"]).command == "check-config"


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
