"""One automation at run time: its triggers attached, its runs started by mode, its bounds.

Run modes (as Home Assistant): ``single`` ignores a trigger while a run is going on,
``restart`` cancels the run and starts again, ``queued`` runs one after another and
``parallel`` all at once, each with at most ``max`` runs running or waiting. Beyond these, at most
``max_runs_per_minute`` runs start in any minute: an automation that triggers itself is
held there instead of flooding the hub. Each distinct error is logged once, naming the
automation; every run leaves a trace either way.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from hub.timestamps import iso

from .conditions import ConditionEnv, compile_conditions
from .const import (
    EVENT_AUTOMATION_RUN_FINISHED,
    EVENT_AUTOMATION_TRIGGERED,
    AutomationTriggeredData,
)
from .platforms import Detach, TriggerContext
from .schema import jsonable
from .script import Script, StepFailed, StopRun, trigger_config, trigger_variables
from .traces import CANCELLED, FAILED, FINISHED, STOPPED, Trace

if TYPE_CHECKING:
    from .engine import Engine

_LOGGER = logging.getLogger(__name__)

RATE_WINDOW = 60.0
MAX_LOGGED_ERRORS = 50


class Automation:
    def __init__(self, engine: Engine, config: dict[str, Any], *, origin: str) -> None:
        """``origin`` is ``yaml`` (read-only over the API) or ``api`` (stored in the database)."""
        self.engine = engine
        self.config = config
        self.origin = origin
        self.id: str = config["id"]
        self.enabled: bool = config.get("enabled", True)
        self.invalid: str | None = None
        self._conditions = compile_conditions(config["conditions"])
        self._context: TriggerContext | None = None
        self._detaches: list[Detach] = []
        self._runs: set[asyncio.Task[None]] = set()
        self._queue = asyncio.Lock()
        self._started: deque[float] = deque()
        self._logged: set[str] = set()
        self.last_triggered: float | None = None
        self.counters = {"runs": 0, "skipped": 0, "throttled": 0, "failed": 0}

    # ---- attach / detach -----------------------------------------------------------

    @property
    def running(self) -> int:
        """Runs going on now (queued ones included)."""
        return len(self._runs)

    @property
    def attached(self) -> bool:
        return self._context is not None

    def attach(self) -> None:
        """Start watching the triggers (an enabled, valid automation on a running hub)."""
        if self._context is not None or not self.enabled or self.invalid:
            return
        engine = self.engine
        self._context = TriggerContext(engine.hub, self.id, engine.clock, engine.index)
        for index, config in enumerate(self.config["triggers"]):
            if not config.get("enabled", True):
                continue
            trigger_type = engine.platforms.triggers[config["trigger"]]
            try:
                self._detaches.append(
                    trigger_type.attach(
                        self._context, trigger_config(config), self._fire_for(index, config)
                    )
                )
            except Exception as error:
                self._log_once(f"trigger {index} ({config['trigger']}) could not start: {error}")

    def detach(self, *, cancel_runs: bool = True) -> None:
        for detach in self._detaches:
            try:
                detach()
            except Exception as error:
                self._log_once(f"a trigger did not stop cleanly: {error}")
        self._detaches = []
        if self._context is not None:
            self._context.cancel_tasks()
            self._context = None
        if cancel_runs:
            for task in list(self._runs):
                task.cancel()

    async def wait_idle(self) -> None:
        """Until every run of this automation has ended (after ``detach``)."""
        if self._runs:
            await asyncio.gather(*self._runs, return_exceptions=True)

    def _fire_for(self, index: int, config: dict[str, Any]) -> Any:
        def fire(data: dict[str, Any]) -> None:
            self.trigger(trigger_variables(config, index, data))

        return fire

    # ---- starting runs -------------------------------------------------------------

    def trigger(self, trigger: dict[str, Any], *, check_conditions: bool = True) -> str | None:
        """Start a run if the mode and the rate limit allow: its run id, None if dropped."""
        now = self.engine.clock.monotonic()
        while self._started and now - self._started[0] >= RATE_WINDOW:
            self._started.popleft()
        limit = self.config["max_runs_per_minute"]
        if len(self._started) >= limit:
            self.counters["throttled"] += 1
            self._log_once(
                f"triggered more than {limit} times a minute; runs are dropped until it calms "
                "down (raise max_runs_per_minute if this is intended)",
                level=logging.WARNING,
            )
            return None
        mode, most = self.config["mode"], self.config["max"]
        running = len(self._runs)
        if mode == "single" and running:
            self.counters["skipped"] += 1
            return None
        if mode in ("parallel", "queued") and running >= most:
            self.counters["skipped"] += 1
            return None
        if mode == "restart":
            for task in list(self._runs):
                task.cancel()
        self._started.append(now)
        trace = Trace(self.id, jsonable(trigger))
        task = self.engine.hub.create_task(
            self._run(trace, trigger, check_conditions, queued=mode == "queued"),
            name=f"automation.{self.id}.run",
        )
        self._runs.add(task)
        task.add_done_callback(self._runs.discard)
        return trace.run_id

    async def _run(
        self, trace: Trace, trigger: dict[str, Any], check_conditions: bool, *, queued: bool
    ) -> None:
        if queued:
            await self._queue.acquire()
            try:
                await self._execute(trace, trigger, check_conditions)
            finally:
                self._queue.release()
        else:
            await self._execute(trace, trigger, check_conditions)

    async def _execute(self, trace: Trace, trigger: dict[str, Any], check_conditions: bool) -> None:
        engine = self.engine
        trace.started = time.time()
        engine.traces.add(trace)
        self.counters["runs"] += 1
        self.last_triggered = trace.started
        variables: dict[str, Any] = {
            "trigger": trigger,
            "automation": {"id": self.id, "alias": self.config.get("alias")},
            "now": engine.clock.now,
        }
        triggered: AutomationTriggeredData = {
            "automationId": self.id,
            "runId": trace.run_id,
            "trigger": trace.trigger,
        }
        engine.hub.bus.fire(EVENT_AUTOMATION_TRIGGERED, triggered)
        try:
            env = ConditionEnv(engine.hub.devices, engine.clock, variables, trace)
            if check_conditions and not self._conditions(env):
                trace.end(STOPPED, "a condition was false")
                return
            await Script(engine, self.id, trace, variables).run(self.config["actions"], "actions")
            trace.end(FINISHED)
        except asyncio.CancelledError:
            trace.end(CANCELLED, "cancelled")
            raise
        except StopRun as stop:
            trace.end(FAILED if stop.failed else STOPPED, stop.reason)
        except StepFailed as error:
            self.counters["failed"] += 1
            trace.end(FAILED, str(error))
            self._log_once(f"failed: {error}")
        except Exception as error:
            self.counters["failed"] += 1
            trace.end(FAILED, str(error) or type(error).__name__)
            self._log_once(f"failed: {error}")
        finally:
            # Not running any more from here on: a trigger that the finished event causes
            # must not be refused by single mode.
            self._runs.discard(asyncio.current_task())
            engine.hub.bus.fire(EVENT_AUTOMATION_RUN_FINISHED, trace.as_dict())

    def _log_once(self, message: str, *, level: int = logging.ERROR) -> None:
        """Each distinct problem once per automation: a looping failure is not a log flood."""
        if message in self._logged:
            return
        if len(self._logged) < MAX_LOGGED_ERRORS:
            self._logged.add(message)
        _LOGGER.log(level, "Automation %s %s", self.id, message)

    # ---- what the API shows --------------------------------------------------------

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "alias": self.config.get("alias"),
            "origin": self.origin,
            "source": self.config.get("_source"),
            "editable": self.origin == "api",
            "enabled": self.enabled,
            "state": "invalid" if self.invalid else ("on" if self.enabled else "off"),
            "error": self.invalid,
            "running": self.running,
            "lastTriggered": iso(self.last_triggered) if self.last_triggered else None,
            "counters": dict(self.counters),
            "config": jsonable(self.config),
        }
