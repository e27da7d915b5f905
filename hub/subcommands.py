"""What the ``hub_cli_commands`` hook receives: where to add ``station-hub`` sub-commands.

argparse's sub-parser action is a private class (``argparse._SubParsersAction``), so it
must not be part of a public hook signature: argparse may rename it, and an integration
would be coding against argparse's internals. This small public type is the one thing an
integration needs from it, ``add_parser``, and nothing else.
"""

from __future__ import annotations

import argparse
from typing import Any


class Subcommands:
    """The ``station-hub`` sub-command table an integration adds its commands to."""

    __slots__ = ("_action",)

    def __init__(self, action: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        self._action = action

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        """A new sub-command ``name``; keyword arguments as ``ArgumentParser`` takes them
        (``help``, ``description``, ...). Set ``func`` on it with ``set_defaults``."""
        return self._action.add_parser(name, **kwargs)
