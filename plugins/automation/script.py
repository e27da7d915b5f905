"""Running an automation's actions: each step timed and its outcome put in the trace.

Every step ends: typed actions are cancelled after their timeout, delays and waits are
bounded by the schema, repeats by ``max``, and a whole run by ``MAX_STEPS_PER_RUN``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import orjson
import voluptuous as vol

from hub.http.json import describe_invalid

from .clock import run_with_timeout
from .conditions import ConditionEnv, compile_conditions
from .const import MAX_STEPS_PER_RUN
from .platforms import ActionContext, ActionSkipped, TriggerContext
from .schema import jsonable
from .templates import render
from .traces import Step, Trace
from .validators import duration

if TYPE_CHECKING:
    from .engine import Engine

_LOGGER = logging.getLogger(__name__)


class StopRun(Exception):
    """A ``stop:`` step, a failed ``condition:`` step, or a wait that timed out."""

    def __init__(self, reason: str, *, failed: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.failed = failed


class StepFailed(Exception):
    """A step failed and the run ends; the message is the step's error."""


class Script:
    """One run's walk through its actions."""

    def __init__(
        self, engine: Engine, automation_id: str, trace: Trace, variables: dict[str, Any]
    ) -> None:
        self.engine = engine
        self.automation_id = automation_id
        self.trace = trace
        self.variables = variables
        self.steps = 0

    def env(self) -> ConditionEnv:
        return ConditionEnv(self.engine.hub.devices, self.engine.clock, self.variables, self.trace)

    async def run(self, actions: list[dict[str, Any]], path: str) -> None:
        for index, action in enumerate(actions):
            if action.get("enabled", True):
                await self.step(action, f"{path}/{index}")

    async def step(self, action: dict[str, Any], path: str) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS_PER_RUN:
            raise StepFailed(f"the run took more than {MAX_STEPS_PER_RUN} steps and was stopped")
        kind = action["action"] if "action" in action else _flow_kind(action)
        step = self.trace.step(path, kind)
        started = self.engine.clock.monotonic()
        try:
            step.result = jsonable_result(await self._do(kind, action, path, step))
            if step.outcome == "running":
                step.outcome = "ok"
        except ActionSkipped as skipped:
            step.outcome, step.error = "skipped", str(skipped)
        except StopRun:
            if step.outcome == "running":
                step.outcome = "ok"
            raise
        except asyncio.CancelledError:
            step.outcome = "cancelled"
            raise
        except TimeoutError:
            step.outcome = "timeout"
            step.error = step.error or "timed out"
            if not action.get("continue_on_error"):
                raise StepFailed(f"{path} ({kind}): {step.error}") from None
        except Exception as error:
            step.outcome, step.error = "failed", str(error) or type(error).__name__
            if not action.get("continue_on_error"):
                raise StepFailed(f"{path} ({kind}): {step.error}") from None
        finally:
            step.duration = self.engine.clock.monotonic() - started

    async def _do(self, kind: str, action: dict[str, Any], path: str, step: Step) -> Any:
        if "action" in action:
            return await self._typed(action, step)
        return await getattr(self, f"_flow_{kind}")(action, path, step)

    async def _typed(self, action: dict[str, Any], step: Step) -> Any:
        action_type = self.engine.platforms.actions[action["action"]]
        config = {
            key: render(value, self.variables)
            for key, value in action.items()
            if key not in ("action", "alias", "timeout", "continue_on_error", "enabled")
        }
        try:
            # Checked again once rendered: a template's value is known only now.
            config = self.engine.platforms.action_schema(action["action"])(config)
        except vol.Invalid as error:
            raise ValueError(describe_invalid(error)) from None
        context = ActionContext(
            self.engine.hub, self.automation_id, self.engine.clock, self.variables
        )
        seconds = action.get("timeout", action_type.timeout)
        step.error = f"no answer within {seconds:g} s"
        result = await run_with_timeout(
            self.engine.clock, action_type.run(context, config), seconds
        )
        step.error = None
        return result

    # ---- flow steps ----------------------------------------------------------------

    async def _flow_delay(self, action: dict[str, Any], _path: str, _step: Step) -> Any:
        seconds = duration(render(action["delay"], self.variables))
        await self.engine.clock.sleep(seconds)
        return {"seconds": seconds}

    async def _flow_event(self, action: dict[str, Any], _path: str, _step: Step) -> Any:
        data = render(action["event_data"], self.variables)
        self.engine.hub.bus.fire(action["event"], dict(data))
        return {"event": action["event"]}

    async def _flow_stop(self, action: dict[str, Any], _path: str, _step: Step) -> Any:
        raise StopRun(
            str(render(action["stop"], self.variables)), failed=action.get("error", False)
        )

    async def _flow_condition(self, action: dict[str, Any], path: str, _step: Step) -> Any:
        check = compile_conditions([action], f"{path}/condition")
        if not check(self.env()):
            raise StopRun(f"condition at {path} was false")
        return {"result": True}

    async def _flow_if(self, action: dict[str, Any], path: str, _step: Step) -> Any:
        passed = compile_conditions(action["if"], f"{path}/if")(self.env())
        branch = "then" if passed else "else"
        await self.run(action[branch], f"{path}/{branch}")
        return {"branch": branch}

    async def _flow_choose(self, action: dict[str, Any], path: str, _step: Step) -> Any:
        for index, option in enumerate(action["choose"]):
            where = f"{path}/choose/{index}"
            if compile_conditions(option["conditions"], f"{where}/conditions")(self.env()):
                await self.run(option["sequence"], f"{where}/sequence")
                return {"chosen": index}
        await self.run(action["default"], f"{path}/default")
        return {"chosen": "default"}

    async def _flow_repeat(self, action: dict[str, Any], path: str, _step: Step) -> Any:
        repeat = action["repeat"]
        sequence, where = repeat["sequence"], f"{path}/repeat/sequence"
        if "count" in repeat:
            count = render(repeat["count"], self.variables)
            if (
                isinstance(count, bool)
                or not isinstance(count, int)
                or not 0 <= count <= repeat["max"]
            ):
                raise StepFailed(f"repeat count must be 0 to {repeat['max']}, got {count!r}")
            for index in range(count):
                await self._iteration(sequence, where, index, count)
            return {"iterations": count}
        limit = repeat["max"]
        if "while" in repeat:
            check = compile_conditions(repeat["while"], f"{path}/repeat/while")
            for index in range(limit):
                if not check(self.env()):
                    return {"iterations": index}
                await self._iteration(sequence, where, index, None)
            raise StepFailed(f"repeat while was still true after max {limit} iterations")
        check = compile_conditions(repeat["until"], f"{path}/repeat/until")
        for index in range(limit):
            await self._iteration(sequence, where, index, None)
            if check(self.env()):
                return {"iterations": index + 1}
        raise StepFailed(f"repeat until was still false after max {limit} iterations")

    async def _iteration(
        self, sequence: list[dict[str, Any]], path: str, index: int, count: int | None
    ) -> None:
        self.variables["repeat"] = {
            "index": index + 1,
            "first": index == 0,
            "last": count is not None and index == count - 1,
        }
        await self.run(sequence, path)

    async def _flow_wait_for_trigger(self, action: dict[str, Any], path: str, step: Step) -> Any:
        engine = self.engine
        arrived: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        context = TriggerContext(engine.hub, self.automation_id, engine.clock, engine.index)
        detaches = []

        def fire_for(index: int, config: dict[str, Any]) -> Any:
            def fire(data: dict[str, Any]) -> None:
                if not arrived.done():
                    arrived.set_result(trigger_variables(config, index, data))

            return fire

        started = engine.clock.monotonic()
        try:
            for index, config in enumerate(action["wait_for_trigger"]):
                trigger_type = engine.platforms.triggers[config["trigger"]]
                detaches.append(
                    trigger_type.attach(context, trigger_config(config), fire_for(index, config))
                )
            try:
                found = await run_with_timeout(engine.clock, arrived, action["timeout"])
            except TimeoutError:
                found = None
        finally:
            for detach in detaches:
                detach()
            context.cancel_tasks()
        self.variables["wait"] = {
            "trigger": found,
            "remaining": max(0.0, action["timeout"] - (engine.clock.monotonic() - started)),
        }
        if found is None:
            step.outcome, step.error = "timeout", f"no trigger within {action['timeout']:g} s"
            if not action["continue_on_timeout"]:
                raise StopRun(f"wait at {path} timed out")
            return None
        return {"trigger": found}


def _flow_kind(action: dict[str, Any]) -> str:
    for key in ("delay", "wait_for_trigger", "event", "choose", "if", "repeat", "stop"):
        if key in action:
            return key
    return "condition"


def trigger_config(config: dict[str, Any]) -> dict[str, Any]:
    """A trigger's own settings, without the keys every trigger has."""
    return {key: value for key, value in config.items() if key not in ("trigger", "id", "enabled")}


def trigger_variables(config: dict[str, Any], index: int, data: dict[str, Any]) -> dict[str, Any]:
    """``trigger`` as templates see it: the type, its id (or index), and what it reported."""
    return {"trigger": config["trigger"], "id": config.get("id", str(index)), **data}


def jsonable_result(value: Any) -> Any:
    """What an action returned, in a form the trace can be served as JSON."""
    try:
        value = jsonable(value)
        orjson.dumps(value)
    except Exception:
        return repr(value)
    return value
