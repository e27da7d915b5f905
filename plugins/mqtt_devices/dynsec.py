"""Talking to Mosquitto's dynamic security plugin over ``$CONTROL/dynamic-security/v1``.

The plugin is administered by publishing ``{"commands": [...]}`` and reading the answer
on ``.../response``; only a client in a role with the ``$CONTROL/dynamic-security/#``
rights (the ``admin`` role that ``mosquitto_ctrl dynsec init`` creates) is heard. Each
batch gets its own short connection with a clean session: identities are created rarely
(provisioning, start-up), and a separate client id keeps these exchanges out of the hub's
persistent session and its message router.
"""

from __future__ import annotations

import asyncio
import os
import ssl
from typing import Any

import aiomqtt
import orjson

from .config import BrokerAddress

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = f"{CONTROL_TOPIC}/response"
DEFAULT_TIMEOUT = 5.0


class DynsecError(RuntimeError):
    """The broker refused a command, or no dynamic security plugin answered."""


class DynsecUnavailable(DynsecError):
    """No answer on the control topic: no plugin, not an admin, or no broker at all."""


class DynsecUnreachable(DynsecUnavailable):
    """The admin connection itself failed (broker down, refused login): worth retrying."""


class DynsecAdmin:
    """Sends batches of dynamic security commands with an admin account's credentials."""

    def __init__(
        self,
        address: BrokerAddress,
        *,
        client_id_prefix: str = "station-hub-dynsec",
        tls_context: ssl.SSLContext | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.address = address
        self._prefix = client_id_prefix
        self._tls_context = tls_context
        self.timeout = timeout
        self._lock = asyncio.Lock()

    async def run(self, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Send ``commands`` as one batch; return the broker's answers in the same order.

        Answers carry ``error`` when a command failed (e.g. ``Client already exists``); it is
        the caller's business which of those are fine. Raises ``DynsecUnavailable`` when
        nothing answers within ``timeout`` seconds.
        """
        if not commands:
            return []
        answers = await self._run(commands, may_be_kicked=False)
        assert answers is not None
        return answers

    async def run_kicking_myself(self, commands: list[dict[str, Any]]) -> None:
        """Send commands that change the admin account itself, without waiting for answers.

        The plugin disconnects every client of an account whose roles change, this very
        connection included, and Mosquitto 2.0 then loses the answer; check the outcome
        with ``run`` on a new connection.
        """
        await self._run(commands, may_be_kicked=True)

    async def _run(
        self, commands: list[dict[str, Any]], *, may_be_kicked: bool
    ) -> list[dict[str, Any]] | None:
        marker = os.urandom(8).hex()
        batch = [
            {**command, "correlationData": f"{marker}-{index}"}
            for index, command in enumerate(commands)
        ]
        async with self._lock:
            try:
                async with asyncio.timeout(self.timeout):
                    if may_be_kicked:
                        await self._send_only(batch, marker)
                        return None
                    return await self._exchange(batch, marker)
            except TimeoutError:
                raise DynsecUnavailable(
                    f"no answer on {CONTROL_TOPIC} from {self.address.url} within "
                    f"{self.timeout:g} s: load mosquitto_dynamic_security.so in the broker and "
                    "give the hub's MQTT account the dynsec admin role"
                ) from None
            except aiomqtt.MqttError as error:
                raise DynsecUnreachable(
                    f"cannot log in to {self.address.url} as {self.address.username!r} for "
                    f"dynamic security commands: {error}"
                ) from error

    def _client(self, marker: str) -> aiomqtt.Client:
        return aiomqtt.Client(
            self.address.host,
            self.address.port,
            username=self.address.username,
            password=self.address.password,
            identifier=f"{self._prefix}-{marker}",
            tls_context=self._tls_context,
            clean_session=True,
        )

    async def _send_only(self, batch: list[dict[str, Any]], marker: str) -> None:
        # QoS 0: its PUBACK would be lost with the kick. TCP keeps the order, so the broker
        # reads the batch before this client's DISCONNECT.
        sent = False
        try:
            async with self._client(marker) as client:
                await client.publish(CONTROL_TOPIC, orjson.dumps({"commands": batch}), qos=0)
                sent = True
        except aiomqtt.MqttError:
            if not sent:
                raise

    async def _exchange(self, batch: list[dict[str, Any]], marker: str) -> list[dict[str, Any]]:
        async with self._client(marker) as client:
            granted = await client.subscribe(RESPONSE_TOPIC, qos=1)
            code = getattr(granted[0], "value", granted[0]) if granted else 0x80
            if isinstance(code, int) and code >= 0x80:
                raise DynsecUnavailable(
                    f"the broker at {self.address.url} refuses {RESPONSE_TOPIC} to "
                    f"{self.address.username!r}: give that account the dynsec admin role"
                )
            await client.publish(CONTROL_TOPIC, orjson.dumps({"commands": batch}), qos=1)
            answers: dict[str, dict[str, Any]] = {}
            async for message in client.messages:
                payload = message.payload if isinstance(message.payload, bytes) else b""
                try:
                    responses = orjson.loads(payload).get("responses", [])
                except (orjson.JSONDecodeError, AttributeError):
                    continue
                for response in responses:
                    tag = response.get("correlationData") if isinstance(response, dict) else None
                    if isinstance(tag, str) and tag.startswith(f"{marker}-"):
                        answers[tag] = response
                if len(answers) >= len(batch):
                    break
            return [answers[command["correlationData"]] for command in batch]


def failed(answer: dict[str, Any], *allowed: str) -> str | None:
    """The answer's error, unless it is one of ``allowed`` (e.g. "Role already exists")."""
    error = answer.get("error")
    if error is None or error in allowed:
        return None
    return str(error)
