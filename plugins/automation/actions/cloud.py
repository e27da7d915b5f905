"""``action: notify_cloud``: a JSON-RPC notification to the cloud over the cloud link.

Sent as ``automation.notify`` with ``{automationId, message, data, time}`` on the link's
live session. Without a configured ``cloud_link`` the step is skipped (the automation works
the same on a station that has no cloud); configured but disconnected is a failure, so
the trace says the message did not go out.
"""

from __future__ import annotations

from typing import Any

import voluptuous as vol

from hub.services import CLOUD_NOTIFICATIONS
from hub.timestamps import iso

from ..platforms import ActionContext, ActionSkipped, ActionType
from ..validators import any_value, template_or

NOTIFY_METHOD = "automation.notify"


async def notify_cloud(context: ActionContext, config: dict[str, Any]) -> dict[str, Any]:
    cloud = context.hub.registrations.services.get(CLOUD_NOTIFICATIONS)
    if cloud is None:
        raise ActionSkipped("the cloud link is not configured")
    params = {
        "automationId": context.automation_id,
        "message": config["message"],
        "data": config.get("data") or {},
        "time": iso(context.clock.now().timestamp()),
    }
    # Configured but disconnected raises ConnectionError: the run's trace says the
    # notification did not go out.
    await cloud.notify(NOTIFY_METHOD, params)
    return {"sent": NOTIFY_METHOD}


CLOUD_ACTIONS = (
    ActionType(
        "notify_cloud",
        {
            vol.Required("message"): template_or(vol.All(str, vol.Length(min=1, max=4096))),
            vol.Optional("data", default={}): vol.All(dict, any_value),
        },
        notify_cloud,
        "send a notification to the cloud through cloud_link (skipped without it)",
    ),
)
