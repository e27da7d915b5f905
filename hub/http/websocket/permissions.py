"""Who may subscribe to which bus events over ``/api/websocket``: Home Assistant's rule.

As in HA (``handle_subscribe_events`` and ``SUBSCRIBE_ALLOWLIST``), an owner or admin may
subscribe to any event type, ``*`` included, and anyone else only to the types on an
allow-list of events that carry nothing a plain user could not read through the HTTP API
already. Everything else is refused as ``unauthorized``: a type that is not on the list
may be an integration's audit trail (``device_provisioned`` names who provisioned what),
an automation's trace (``automation_run_finished`` carries each step's result and error), or
whatever an automation's ``event`` action or an integration chooses to fire, and the hub
cannot know what those carry. ``*`` is refused for the same reason: it would be all of
them. A new event type is therefore private to admins until someone decides it is safe
and adds it here.

``PRIVATE_EVENTS`` are refused to everyone, admins too, and never forwarded even to a
subscriber of ``*``: they are the hub's plumbing, not news.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from hub import events

if TYPE_CHECKING:
    from hub.auth import Principal

# Bus events that are the hub's own plumbing, never forwarded to subscribers (even of
# "*"): who lost their sessions and why is no other user's business.
PRIVATE_EVENTS: Final = frozenset({events.SESSIONS_REVOKED})

# HA's event for an entity's new state; subscribers of it (or of "*") get entity changes.
STATE_CHANGED: Final = "state_changed"

# The global roles (``Principal.role`` of the ``user`` scheme) that see every event, as
# HA's ``is_admin`` does; the same roles the HTTP API asks for to manage devices.
ADMIN_ROLES: Final = frozenset({"owner", "admin"})

# The hub's own events a plain user may follow: each says no more than the HTTP routes
# open to any user already show (GET /api/devices, .../events, /api/commands/{id}), and
# the portal's device pages need them live.
HUB_ALLOWLIST: Final = frozenset(
    {
        events.DEVICE_REGISTERED,
        events.DEVICE_UPDATED,
        events.DEVICE_REMOVED,
        events.DEVICE_STATE_CHANGED,
        events.DEVICE_EVENT,
        events.DEVICE_PRESENCE_CHANGED,
        events.COMMAND_STATUS_CHANGED,
        events.HUB_STARTED,
        events.HUB_STOPPING,
        STATE_CHANGED,
    }
)

# HA's own allow-list, by name. The hub fires none of these but ``state_changed``; they
# are here so HA's clients, which subscribe to some of them for every user
# (home-assistant-js-websocket's ``subscribeConfig`` asks for ``component_loaded`` and
# ``core_config_updated``, ``subscribeServices`` for ``service_registered`` and
# ``service_removed``), work for a non-admin as they do against HA.
HA_ALLOWLIST: Final = frozenset(
    {
        "area_registry_updated",
        "category_registry_updated",
        "component_loaded",
        "core_config_updated",
        "device_registry_updated",
        "entity_registry_updated",
        "floor_registry_updated",
        "label_registry_updated",
        "lovelace_updated",
        "panels_updated",
        "recorder_5min_statistics_generated",
        "recorder_hourly_statistics_generated",
        "repairs_issue_registry_updated",
        "service_registered",
        "service_removed",
        "shopping_list_updated",
        "themes_updated",
        STATE_CHANGED,
    }
)

SUBSCRIBE_ALLOWLIST: Final = HUB_ALLOWLIST | HA_ALLOWLIST


def is_admin(principal: Principal) -> bool:
    """Whether ``principal`` sees every event: a user whose global role is owner or admin.

    Only the ``user`` scheme authenticates a socket, so the principal is a user (signed in
    with a JWT, or an API token, which acts as its user, as HA's long-lived tokens do).
    Any other kind, or a user without a known role, is not an admin: the check fails
    closed.
    """
    return principal.kind == "user" and principal.role in ADMIN_ROLES


def may_subscribe(principal: Principal, event_type: str) -> bool:
    """Whether ``principal`` may ``subscribe_events`` to ``event_type`` (``*`` included)."""
    if event_type in PRIVATE_EVENTS:
        return False
    return event_type in SUBSCRIBE_ALLOWLIST or is_admin(principal)
