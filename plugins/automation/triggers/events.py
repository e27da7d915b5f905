"""Hub triggers: the hub has started, or any event on the bus by its type."""

from __future__ import annotations

from typing import Any

import voluptuous as vol

from hub import events
from hub.event_bus import Event

from ..platforms import Detach, Fire, TriggerContext, TriggerType
from .device import data_matches


def _attach_hub_start(context: TriggerContext, _config: dict[str, Any], fire: Fire) -> Detach:
    def on_started(event: Event[events.HubStartedData]) -> None:
        fire({"stationId": event.data.get("stationId")})

    return context.hub.bus.listen(events.HUB_STARTED, on_started)


def _attach_event(context: TriggerContext, config: dict[str, Any], fire: Fire) -> Detach:
    wanted = config.get("event_data") or {}

    def on_event(event: Event) -> None:
        if wanted and not data_matches(event.data, wanted):
            return
        fire({"event": {"type": event.type, "data": event.data}})

    return context.hub.bus.listen(config["event_type"], on_event)


EVENT_TRIGGERS = (
    TriggerType("hub_start", {}, _attach_hub_start, "the hub has started"),
    TriggerType(
        "event",
        {
            vol.Required("event_type"): vol.All(str, vol.Length(min=1, max=256)),
            vol.Optional("event_data"): dict,
        },
        _attach_event,
        "any event on the hub's bus, by type (and data that matches)",
    ),
)
