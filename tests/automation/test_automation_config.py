"""The automation: YAML key: Home Assistant's spelling, check-config, errors with file:line."""

from __future__ import annotations

import textwrap

from hub.cli import check_config
from plugins.automation import runtime_for

ISSUE_EXAMPLE = """\
automation:
  - id: fan_when_hot
    alias: Fan on when hot
    mode: single
    triggers:
      - trigger: device_state
        device: esp-kitchen-1
        attribute: temp
        above: 30
    conditions:
      - condition: device_presence
        device: esp-kitchen-1
        online: true
    actions:
      - action: device_command
        device: esp-kitchen-1
        command: fan
        params: {on: true}
"""


def write(directory, text: str) -> None:
    core = "hub:\n  http:\n    host: 127.0.0.1\n    port: 0\n"
    (directory / "configuration.yaml").write_text(core + textwrap.dedent(text))


def test_the_issue_example_passes_check_config(tmp_path):
    write(tmp_path, ISSUE_EXAMPLE)
    assert check_config(tmp_path) == []


def test_errors_name_the_file_the_line_and_the_key(tmp_path):
    write(
        tmp_path,
        """\
        automation:
          - id: ok
            triggers:
              - trigger: hub_start
            actions:
              - event: started
          - id: bad
            triggers:
              - trigger: device_state
                device: esp-kitchen-1
                attribute: temp
                above: warm
            actions:
              - delay: 1
        """,
    )
    [error] = check_config(tmp_path)
    # The core key takes lines 1-4; "above: warm" is line 16.
    assert error.startswith("configuration.yaml, line 16:") or ", line 16:" in error
    assert "automation.1.triggers.0.above" in error and "expected a number" in error


def test_unknown_types_steps_and_duplicate_ids_are_refused_with_their_line(tmp_path):
    write(
        tmp_path,
        """\
        automation:
          - id: twice
            triggers: [{trigger: hub_start}]
            actions: [{event: a}]
          - id: twice
            triggers: [{trigger: hub_start}]
            actions: [{event: a}]
        """,
    )
    [error] = check_config(tmp_path)
    assert ", line 9:" in error and "is used by automation 0 too" in error
    write(
        tmp_path,
        """\
        automation:
          - id: steps
            triggers: [{trigger: hub_start}]
            actions:
              - delay: 1
                event: both
        """,
    )
    [error] = check_config(tmp_path)
    assert "exactly one of delay" in error and "automation.0.actions.0" in error
    write(
        tmp_path,
        """\
        automation:
          - id: cond
            triggers: [{trigger: hub_start}]
            conditions:
              - condition: device_numeric_state
                device: d
                attribute: temp
            actions: [{event: a}]
        """,
    )
    [error] = check_config(tmp_path)
    assert ", line 9:" in error and "give above, below or both" in error
    write(
        tmp_path,
        """\
        automation:
          - id: tpl
            triggers: [{trigger: hub_start}]
            actions:
              - event: x
                event_data: {t: "{{ trigger.state.temp "}
        """,
    )
    [error] = check_config(tmp_path)
    assert "invalid template" in error and "automation.0.actions.0.event_data" in error


def test_an_unquoted_clock_time_is_refused_rather_than_guessed(tmp_path):
    write(
        tmp_path,
        """\
        automation:
          - id: wake
            triggers:
              - trigger: time
                at: 7:30
            actions: [{event: a}]
        """,
    )
    [error] = check_config(tmp_path)
    assert ", line 9:" in error and "quote it" in error


async def test_a_type_from_another_integration_is_checked_when_the_hub_starts(hub_factory):
    hub = await hub_factory(
        {
            "automation": [
                {"id": "good", "triggers": [{"trigger": "hub_start"}], "actions": [{"event": "a"}]},
                {
                    "id": "needs_garage",
                    "triggers": [{"trigger": "hub_start"}],
                    "actions": [{"action": "garage.open", "seconds": 3}],
                },
            ]
        }
    )
    # check-config could not know garage.open; at start nobody provides it.
    runtime = runtime_for(hub)
    assert runtime is not None, hub.integrations["automation"].error
    automations = runtime.engine.automations
    assert automations["good"].invalid is None and automations["good"].attached
    invalid = automations["needs_garage"].invalid
    assert invalid is not None
    assert invalid.startswith("configuration.yaml, line ")
    assert "actions.0.action: unknown action 'garage.open'" in invalid
    assert not automations["needs_garage"].attached
    assert hub.integration_state("automation") == "running"


async def test_an_invalid_automation_key_fails_only_the_integration(hub_factory):
    hub = await hub_factory({"automation": {"id": "not-a-list"}})
    assert hub.integration_state("automation") == "failed"
    assert "automation must be a list" in hub.integrations["automation"].error
