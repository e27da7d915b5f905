"""The shape of an automation, checked the same way for the YAML and for the HTTP API.

Home Assistant's current spelling: ``triggers:`` with ``trigger: <type>`` items,
``conditions:`` with ``condition: <type>``, ``actions:`` with ``action: <type>`` (the
singular top-level keys are accepted too). Flow steps are keyed as in HA: ``delay:``,
``wait_for_trigger:``, ``event:``, ``choose:``, ``if:``, ``repeat:``, ``condition:``,
``stop:``.

Trigger and action types come from a ``Platforms`` registry. At ``check-config`` time only
the built-in types are known, so a type another integration adds is accepted there as
written and checked when the hub starts (then an error names the automation and its line).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import time
from typing import Any

import voluptuous as vol

from . import conditions as condition_types
from .const import (
    DEFAULT_MAX_RUNS,
    DEFAULT_MAX_RUNS_PER_MINUTE,
    DEFAULT_MODE,
    DEFAULT_WAIT_TIMEOUT,
    MAX_NESTING,
    MAX_REPEAT,
    MAX_RUNS_LIMIT,
    MODES,
)
from .platforms import Platforms
from .templates import is_template
from .validators import any_value, duration, template_or

_ID = re.compile(r"^[A-Za-z0-9_.-]{1,128}\Z")
TRIGGER_COMMON = ("trigger", "id", "enabled")
ACTION_COMMON = ("action", "alias", "timeout", "continue_on_error", "enabled")
FLOW_KEYS = ("delay", "wait_for_trigger", "event", "choose", "if", "repeat", "condition", "stop")
SINGULAR = {"trigger": "triggers", "condition": "conditions", "action": "actions"}


def automation_id(value: Any) -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise vol.Invalid("an automation id is 1-128 letters, digits, '_', '.' or '-'")
    return value


def _invalid(message: str, *path: Any) -> vol.Invalid:
    return vol.Invalid(message, path=list(path))


def _run(schema: Any, value: Any, *path: Any) -> Any:
    """``schema(value)`` with ``path`` put in front of any error's path."""
    try:
        return vol.Schema(schema)(value) if not isinstance(schema, vol.Schema) else schema(value)
    except vol.Invalid as error:
        error.prepend(list(path))
        raise


def _run_step(schema: Any, value: Any, key: str, *path: Any) -> Any:
    """``_run`` for a step's own settings: an error about the step as a whole points at its
    ``trigger:``/``condition:``/``action:`` key, so it carries that line."""
    try:
        return vol.Schema(schema)(value) if not isinstance(schema, vol.Schema) else schema(value)
    except vol.Invalid as error:
        error.prepend([*path] if error.path else [*path, key])
        raise


def _only_at_templates(error: vol.Invalid, config: Mapping[Any, Any]) -> bool:
    """Every complaint is about a top-level value that is a template (voluptuous types an
    error's path as any hashable keys)."""
    errors = error.errors if isinstance(error, vol.MultipleInvalid) else [error]
    return all(item.path and is_template(config.get(item.path[0])) for item in errors)


def _as_list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, dict):
        return [value]
    if not isinstance(value, list):
        raise _invalid(f"{what} must be a list")
    return value


