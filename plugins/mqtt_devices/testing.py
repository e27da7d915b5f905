"""Mosquitto with config/mosquitto.conf as shipped, moved to a scratch place (tests, bench).

Only what ties the shipped file to a real installation is rewritten: the listener (a free
loopback port), the logins (anonymous on loopback; with ``dynsec=True`` the dynamic
security plugin with a fresh admin, as ``MosquittoBroker`` makes it), the persistence
directory and the log destination. Every queue and in-flight setting is used exactly as
shipped, which is what the zero-loss check is about. ``defaults=True`` drops those
settings instead, to show what Mosquitto's defaults do to a burst.
"""

from __future__ import annotations

import os
from pathlib import Path

from hub.testing.mosquitto import MosquittoBroker

# Only in a source checkout: the recommended config ships beside the code, not in the wheel.
RECOMMENDED = Path(__file__).resolve().parents[2] / "config" / "mosquitto.conf"
REWRITTEN = (
    "listener",
    "allow_anonymous",
    "password_file",
    "plugin",
    "persistence_location",
    "log_",
)
QUEUE_SETTINGS = ("max_queued_messages", "max_queued_bytes", "max_inflight_messages")


def shipped_settings(*, defaults: bool = False) -> str:
    lines = []
    for line in RECOMMENDED.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped.startswith(REWRITTEN):
            continue
        if defaults and stripped.startswith(QUEUE_SETTINGS):
            continue
        lines.append(stripped)
    return "\n".join(lines)


class RecommendedMosquitto(MosquittoBroker):
    """A MosquittoBroker whose config is the shipped one instead of the test defaults."""

    def __init__(self, data_dir: Path, *, defaults: bool = False, dynsec: bool = False) -> None:
        super().__init__(data_dir, dynsec=dynsec)
        self.defaults = defaults

    def _write_config(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "mosquitto.conf"
        user = ["user root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
        config.write_text(
            "\n".join(
                [
                    shipped_settings(defaults=self.defaults),
                    f"listener {self.port} 127.0.0.1",
                    *self._dynsec_config(),
                    f"persistence_location {self.data_dir}/",
                    *user,
                    "log_dest stderr",
                    "log_type error",
                    "log_type warning",
                    "log_type notice",
                    "log_type information",
                    "",
                ]
            )
        )
        return config
