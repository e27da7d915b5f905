"""What the operator reads: the real ``station-hub`` process, its output and exit codes."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import termios
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.console import http_urls
from hub.testing import free_port
from hub.testing.process import wait_for_output

ROOT = Path(__file__).parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def hub_command(*args: str, timeout: float = 60, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hub", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=kwargs.pop("env", ENV),
        **kwargs,
    )


def write(config_dir: Path, text: str) -> Path:
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "configuration.yaml").write_text(text)
    return config_dir


def hub_yaml(port: int, extra: str = "") -> str:
    return f"hub:\n  station_id: console\n  http:\n    host: 127.0.0.1\n    port: {port}\n{extra}"


@contextlib.contextmanager
def running_hub(config: Path, *options: str) -> Iterator[tuple[subprocess.Popen, str]]:
    """``station-hub run`` until it says it runs; yields it with everything printed so
    far, then stops it with SIGTERM and checks it exits cleanly."""
    process = subprocess.Popen(
        [sys.executable, "-m", "hub", "run", "-c", str(config), *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=ENV,
    )
    assert process.stdout is not None  # stdout=PIPE
    try:
        found, output = wait_for_output(process.stdout, "running at", 60)
        assert found, output
        yield process, output
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()


def get_json(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_bad_key_inside_an_integration_is_printed_and_the_rest_start_degraded(tmp_path):
    port = free_port()
    config = write(tmp_path, hub_yaml(port, "auth: {}\nmqtt_devices:\n  brokr: auto\n"))
    with running_hub(config) as (process, output):
        error_lines = [line for line in output.splitlines() if " ERROR " in line]
        assert any(
            "mqtt_devices" in line and "configuration.yaml" in line and "line 8" in line
            for line in error_lines
        ), output
        assert "brokr" in output
        assert "Traceback" not in output
        # While no user exists, the summary says how to create the owner.
        assert "No user yet" in output and "station-hub user add NAME --role owner" in output
        # The summary names each integration's state.
        assert "mqtt_devices" in output and "failed" in output
        assert "auth " in output and "running" in output
        status, body = get_json(f"http://127.0.0.1:{port}/api/health")
        assert status == 200 and body["status"] == "degraded"
        status, body = get_json(f"http://127.0.0.1:{port}/api/health/ready")
        assert status == 503 and body == {"status": "degraded", "ready": False}
        assert get_json(f"http://127.0.0.1:{port}/api/health/live")[0] == 200
    assert process.stdout is not None
    assert "stopped in" in process.stdout.read().decode()


@pytest.mark.parametrize("how", ["flag", "yaml"])
def test_strict_refuses_to_start_with_exit_code_2(tmp_path, how):
    port = free_port()
    strict = "  strict: true\n" if how == "yaml" else ""
    text = hub_yaml(port).replace("hub:\n", "hub:\n" + strict) + "mqtt_devices:\n  brokr: auto\n"
    config = write(tmp_path, text)
    args = ["run", "-c", str(config)] + (["--strict"] if how == "flag" else [])
    result = hub_command(*args)
    assert result.returncode == 2, result.stderr
    assert "brokr" in result.stderr and "configuration.yaml" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_without_a_configuration_says_what_to_do(tmp_path):
    result = hub_command("run", "-c", str(tmp_path / "nowhere"))
    assert result.returncode == 2
    assert "station-hub init" in result.stderr and "-c DIR" in result.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    result = hub_command("run", "-c", str(empty))
    assert result.returncode == 2
    assert f"No configuration.yaml in {empty}" in result.stderr


def test_init_writes_a_configuration_that_checks_and_never_overwrites(tmp_path):
    target = tmp_path / "site"
    result = hub_command("init", str(target))
    assert result.returncode == 0, result.stderr
    assert (target / "configuration.yaml").read_text().startswith("# Station Hub configuration")
    assert (target / "secrets.yaml").stat().st_mode & 0o777 == 0o600
    assert hub_command("check-config", "-c", str(target)).returncode == 0
    (target / "configuration.yaml").write_text("hub: {}\n")
    again = hub_command("init", str(target))
    assert again.returncode == 1 and "already exists" in again.stderr
    assert (target / "configuration.yaml").read_text() == "hub: {}\n"


def test_the_packaged_default_is_the_shipped_one():
    packaged = ROOT / "hub" / "default_config" / "configuration.yaml"
    assert packaged.read_text() == (ROOT / "config" / "configuration.yaml").read_text()


def test_a_port_in_use_is_one_line_naming_the_port_and_the_fix(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = hub_command("run", "-c", str(write(tmp_path, hub_yaml(port))))
    assert result.returncode == 1
    assert f"port {port} is already in use on 127.0.0.1:{port}" in result.stderr
    assert "--port" in result.stderr
    assert "Traceback" not in result.stderr


def test_port_flag_wins_over_the_yaml(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yaml_port = taken.getsockname()[1]
        flag_port = free_port()
        config = write(tmp_path, hub_yaml(yaml_port))
        with running_hub(config, "--port", str(flag_port)) as (_process, output):
            assert f"http://127.0.0.1:{flag_port}" in output
            ready = get_json(f"http://127.0.0.1:{flag_port}/api/health/ready")
            assert ready == (200, {"status": "ok", "ready": True})


def at_a_terminal(args: list[str]) -> tuple[subprocess.Popen, int]:
    """Run the command on a new pseudo-terminal, as its controlling terminal: the way a
    person at a console runs it, so getpass prompts and Ctrl-C / Ctrl-D mean what they do
    there. Returns the process and the terminal's master side."""
    master, slave = os.openpty()

    def take_terminal() -> None:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    process = subprocess.Popen(
        [sys.executable, "-m", "hub", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
        preexec_fn=take_terminal,
        env=ENV,
    )
    os.close(slave)
    return process, master


def read_terminal(master: int, marker: str, timeout: float = 60) -> str:
    with os.fdopen(os.dup(master), "rb", buffering=0) as stream:
        found, output = wait_for_output(stream, marker, timeout)
    assert found, output
    return output


@pytest.mark.parametrize(("key", "code"), [(b"\x03", 130), (b"\x04", 1)])
def test_ctrl_c_or_ctrl_d_at_a_password_prompt_ends_quietly(tmp_path, key, code):
    config = write(tmp_path, "hub:\n  station_id: console\nauth: {}\n")
    process, master = at_a_terminal(
        ["user", "add", "someone", "--role", "owner", "-c", str(config)]
    )
    try:
        read_terminal(master, "Password: ")
        os.write(master, key)
        assert process.wait(timeout=20) == code
        with contextlib.suppress(OSError):  # EIO once the child closed the terminal
            rest = os.read(master, 65536).decode(errors="replace")
            assert "Traceback" not in rest, rest
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()


def test_top_level_help_says_what_the_program_is():
    result = hub_command("--help")
    assert result.returncode == 0
    assert "IoT station" in result.stdout and "station-hub init" in result.stdout


def test_every_interface_is_listed_by_address():
    assert http_urls("0.0.0.0", 8123, ["127.0.0.1", "192.168.1.5"]) == [
        "http://127.0.0.1:8123",
        "http://192.168.1.5:8123",
    ]
    assert http_urls("127.0.0.1", 9) == ["http://127.0.0.1:9"]
    assert http_urls("::1", 9) == ["http://[::1]:9"]


async def test_log_level_precedence_yaml_then_environment_then_default(hub_factory, monkeypatch):
    monkeypatch.setenv("HUB_LOG_LEVEL", "warning")
    await hub_factory({"hub": {"station_id": "levels"}})
    assert logging.getLogger().level == logging.WARNING
    await hub_factory({"hub": {"station_id": "levels", "log_level": "error"}})
    assert logging.getLogger().level == logging.ERROR
    monkeypatch.delenv("HUB_LOG_LEVEL")
    await hub_factory({"hub": {"station_id": "levels"}})
    assert logging.getLogger().level == logging.INFO
    # Library chatter stays below the station's own lines.
    assert logging.getLogger("alembic").level == logging.WARNING


def test_unknown_keys_and_integrations_get_a_did_you_mean(tmp_path):
    config = write(tmp_path / "a", "hub: {}\nmqtt_devices:\n  brokr: auto\n")
    result = hub_command("check-config", "-c", str(config))
    assert result.returncode == 1
    assert "unknown key 'brokr' (did you mean 'broker'?)" in result.stderr
    assert "valid keys:" in result.stderr and "local_broker" in result.stderr
    assert "line 3" in result.stderr
    config = write(tmp_path / "b", "hub:\n  htp: {}\nmqtt_device: {}\n")
    result = hub_command("check-config", "-c", str(config))
    assert "unknown key 'mqtt_device' (did you mean 'mqtt_devices'?)" in result.stderr
    config = write(tmp_path / "c", "hub:\n  htp: {}\n")
    result = hub_command("check-config", "-c", str(config))
    assert "unknown key 'htp' (did you mean 'http'?)" in result.stderr


def test_the_embedded_brokers_port_in_use_is_one_line_and_the_rest_run(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        mqtt_port = taken.getsockname()[1]
        extra = f"mqtt_devices:\n  broker: embedded\n  embedded:\n    port: {mqtt_port}\n"
        config = write(tmp_path, hub_yaml(free_port(), extra))
        with running_hub(config) as (_process, output):
            errors = [line for line in output.splitlines() if " ERROR " in line]
            assert any(
                f"127.0.0.1:{mqtt_port}" in line and "mqtt_devices.embedded.port" in line
                for line in errors
            ), output
            assert "Traceback" not in output


async def test_ready_is_503_starting_while_an_integration_sets_up(tmp_path):
    """The HTTP server answers before set-up ends: a probe then hears starting, not ok."""
    import types

    import aiohttp

    from hub.core import Hub
    from hub.hookspecs import hookimpl
    from hub.testing.pytest_plugin import write_config

    entered = asyncio.Event()
    blocked = types.ModuleType("blocked_setup")

    @hookimpl
    def hub_setup(hub, config):
        entered.set()
        return asyncio.Event().wait()

    blocked.hub_setup = hub_setup  # type: ignore[attr-defined]  # a module built at runtime
    port = free_port()
    write_config(
        tmp_path,
        {"hub": {"http": {"host": "127.0.0.1", "port": port}}, "blocked_setup": {}},
    )
    hub = Hub(tmp_path, extra_integrations={"blocked_setup": blocked})
    starting = asyncio.ensure_future(hub.start())
    try:
        await asyncio.wait_for(entered.wait(), 20)
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}/api/health/ready") as response,
        ):
            assert response.status == 503
            assert await response.json() == {"status": "starting", "ready": False}
    finally:
        starting.cancel()
        await asyncio.gather(starting, return_exceptions=True)
        await hub.stop()