class Validator:
    """Checks automations against the trigger and action types in ``platforms``.

    ``strict`` refuses a type it does not know; otherwise such a step is kept as written
    (``check-config`` runs before other integrations can add their types).
    """

    def __init__(self, platforms: Platforms, *, strict: bool) -> None:
        self.platforms = platforms
        self.strict = strict

    # ---- an automation -------------------------------------------------------------

    def automation(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _invalid("an automation must be a mapping with id, triggers and actions")
        value = dict(value)
        for singular, plural in SINGULAR.items():
            if singular in value:
                if plural in value:
                    raise _invalid(f"give {plural} or {singular}, not both", singular)
                value[plural] = value.pop(singular)
        base = _run(
            {
                vol.Required("id"): automation_id,
                vol.Optional("alias"): vol.All(str, vol.Length(max=256)),
                vol.Optional("description"): vol.All(str, vol.Length(max=4096)),
                vol.Optional("enabled", default=True): bool,
                vol.Optional("mode", default=DEFAULT_MODE): vol.In(MODES),
                vol.Optional("max", default=DEFAULT_MAX_RUNS): vol.All(
                    int, vol.Range(min=1, max=MAX_RUNS_LIMIT)
                ),
                vol.Optional("max_runs_per_minute", default=DEFAULT_MAX_RUNS_PER_MINUTE): vol.All(
                    int, vol.Range(min=1, max=100_000)
                ),
                vol.Required("triggers"): object,
                vol.Optional("conditions", default=[]): object,
                vol.Required("actions"): object,
            },
            value,
        )
        base["triggers"] = self.triggers(base["triggers"], "triggers")
        if not base["triggers"]:
            raise _invalid("an automation needs at least one trigger", "triggers")
        base["conditions"] = self.conditions(base["conditions"], "conditions")
        base["actions"] = self.actions(base["actions"], 0, "actions")
        if not base["actions"]:
            raise _invalid("an automation needs at least one action", "actions")
        return base

    # ---- triggers ------------------------------------------------------------------

    def triggers(self, value: Any, *path: Any) -> list[dict[str, Any]]:
        items = _run(lambda item: _as_list(item, "triggers"), value, *path)
        return [self.trigger(item, *path, index) for index, item in enumerate(items)]

    def trigger(self, value: Any, *path: Any) -> dict[str, Any]:
        if not isinstance(value, dict) or not isinstance(value.get("trigger"), str):
            raise _invalid("a trigger is a mapping with 'trigger: <type>'", *path)
        name = value["trigger"]
        common = _run(
            {
                vol.Required("trigger"): str,
                vol.Optional("id"): vol.All(vol.Coerce(str), vol.Length(max=128)),
                vol.Optional("enabled", default=True): bool,
            },
            {key: value[key] for key in TRIGGER_COMMON if key in value},
            *path,
        )
        rest = {key: item for key, item in value.items() if key not in TRIGGER_COMMON}
        schema = self.platforms.trigger_schema(name)
        if schema is None:
            if self.strict:
                known = ", ".join(sorted(self.platforms.triggers))
                raise _invalid(f"unknown trigger {name!r} (known: {known})", *path, "trigger")
            return {**common, **rest}
        return {**common, **_run_step(schema, rest, "trigger", *path)}

    # ---- conditions ----------------------------------------------------------------

    def conditions(self, value: Any, *path: Any) -> list[dict[str, Any]]:
        items = _run(lambda item: _as_list(item, "conditions"), value, *path)
        return [self.condition(item, 0, *path, index) for index, item in enumerate(items)]

    def condition(self, value: Any, depth: int, *path: Any) -> dict[str, Any]:
        if depth > MAX_NESTING:
            raise _invalid(f"conditions nest deeper than {MAX_NESTING}", *path)
        if not isinstance(value, dict) or not isinstance(value.get("condition"), str):
            raise _invalid("a condition is a mapping with 'condition: <type>'", *path)
        kind = value["condition"]
        rest = {key: item for key, item in value.items() if key not in ("condition", "alias")}
        if kind in condition_types.GROUPS:
            inner = _run({vol.Required("conditions"): object}, rest, *path)
            children = _run(lambda item: _as_list(item, "conditions"), inner["conditions"], *path)
            return {
                "condition": kind,
                "conditions": [
                    self.condition(child, depth + 1, *path, "conditions", index)
                    for index, child in enumerate(children)
                ],
            }
        schema = condition_types.SCHEMAS.get(kind)
        if schema is None:
            known = ", ".join([*condition_types.SCHEMAS, *condition_types.GROUPS])
            raise _invalid(f"unknown condition {kind!r} (known: {known})", *path, "condition")
        return {"condition": kind, **_run_step(schema, rest, "condition", *path)}

    # ---- actions -------------------------------------------------------------------

    def actions(self, value: Any, depth: int, *path: Any) -> list[dict[str, Any]]:
        if depth > MAX_NESTING:
            raise _invalid(f"actions nest deeper than {MAX_NESTING}", *path)
        items = _run(lambda item: _as_list(item, "actions"), value, *path)
        return [self.action(item, depth, *path, index) for index, item in enumerate(items)]

    def action(self, value: Any, depth: int, *path: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _invalid("an action is a mapping ('action: <type>' or a step like delay:)", *path)
        if "action" in value:
            return self._typed(value, *path)
        found = [key for key in FLOW_KEYS if key in value]
        if len(found) != 1:
            raise _invalid(
                "an action needs 'action: <type>' or exactly one of " + ", ".join(FLOW_KEYS),
                *path,
            )
        return getattr(self, f"_flow_{found[0]}")(value, depth, *path)

    def _typed(self, value: dict[str, Any], *path: Any) -> dict[str, Any]:
        common = _run(
            {
                vol.Required("action"): vol.All(str, vol.Length(min=1, max=128)),
                vol.Optional("alias"): vol.All(str, vol.Length(max=256)),
                vol.Optional("timeout"): duration,
                vol.Optional("continue_on_error", default=False): bool,
                vol.Optional("enabled", default=True): bool,
            },
            {key: value[key] for key in ACTION_COMMON if key in value},
            *path,
        )
        rest = {key: item for key, item in value.items() if key not in ACTION_COMMON}
        schema = self.platforms.action_schema(common["action"])
        if schema is None:
            if self.strict:
                known = ", ".join(sorted(self.platforms.actions))
                raise _invalid(
                    f"unknown action {common['action']!r} (known: {known})", *path, "action"
                )
            return {**common, **rest}
        try:
            return {**common, **vol.Schema(schema)(rest)}
        except vol.Invalid as error:
            if not _only_at_templates(error, rest):
                error.prepend([*path] if error.path else [*path, "action"])
                raise
        # A value that is a template can only be checked once rendered: the run checks it.
        return {**common, **_run(any_value, rest, *path)}

    def _flow(self, value: dict[str, Any], schema: dict[Any, Any], *path: Any) -> dict[str, Any]:
        return _run(
            {
                vol.Optional("alias"): vol.All(str, vol.Length(max=256)),
                vol.Optional("continue_on_error", default=False): bool,
                vol.Optional("enabled", default=True): bool,
                **schema,
            },
            value,
            *path,
        )

    def _flow_delay(self, value: dict[str, Any], _depth: int, *path: Any) -> dict[str, Any]:
        return self._flow(value, {vol.Required("delay"): template_or(duration)}, *path)

    def _flow_stop(self, value: dict[str, Any], _depth: int, *path: Any) -> dict[str, Any]:
        return self._flow(
            value,
            {vol.Required("stop"): vol.All(str, vol.Length(max=1024)), vol.Optional("error"): bool},
            *path,
        )

    def _flow_event(self, value: dict[str, Any], _depth: int, *path: Any) -> dict[str, Any]:
        return self._flow(
            value,
            {
                vol.Required("event"): vol.All(str, vol.Length(min=1, max=256)),
                vol.Optional("event_data", default={}): vol.All(dict, any_value),
            },
            *path,
        )

    def _flow_condition(self, value: dict[str, Any], _depth: int, *path: Any) -> dict[str, Any]:
        flags: dict[str, Any] = {
            key: value[key] for key in ("alias", "continue_on_error", "enabled") if key in value
        }
        rest = {key: item for key, item in value.items() if key not in flags}
        return {**self._flow(flags, {}, *path), **self.condition(rest, 0, *path)}

    def _flow_wait_for_trigger(
        self, value: dict[str, Any], _depth: int, *path: Any
    ) -> dict[str, Any]:
        checked = self._flow(
            value,
            {
                vol.Required("wait_for_trigger"): object,
                vol.Optional("timeout", default=DEFAULT_WAIT_TIMEOUT): duration,
                vol.Optional("continue_on_timeout", default=True): bool,
            },
            *path,
        )
        checked["wait_for_trigger"] = self.triggers(
            checked["wait_for_trigger"], *path, "wait_for_trigger"
        )
        if not checked["wait_for_trigger"]:
            raise _invalid("wait_for_trigger needs at least one trigger", *path, "wait_for_trigger")
        return checked

    def _flow_choose(self, value: dict[str, Any], depth: int, *path: Any) -> dict[str, Any]:
        checked = self._flow(
            value, {vol.Required("choose"): object, vol.Optional("default"): object}, *path
        )
        options = _run(lambda item: _as_list(item, "choose"), checked["choose"], *path, "choose")
        chosen = []
        for index, option in enumerate(options):
            where = (*path, "choose", index)
            option = _run(
                {
                    vol.Optional("alias"): str,
                    vol.Required("conditions"): object,
                    vol.Required("sequence"): object,
                },
                option,
                *where,
            )
            chosen.append(
                {
                    "conditions": self.conditions(option["conditions"], *where, "conditions"),
                    "sequence": self.actions(option["sequence"], depth + 1, *where, "sequence"),
                }
            )
        checked["choose"] = chosen
        checked["default"] = self.actions(checked.get("default"), depth + 1, *path, "default")
        return checked

    def _flow_if(self, value: dict[str, Any], depth: int, *path: Any) -> dict[str, Any]:
        checked = self._flow(
            value,
            {
                vol.Required("if"): object,
                vol.Required("then"): object,
                vol.Optional("else"): object,
            },
            *path,
        )
        checked["if"] = self.conditions(checked["if"], *path, "if")
        checked["then"] = self.actions(checked["then"], depth + 1, *path, "then")
        checked["else"] = self.actions(checked.get("else"), depth + 1, *path, "else")
        return checked

    def _flow_repeat(self, value: dict[str, Any], depth: int, *path: Any) -> dict[str, Any]:
        checked = self._flow(value, {vol.Required("repeat"): dict}, *path)
        where = (*path, "repeat")
        repeat = _run(
            {
                vol.Optional("count"): template_or(vol.All(int, vol.Range(min=0, max=MAX_REPEAT))),
                vol.Optional("while"): object,
                vol.Optional("until"): object,
                vol.Optional("max", default=MAX_REPEAT): vol.All(
                    int, vol.Range(min=1, max=MAX_REPEAT)
                ),
                vol.Required("sequence"): object,
            },
            checked["repeat"],
            *where,
        )
        kinds = [key for key in ("count", "while", "until") if key in repeat]
        if len(kinds) != 1:
            raise _invalid("repeat needs exactly one of count, while, until", *where)
        for key in ("while", "until"):
            if key in repeat:
                repeat[key] = self.conditions(repeat[key], *where, key)
        repeat["sequence"] = self.actions(repeat["sequence"], depth + 1, *where, "sequence")
        checked["repeat"] = repeat
        return checked


def validate_automations(value: Any, validator: Validator) -> list[dict[str, Any]]:
    """The ``automation:`` list; each item gets ``_source`` (file, line) for later errors."""
    if value is None or value == {}:
        return []
    if not isinstance(value, list):
        raise vol.Invalid("automation must be a list of automations (each starting with '- id:')")
    seen: dict[str, int] = {}
    result = []
    for index, item in enumerate(value):
        checked = _run(validator.automation, item, index)
        if checked["id"] in seen:
            raise _invalid(
                f"id {checked['id']!r} is used by automation {seen[checked['id']]} too", index, "id"
            )
        seen[checked["id"]] = index
        checked["_source"] = source_of(item)
        result.append(checked)
    return result


def source_of(item: Any) -> str | None:
    """``configuration.yaml, line 12`` for a mapping read from YAML (its first key's line)."""
    lines = getattr(item, "key_lines", None)
    if not lines:
        return None
    file = str(getattr(item, "file", "<config>")).rsplit("/", 1)[-1]
    return f"{file}, line {min(lines.values())}"


def jsonable(value: Any) -> Any:
    """A validated config as JSON: times as 'HH:MM:SS', private keys left out."""
    if isinstance(value, dict):
        return {
            str(key): jsonable(item) for key, item in value.items() if not str(key).startswith("_")
        }
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, time):
        return value.isoformat()
    return value
