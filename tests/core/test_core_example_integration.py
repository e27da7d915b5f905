"""The complete example of docs/writing-integrations.md runs, and so does its test."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hub.plugins import call_for, create_plugin_manager
from hub.subcommands import Subcommands
from hub.testing import static_auth
from tests.core.fake_integrations import garage_door

ROOT = Path(__file__).parents[2]
MODULES = {"static_auth": static_auth, "garage_door": garage_door}
CONFIG = {
    "static_auth": {"users": {"owner-t": "owner", "user-t": "user"}},
    "garage_door": {"pin": 17},
}


async def test_the_garage_door_works_as_the_page_shows(hub_factory, hub_client):
    hub = await hub_factory(CONFIG, integrations=MODULES)
    door = hub.runtime_data[garage_door.DOOR]
    owner = await hub_client(hub, token="owner-t")
    async with owner.post("/api/garage/open", json={}) as response:
        assert response.status == 202
    async with owner.post("/api/garage/open", json={"seconds": 0}) as response:
        assert response.status == 400  # the schema's range
    user = await hub_client(hub, token="user-t")
    async with user.post("/api/garage/open", json={"seconds": 5}) as response:
        assert response.status == 403
    assert door.openings == [3]
    async with owner.get("/api/openapi.json") as response:
        operation = (await response.json())["paths"]["/api/garage/open"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["seconds"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 60,
        "default": 3,
    }
    await hub.stop()
    assert door.closed.is_set()


async def test_two_hubs_in_one_process_have_their_own_door(hub_factory):
    first = await hub_factory(CONFIG, integrations=MODULES)
    second = await hub_factory({**CONFIG, "garage_door": {"pin": 4}}, integrations=MODULES)
    doors = first.runtime_data[garage_door.DOOR], second.runtime_data[garage_door.DOOR]
    assert doors[0] is not doors[1]
    assert (doors[0].pin, doors[1].pin) == (17, 4)
    await first.stop()
    # The core forgot the stopped hub's door; the other hub keeps its own.
    assert garage_door.DOOR not in first.runtime_data
    assert second.runtime_data.get(garage_door.DOOR) is doors[1]
    with pytest.raises(LookupError, match="garage_door integration is not set up"):
        first.runtime_data[garage_door.DOOR]


def test_the_cli_command_of_the_example(capsys):
    parser = argparse.ArgumentParser()
    subparsers = parser.add_subparsers(dest="command")
    manager = create_plugin_manager()
    manager.register(garage_door, name="garage_door")
    call_for(manager, "garage_door", "hub_cli_commands", subparsers=Subcommands(subparsers))
    args = parser.parse_args(["garage", "-c", "somewhere"])
    assert args.func(args) == 0
    assert "garage door tools for somewhere" in capsys.readouterr().out


def test_the_pages_test_example_passes_under_pytest_asyncios_strict_mode(tmp_path):
    """The page's test, copied as written, run by a pytest without this project's
    settings (so pytest-asyncio's default, strict mode), with garage_door installed."""
    page = (ROOT / "docs" / "writing-integrations.md").read_text()
    testing = page[page.index("## Testing your integration") :]
    [example] = re.findall(r"```python\n(.*?)```", testing, re.DOTALL)
    (tmp_path / "test_from_the_docs.py").write_text(example)
    (tmp_path / "conftest.py").write_text(
        textwrap.dedent(
            '''
            import pytest_asyncio

            from tests.core.fake_integrations import garage_door


            @pytest_asyncio.fixture
            async def hub_factory(hub_factory):
                """garage_door as if it were installed with pip."""

                async def factory(config, **options):
                    integrations = {"garage_door": garage_door, **options.pop("integrations", {})}
                    return await hub_factory(config, integrations=integrations, **options)

                return factory
            '''
        )
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-o",
            "asyncio_mode=strict",  # the default, said out loud
            str(tmp_path),
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
