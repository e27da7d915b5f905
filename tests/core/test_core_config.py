import os
import subprocess
import sys
from pathlib import Path

import pytest
import voluptuous as vol

from hub.config import check_top_level_keys, read_config_file, validate_core, validate_section
from hub.yaml_loader import ConfigError, load_yaml


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_secret_include_and_env_var(tmp_path, monkeypatch):
    monkeypatch.setenv("HUB_TEST_BROKER", "mqtt://10.0.0.2:1883")
    write(tmp_path / "secrets.yaml", "db_password: s3cret\n")
    write(tmp_path / "parts" / "gateway.yaml", "base_url: http://gw\napp_id: !secret db_password\n")
    path = write(
        tmp_path / "configuration.yaml",
        "hub:\n  name: Test\n"
        "mqtt_devices:\n  broker: !env_var HUB_TEST_BROKER\n  password: !secret db_password\n"
        "  username: !env_var HUB_TEST_MISSING fallback-user\n"
        "iot_gateway: !include parts/gateway.yaml\n",
    )
    data = load_yaml(path)
    assert data["mqtt_devices"] == {
        "broker": "mqtt://10.0.0.2:1883",
        "password": "s3cret",
        "username": "fallback-user",
    }
    assert data["iot_gateway"] == {"base_url": "http://gw", "app_id": "s3cret"}


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("hub:\n  name: x\nthing: !secret nope\n", 3, "secret 'nope' is not defined"),
        ("hub:\n  x: !env_var HUB_SURELY_UNSET_VAR\n", 2, "HUB_SURELY_UNSET_VAR is not set"),
        ("hub:\n  x: !include missing.yaml\n", 2, "does not exist"),
        ("hub:\n  name: [unclosed\n", 3, "invalid YAML"),
        ("hub:\n  name: a\n  name: b\n", 3, "appears twice"),
    ],
)
def test_yaml_errors_name_file_and_line(tmp_path, text, line, fragment):
    path = write(tmp_path / "configuration.yaml", text)
    with pytest.raises(ConfigError) as caught:
        load_yaml(path)
    assert caught.value.file == str(path)
    assert caught.value.line == line
    assert fragment in str(caught.value)


def test_unknown_top_level_key_lists_available_integrations(tmp_path):
    write(tmp_path / "configuration.yaml", "hub: {}\n\nmqtt_device:\n  broker: auto\n")
    raw = read_config_file(tmp_path)
    with pytest.raises(ConfigError) as caught:
        check_top_level_keys(raw, ["auth", "mqtt_devices"])
    message = str(caught.value)
    assert "mqtt_device" in message
    assert "available integrations: auth, mqtt_devices" in message
    assert caught.value.line == 3


def test_schema_error_names_integration_key_and_line(tmp_path):
    write(
        tmp_path / "configuration.yaml",
        "hub:\n  station_id: ok\ngadget:\n  nested:\n    port: not-a-number\n",
    )
    raw = read_config_file(tmp_path)
    schema = vol.Schema({"nested": {"port": int}})
    with pytest.raises(ConfigError) as caught:
        validate_section(raw, "gadget", schema, integration="gadget")
    error = caught.value
    assert (error.integration, error.key, error.line) == ("gadget", "gadget.nested.port", 5)
    assert "configuration.yaml, line 5" in str(error)


def test_core_defaults_and_core_errors(tmp_path):
    write(tmp_path / "configuration.yaml", "hub:\n  http:\n    port: 99999\n")
    with pytest.raises(ConfigError) as caught:
        validate_core(read_config_file(tmp_path))
    assert caught.value.key == "hub.http.port" and caught.value.line == 3
    write(tmp_path / "configuration.yaml", "hub:\n")
    core = validate_core(read_config_file(tmp_path))
    assert core["http"]["port"] == 8123
    assert core["station_id"] == "station"


def test_station_id_must_be_a_topic_level(tmp_path):
    write(tmp_path / "configuration.yaml", "hub:\n  station_id: 'a/b'\n")
    with pytest.raises(ConfigError, match="MQTT topic level"):
        validate_core(read_config_file(tmp_path))


def _check_config(config_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hub", "check-config", "-c", str(config_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )


def test_check_config_command_reports_and_exits_non_zero(tmp_path):
    write(tmp_path / "configuration.yaml", "hub: {}\nnot_an_integration: {}\n")
    result = _check_config(tmp_path)
    assert result.returncode == 1
    assert "not_an_integration" in result.stderr
    assert "available integrations:" in result.stderr


def test_check_config_accepts_the_shipped_default():
    shipped = Path(__file__).parents[2] / "config"
    result = _check_config(shipped)
    assert result.returncode == 0, result.stderr
    assert "configuration is valid" in result.stdout
