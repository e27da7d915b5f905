"""All automations of one hub: the types they may use, the index, the clock, the traces.

YAML automations are set up from the validated ``automation:`` list; API ones from the
database. Each is checked again here against every type the running integrations added
(``hub_automation_platforms``): one that does not pass is kept, marked invalid with the
reason (and its YAML line), and never attached, while the others run.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from hub.integrations import FAILED
from hub.plugins import call_for

from .actions import BUILTIN_ACTIONS
from .automation import Automation
from .clock import Clock, RealClock
from .const import DEFAULT_MAX_RUNS, DEFAULT_MAX_RUNS_PER_MINUTE, DEFAULT_MODE, DOMAIN
from .device_index import DeviceIndex
from .platforms import ActionType, PlatformError, Platforms, TriggerType
from .schema import Validator
from .traces import TraceStore
from .triggers import BUILTIN_TRIGGERS

if TYPE_CHECKING:
    from hub.core import Hub

_LOGGER = logging.getLogger(__name__)

HOOK = "hub_automation_platforms"


def builtin_platforms() -> Platforms:
    """The types every hub has (what ``check-config`` can check without a running hub)."""
    platforms = Platforms()
    builtin: tuple[TriggerType | ActionType, ...] = (*BUILTIN_TRIGGERS, *BUILTIN_ACTIONS)
    for item in builtin:
        platforms.add(item, DOMAIN)
    return platforms


class Engine:
    def __init__(self, hub: Hub, clock: Clock | None = None) -> None:
        self.hub = hub
        self.clock: Clock = clock or RealClock()
        self.platforms = builtin_platforms()
        self.index = DeviceIndex(hub.bus)
        self.traces = TraceStore()
        self.automations: dict[str, Automation] = {}
        self.running = False

    # ---- types ---------------------------------------------------------------------

    def collect_platforms(self) -> None:
        """Ask every running integration for its trigger and action types."""
        for name, integration in self.hub.integrations.items():
            if name == DOMAIN or integration.state == FAILED or integration.module is None:
                continue
            try:
                call_for(self.hub.manager, name, HOOK, register=self.platforms.register_for(name))
            except PlatformError as error:
                _LOGGER.error("Automation types of %s refused: %s", name, error)
            except Exception:
                _LOGGER.exception("Integration %s failed to add automation types", name)

    def validator(self) -> Validator:
        return Validator(self.platforms, strict=True)

    def check(self, config: dict[str, Any]) -> dict[str, Any]:
        """``config`` checked against every known type; raises ``vol.Invalid``."""
        private = {key: value for key, value in config.items() if str(key).startswith("_")}
        public = {key: value for key, value in config.items() if not str(key).startswith("_")}
        return {**self.validator().automation(public), **private}

    # ---- the set of automations ----------------------------------------------------

    def add(self, config: dict[str, Any], *, origin: str) -> Automation:
        """Build (and, when running, attach) an automation; an invalid one is kept, off."""
        try:
            checked = self.check(config)
        except vol.Invalid as error:
            automation = Automation(self, placeholder(config), origin=origin)
            automation.invalid = describe(error, config)
            _LOGGER.error("Automation %s is not set up: %s", automation.id, automation.invalid)
        else:
            automation = Automation(self, checked, origin=origin)
        old = self.automations.get(automation.id)
        if old is not None:
            old.detach()
        self.automations[automation.id] = automation
        if self.running:
            automation.attach()
        return automation

    def remove(self, automation_id: str) -> Automation | None:
        automation = self.automations.pop(automation_id, None)
        if automation is not None:
            automation.detach()
            self.traces.forget(automation_id)
        return automation

    def start(self) -> None:
        self.running = True
        for automation in self.automations.values():
            automation.attach()

    async def stop(self) -> None:
        self.running = False
        for automation in self.automations.values():
            automation.detach()
        for automation in self.automations.values():
            await automation.wait_idle()

    async def use_clock(self, clock: Clock) -> None:
        """Swap the clock (tests): every automation is detached and attached again."""
        was_running = self.running
        await self.stop()
        self.clock = clock
        if was_running:
            self.start()

    def health(self) -> dict[str, Any]:
        automations = self.automations.values()
        return {
            "automations": len(self.automations),
            "enabled": sum(1 for item in automations if item.enabled and not item.invalid),
            "invalid": sum(1 for item in automations if item.invalid),
            "running": sum(item.running for item in automations),
            "triggerErrors": self.index.errors,
        }


def placeholder(config: Any) -> dict[str, Any]:
    """The minimum an invalid automation needs to be listed with its error."""
    raw = config if isinstance(config, dict) else {}
    return {
        "id": str(raw.get("id", "?")),
        "alias": raw.get("alias"),
        "enabled": False,
        "mode": DEFAULT_MODE,
        "max": DEFAULT_MAX_RUNS,
        "max_runs_per_minute": DEFAULT_MAX_RUNS_PER_MINUTE,
        "triggers": [],
        "conditions": [],
        "actions": [],
        "_source": raw.get("_source"),
    }


def describe(error: vol.Invalid, config: Any) -> str:
    """One line: where (the YAML line when known), which key, what is wrong."""
    path = ".".join(str(part) for part in error.path)
    message = error.error_message or str(error)
    source = config.get("_source") if isinstance(config, dict) else None
    where = f"{source}: " if source else ""
    return f"{where}{path}: {message}" if path else f"{where}{message}"
