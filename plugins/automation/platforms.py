"""Trigger and action types: what they are, and the registry every one of them goes through.

The built-in types and those other integrations add through the ``hub_automation_platforms``
hook are the same kind of object and are registered the same way, through ``register``:
names are checked and de-duplicated in one place, and a third party gets exactly the
contexts the built-ins get.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from .clock import Clock
from .const import DEFAULT_ACTION_TIMEOUT
from .templates import render

if TYPE_CHECKING:
    from hub.core import Hub

    from .device_index import DeviceIndex

_LOGGER = logging.getLogger(__name__)

_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?\Z")

Fire = Callable[[dict[str, Any]], None]
Detach = Callable[[], None]


@dataclass(slots=True)
class TriggerContext:
    """What a trigger type's ``attach`` gets: the hub, the automation's id, time, the index."""

    hub: Hub
    automation_id: str
    clock: Clock
    index: DeviceIndex
    # Tasks the trigger starts (timers); the automation cancels them when it detaches.
    tasks: set[Any] = field(default_factory=set)

    def start(self, coroutine: Any, name: str) -> Any:
        """A task that ends with the automation (disabled, deleted, hub stopping)."""
        task = self.hub.create_task(coroutine, name=f"automation.{self.automation_id}.{name}")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def cancel_tasks(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        self.tasks.clear()


@dataclass(slots=True)
class ActionContext:
    """What an action type's ``run`` gets: the hub, the run's variables, time."""

    hub: Hub
    automation_id: str
    clock: Clock
    variables: dict[str, Any]

    def render(self, value: Any) -> Any:
        """``value`` with its templates rendered against this run's variables."""
        return render(value, self.variables)


@dataclass(frozen=True, slots=True)
class TriggerType:
    """``trigger: <name>``: ``attach(context, config, fire)`` starts watching and returns
    the callable that stops it; ``fire(data)`` starts a run with ``trigger`` = data."""

    name: str
    schema: Any
    attach: Callable[[TriggerContext, dict[str, Any], Fire], Detach]
    description: str = ""


@dataclass(frozen=True, slots=True)
class ActionType:
    """``action: <name>``: ``await run(context, config)`` does it; what it returns is kept
    in the trace. It is cancelled after ``timeout`` seconds (the step's ``timeout:`` wins)."""

    name: str
    schema: Any
    run: Callable[[ActionContext, dict[str, Any]], Awaitable[Any]]
    description: str = ""
    timeout: float = DEFAULT_ACTION_TIMEOUT


class ActionSkipped(Exception):
    """Raised by an action that had nothing to do (e.g. no cloud link): the step is
    ``skipped`` with this message and the run goes on."""


class PlatformError(ValueError):
    """A type that cannot be registered; the message names it and who offered it."""


class Platforms:
    """Every trigger and action type one hub knows, with the integration that added each."""

    def __init__(self) -> None:
        self.triggers: dict[str, TriggerType] = {}
        self.actions: dict[str, ActionType] = {}
        self.owners: dict[tuple[str, str], str] = {}

    def register_for(self, owner: str) -> Callable[[TriggerType | ActionType], None]:
        """The ``register`` callback an integration's hook gets."""

        def register(item: TriggerType | ActionType) -> None:
            self.add(item, owner)

        return register

    def add(self, item: TriggerType | ActionType, owner: str) -> None:
        if isinstance(item, TriggerType):
            kind = "trigger"
        elif isinstance(item, ActionType):
            kind = "action"
        else:
            raise PlatformError(
                f"{owner}: register() takes a TriggerType or an ActionType, not {item!r}"
            )
        if not _NAME.match(item.name):
            raise PlatformError(
                f"{owner}: {kind} name {item.name!r} must be lower-case letters, digits and "
                "'_', optionally prefixed by the integration's name and a dot"
            )
        known = self.owners.get((kind, item.name))
        if known is not None:
            raise PlatformError(f"{owner}: {kind} {item.name!r} is already provided by {known}")
        if isinstance(item, TriggerType):
            self.triggers[item.name] = item
        else:
            self.actions[item.name] = item
        self.owners[(kind, item.name)] = owner

    def trigger_schema(self, name: str) -> Any:
        found = self.triggers.get(name)
        return None if found is None else _schema(found.schema)

    def action_schema(self, name: str) -> Any:
        found = self.actions.get(name)
        return None if found is None else _schema(found.schema)

    def describe(self) -> dict[str, list[dict[str, str]]]:
        """What ``GET /api/automations/platforms`` shows."""
        return {
            "triggers": [
                {
                    "name": n,
                    "integration": self.owners[("trigger", n)],
                    "description": t.description,
                }
                for n, t in sorted(self.triggers.items())
            ],
            "actions": [
                {"name": n, "integration": self.owners[("action", n)], "description": a.description}
                for n, a in sorted(self.actions.items())
            ],
        }


def _schema(schema: Any) -> vol.Schema:
    if isinstance(schema, vol.Schema):
        return schema
    if isinstance(schema, Mapping):
        return vol.Schema(dict(schema))
    return vol.Schema(schema)
