"""The shipped systemd unit is one systemd accepts, without warnings."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
INSTALLED_COMMAND = "/opt/station-hub/.venv/bin/station-hub"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_systemd_unit_verifies_cleanly(tmp_path):
    unit = (ROOT / "deploy" / "station-hub.service").read_text()
    assert INSTALLED_COMMAND in unit
    # verify checks that ExecStart exists: point it at this venv's command instead.
    command = Path(sys.executable).with_name("station-hub")
    local = tmp_path / "station-hub.service"
    local.write_text(unit.replace(INSTALLED_COMMAND, str(command)))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(local)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    problems = [line for line in result.stderr.splitlines() if "station-hub.service" in line]
    assert problems == []


def test_the_mosquitto_drop_in_uses_the_shipped_broker_config():
    drop_in = (ROOT / "deploy" / "mosquitto.service.d" / "station-hub.conf").read_text()
    assert "ExecStart=\n" in drop_in
    assert "-c /etc/mosquitto/station-hub.conf" in drop_in
    assert (ROOT / "config" / "mosquitto.conf").is_file()


def test_license_matches_pyproject():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
