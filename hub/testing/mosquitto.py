"""A real Mosquitto broker process on a free loopback port, for tests and benchmarks.

``MosquittoBroker(..., dynsec=True)`` loads Mosquitto's dynamic security plugin with a
fresh configuration made offline by ``mosquitto_ctrl dynsec init`` (one admin client,
``admin_username``/``admin_password``) and turns anonymous logins off, as
config/mosquitto.conf does.
"""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
import shutil
import socket
import subprocess
from pathlib import Path

from hub.testing.process import wait_for_output

READY_MARKER = " running"
START_TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def find_mosquitto() -> str:
    found = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None
    )
    if found is None:
        raise RuntimeError(
            "mosquitto is not installed; the test command installs it (apt-get install mosquitto)"
        )
    return found


# Where distributions install the plugin (Debian: the mosquitto package, multiarch dir).
DYNSEC_PLUGIN_GLOBS = (
    "/usr/lib/*/mosquitto_dynamic_security.so",
    "/usr/lib/mosquitto_dynamic_security.so",
    "/usr/local/lib/mosquitto_dynamic_security.so",
    "/usr/lib/mosquitto/mosquitto_dynamic_security.so",
)


def find_dynsec_plugin() -> str | None:
    """The path of ``mosquitto_dynamic_security.so``, or None when it is not installed."""
    for pattern in DYNSEC_PLUGIN_GLOBS:
        found = sorted(glob.glob(pattern))
        if found:
            return found[0]
    return None


def dynsec_missing() -> str | None:
    """Why a dynsec broker cannot run here (a skip reason), or None when it can."""
    if find_dynsec_plugin() is None:
        return "mosquitto_dynamic_security.so is not installed (apt-get install mosquitto)"
    if shutil.which("mosquitto_ctrl") is None:
        return "mosquitto_ctrl is not installed (apt-get install mosquitto-clients)"
    try:
        find_mosquitto()
    except RuntimeError as error:
        return str(error)
    return None


class MosquittoBroker:
    """Starts ``mosquitto`` with persistence in ``data_dir``; ``restart`` keeps the port."""

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        extra_config: str = "",
        dynsec: bool = False,
        admin_username: str = "hub",
    ) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.extra_config = extra_config
        self.dynsec = dynsec
        self.admin_username = admin_username
        # Hex, not token_urlsafe: a password that starts with "-" is read as an option by
        # the command lines it is passed to (`station-hub simulate --password`,
        # mosquitto_ctrl), which failed one test run in 64.
        self.admin_password = secrets.token_hex(16)
        self._process: subprocess.Popen[str] | None = None

    @property
    def admin_url(self) -> str:
        """The broker URL with the dynsec admin's credentials in it."""
        return f"mqtt://{self.admin_username}:{self.admin_password}@{self.host}:{self.port}"

    def _dynsec_config(self) -> list[str]:
        """Plugin lines; the JSON file is made once (offline) and kept across restarts."""
        if not self.dynsec:
            return ["allow_anonymous true"]
        plugin = find_dynsec_plugin()
        if plugin is None:
            raise RuntimeError(dynsec_missing() or "the dynamic security plugin is missing")
        state = self.data_dir / "dynamic-security.json"
        if not state.exists():
            subprocess.run(
                [
                    "mosquitto_ctrl",
                    "dynsec",
                    "init",
                    str(state),
                    self.admin_username,
                    self.admin_password,
                ],
                check=True,
                capture_output=True,
            )
        return [
            "allow_anonymous false",
            f"plugin {plugin}",
            f"plugin_opt_config_file {state}",
        ]

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def _write_config(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "mosquitto.conf"
        config.write_text(
            "\n".join(
                [
                    f"listener {self.port} 127.0.0.1",
                    *self._dynsec_config(),
                    "persistence true",
                    f"persistence_location {self.data_dir}/",
                    "autosave_interval 1",
                    "max_queued_messages 0",
                    "max_inflight_messages 0",
                    "log_dest stderr",
                    "log_type error",
                    "log_type warning",
                    "log_type notice",
                    "log_type information",
                    # Started as root, mosquitto drops to the "mosquitto" user, which cannot
                    # write the temporary persistence directory: sessions would be lost.
                    "user root" if hasattr(os, "geteuid") and os.geteuid() == 0 else "",
                    self.extra_config,
                    "",
                ]
            )
        )
        return config

    def start(self) -> None:
        config = self._write_config()
        self._process = subprocess.Popen(
            [find_mosquitto(), "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        """Block until mosquitto logs that it is running (an event, not a guess)."""
        assert self._process is not None and self._process.stderr is not None
        found, output = wait_for_output(self._process.stderr, READY_MARKER, START_TIMEOUT)
        if found:
            # Keep draining stderr so the broker never blocks on a full pipe.
            self._drain_in_background()
            return
        self.stop()
        raise RuntimeError("mosquitto did not start: " + output[-500:])

    def _drain_in_background(self) -> None:
        import threading

        stream = self._process.stderr if self._process else None
        if stream is None:
            return

        def drain() -> None:
            with contextlib.suppress(ValueError, OSError):
                for _line in stream:
                    pass

        threading.Thread(target=drain, daemon=True).start()

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=10)
        self._process = None

    def kill(self) -> None:
        """Stop abruptly, as a crash would."""
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=10)
            self._process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None
