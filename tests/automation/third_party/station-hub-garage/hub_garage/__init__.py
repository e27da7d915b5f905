"""A garage door integration as a third party would write it: it adds the automation
action ``garage.open`` and the trigger ``garage.opened`` through ``hub_automation_platforms``."""

from __future__ import annotations

from typing import Any

import voluptuous as vol

from hub.hookspecs import hookimpl
from plugins.automation import ActionContext, ActionType, TriggerContext, TriggerType

OPENED = "garage_opened"


async def open_door(context: ActionContext, config: dict[str, Any]) -> dict[str, Any]:
    if config["seconds"] > 60:
        raise ValueError("the door motor runs 60 s at most")
    context.hub.bus.fire(OPENED, {"seconds": config["seconds"], "by": context.automation_id})
    return {"opened": config["seconds"]}


def watch_door(context: TriggerContext, config: dict[str, Any], fire: Any) -> Any:
    def on_opened(event: Any) -> None:
        if event.data["seconds"] >= config.get("at_least", 0):
            fire({"seconds": event.data["seconds"]})

    return context.hub.bus.listen(OPENED, on_opened)


@hookimpl
def hub_automation_platforms(register: Any) -> None:
    register(ActionType("garage.open", {vol.Required("seconds"): int}, open_door, "open it"))
    register(TriggerType("garage.opened", {vol.Optional("at_least"): int}, watch_door))
