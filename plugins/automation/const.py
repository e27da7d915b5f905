"""Names and bounds of the automation integration, in one place so docs and code agree."""

from __future__ import annotations

from typing import Any, TypedDict

from hub.events import EventType

DOMAIN = "automation"


class AutomationTriggeredData(TypedDict):
    """A run began (Home Assistant's event name): which automation, which run, and why."""

    automationId: str
    runId: str
    trigger: dict[str, Any]


# Bus events this integration fires: a run began, and a run ended with its trace (the
# trace as ``GET /api/automations/{id}/traces`` shows it, ``Trace.as_dict``).
EVENT_AUTOMATION_TRIGGERED: EventType[AutomationTriggeredData] = EventType("automation_triggered")
EVENT_AUTOMATION_RUN_FINISHED: EventType[dict[str, Any]] = EventType("automation_run_finished")

MODES = ("single", "restart", "queued", "parallel")
DEFAULT_MODE = "single"
# Runs waiting (queued) or running together (parallel) per automation, by default and at most.
DEFAULT_MAX_RUNS = 10
MAX_RUNS_LIMIT = 1000

# A looping automation (one that triggers itself) is held to this many runs a minute.
DEFAULT_MAX_RUNS_PER_MINUTE = 60

# Traces kept per automation, newest last.
TRACES_KEPT = 20

# Bounds that keep one automation from holding the hub: every action ends.
DEFAULT_COMMAND_TIMEOUT = 10.0
DEFAULT_ACTION_TIMEOUT = 30.0
DEFAULT_WAIT_TIMEOUT = 3600.0
MAX_DURATION = 7 * 24 * 3600.0
MAX_REPEAT = 1000
# Steps one run may take in all (repeats and branches included) before it is stopped.
MAX_STEPS_PER_RUN = 10_000
MAX_NESTING = 10

# Roles that may create, change and delete automations over the API; any user reads.
EDITOR_ROLES = ("owner", "admin")

API_PREFIX = "/api/automations"
