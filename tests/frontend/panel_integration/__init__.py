"""A third-party integration that adds a portal page and a dashboard widget type through
``hub_frontend_panels``.

Used by the browser test (the page renders, for owners and admins only) and by the hook's
own test in tests/core/test_core_hookspecs.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from hub.hookspecs import hookimpl
from plugins.frontend import Panel

NAME = "greenhouse"


@hookimpl
def hub_frontend_panels(register: Callable[[Any], None]) -> None:
    register(
        Panel(
            name=NAME,
            title="Greenhouse",
            static_dir=Path(__file__).parent / "www",
            module="panel.js",
            roles=("owner", "admin"),
        )
    )
    # A dashboard widget type, offered to every user in the dashboard's widget list.
    register(
        Panel(
            name="moisture",
            title="Soil moisture",
            static_dir=Path(__file__).parent / "www",
            module="moisture.js",
            kind="widget",
        )
    )
