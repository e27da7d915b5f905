"""The in-process amqtt broker used when the YAML says ``broker: embedded`` (or ``auto`` finds
no local broker), so a hub runs with nothing else installed.

It keeps sessions in memory only: it starts and stops with the hub, so the persistent
session that protects QoS 1 messages across hub restarts needs an external broker
(Mosquitto with config/mosquitto.conf).

It listens on loopback only. amqtt has no per-device accounts and ACLs like Mosquitto's
dynamic security plugin, so on a LAN any client could act as any device, read every
command and take the hub's client id; rather than re-implement those rules in amqtt
plugins, the hub refuses to offer it beyond the box (``EmbeddedBrokerError``). Devices on
the LAN need Mosquitto with config/mosquitto.conf.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import TYPE_CHECKING, Any

from hub.integrations import SetupError

if TYPE_CHECKING:
    from amqtt.broker import Broker

from .config import BrokerAddress

_LOGGER = logging.getLogger(__name__)


class EmbeddedBrokerError(SetupError):
    """The embedded broker could not start (typically: its port is taken)."""


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class EmbeddedBroker:
    def __init__(self, host: str, port: int) -> None:
        if not is_loopback(host):
            raise EmbeddedBrokerError(
                f"mqtt_devices.embedded.host is {host!r}, but the embedded broker has no "
                "per-device accounts and only listens on loopback (127.0.0.1): for devices on "
                "the LAN run Mosquitto with config/mosquitto.conf and set mqtt_devices.broker"
            )
        self.host = host
        self.port = port
        self._broker: Broker | None = None

    @property
    def address(self) -> BrokerAddress:
        # Clients reach a wildcard bind through loopback.
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return BrokerAddress(host, self.port)

    def _config(self) -> dict[str, Any]:
        return {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True},
            },
        }

    async def start(self) -> None:
        # amqtt logs every connection at INFO; the hub's own log says what matters.
        for name in ("amqtt", "transitions"):
            logging.getLogger(name).setLevel(logging.WARNING)
        # Imported here, not at module level: amqtt and its dependencies cost ~70 ms of
        # every start, and most stations use Mosquitto, never this broker.
        from amqtt.broker import Broker

        broker = Broker(self._config())
        amqtt_log = logging.getLogger("amqtt.broker")
        level = amqtt_log.level
        # amqtt logs its own traceback when it cannot listen; the error below says it in
        # one line with the fix, so silence the duplicate for the start only.
        amqtt_log.setLevel(logging.CRITICAL)
        try:
            await broker.start()
        except Exception as error:
            raise EmbeddedBrokerError(
                f"the embedded MQTT broker could not listen on {self.host}:{self.port} "
                f"({error}); set mqtt_devices.embedded.port to a free port, or point "
                "mqtt_devices.broker at a running broker"
            ) from error
        finally:
            amqtt_log.setLevel(level)
        self._broker = broker
        _LOGGER.info("Embedded MQTT broker listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        broker, self._broker = self._broker, None
        if broker is not None:
            try:
                await broker.shutdown()
            except Exception:
                _LOGGER.exception("The embedded MQTT broker did not shut down cleanly")
