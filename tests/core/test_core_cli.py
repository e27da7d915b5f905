"""``station-hub run`` as a real process: starts, serves, stops on SIGTERM, exit codes."""

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from hub.testing import free_port
from hub.testing.process import wait_for_output

ROOT = Path(__file__).parents[2]


def start(config_dir: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "hub", "run", "-c", str(config_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def wait_for_line(process: subprocess.Popen, marker: str, timeout: float = 30) -> None:
    assert process.stdout is not None  # start() pipes it
    found, output = wait_for_output(process.stdout, marker, timeout)
    if not found:
        process.kill()
        raise AssertionError(f"{marker!r} never appeared:\n{output}")


def test_run_serves_health_and_stops_cleanly_on_sigterm(tmp_path):
    port = free_port()
    (tmp_path / "configuration.yaml").write_text(
        f"hub:\n  station_id: cli-test\n  http:\n    host: 127.0.0.1\n    port: {port}\n"
    )
    process = start(tmp_path)
    try:
        wait_for_line(process, "running at")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=5) as response:
            assert response.status == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert (tmp_path / "station-hub.db").exists()


def test_run_refuses_a_broken_config_with_exit_code_2(tmp_path):
    (tmp_path / "configuration.yaml").write_text("hub:\n  http:\n    port: nope\n")
    result = subprocess.run(
        [sys.executable, "-m", "hub", "run", "-c", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 2
    assert "line 3" in result.stderr and "hub.http.port" in result.stderr
