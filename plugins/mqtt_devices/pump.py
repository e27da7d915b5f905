"""The pump: how a received MQTT message reaches the hub, and when the broker hears back.

The whole path of a device message, one hop per line::

    socket ─ paho parses the PUBLISH (aiomqtt drives paho's socket from the event loop;
             socket_buffer.py lets one wake-up read 64 KiB)
      → MessagePump.on_message        (here: paho's on_message callback, no queue, no task)
      → TopicRouter.deliver           (router.py: topic → handlers, holds back behind handshakes)
      → DeviceProtocol.on_state       (protocol.py: checks, parses)
      → DeviceRegistry.report_state   (hub/devices/registry.py: memory, then)
      → EventBus.fire / BatchWriter   (listeners; the history row and latest state, batched)

Acknowledgement is manual (paho's ``manual_ack``): a QoS 1 message is acknowledged only
when everything it caused is committed (``DeviceRegistry.when_durable``, one commit per
batch), so a crash at any moment loses nothing the broker let go of; what was committed
but not yet acknowledged comes again and is recognised (a state's or event's ``seq``).
Unacknowledged messages also make the backpressure: the broker sends at most its in-flight
window (``max_inflight_messages``, MQTT 5 Receive Maximum) before it waits for acks, so
when the database falls behind, the hub simply stops being sent messages and the broker
queues them. QoS 0 messages have no such brake; while history writes are far behind
(``DeviceRegistry.behind``) they are shed and counted.

aiomqtt 2 has no manual acknowledgement of its own (empicano/aiomqtt#345): ``attach`` sets
it, the message callback and the socket wrapper on the paho client aiomqtt wraps
(``Client._client``, and paho's ``_sock``); ``detach`` reads how a connection ended
(``Client._disconnected``). Those private reaches are here and nowhere else.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from typing import Any

import aiomqtt
import paho.mqtt.client as paho

from hub.registrar import MqttMessage

from .drops import DropCounter
from .router import TopicRouter
from .socket_buffer import chunked

_LOGGER = logging.getLogger(__name__)

# QoS 0 messages shed while the history writes are far behind.
DROP_SHED = "shed_history_behind"
DROP_UNREADABLE = "unreadable_message"
# Held acknowledgements count as "the database is behind" once none moved for this long.
BEHIND_AFTER = 1.0
WATCH_EVERY = 0.25
# The pause is counted every time but logged at most this often (a slow disk would
# otherwise fill the log with it).
LOG_PAUSE_EVERY = 60.0

Durable = Callable[[Callable[[], None]], None]


class AckSession:
    """The acknowledgements owed on one connection.

    Closed when the connection ends: a message id belongs to its connection, and the
    broker resends whatever was not acknowledged on the next one (which the registry
    recognises as a redelivery), so a late ack must not go out on a new connection.
    """

    __slots__ = ("_paho", "_pump", "open")

    def __init__(self, paho_client: paho.Client, pump: MessagePump) -> None:
        self._paho = paho_client
        self._pump = pump
        self.open = True

    def ack(self, mid: int, qos: int) -> None:
        pump = self._pump
        pump.unacked -= 1
        pump.acked += 1
        if self.open:
            self._paho.ack(mid, qos)


class MessagePump:
    """Takes each message from paho, hands it to the router, acks it once durable."""

    def __init__(
        self,
        router: TopicRouter,
        drops: DropCounter,
        *,
        durable: Durable,
        behind: Callable[[], bool],
    ) -> None:
        self._router = router
        self._drops = drops
        self._durable = durable
        self._behind = behind
        self._watch: asyncio.Task[None] | None = None
        self.unacked = 0
        self.acked = 0
        self.shed = 0
        # Episodes in which the hub held the broker back because history writes lagged.
        self.held = 0
        self._held_since: float | None = None
        self._logged_at: float | None = None

    # ---- wiring (connection.py) ----------------------------------------------------

    def attach(self, client: aiomqtt.Client) -> AckSession:
        """Before ``client`` connects: its messages come here and wait for durability."""
        paho_client: paho.Client = client._client  # private: aiomqtt#345
        paho_client.manual_ack_set(True)
        session = AckSession(paho_client, self)
        paho_client.on_message = functools.partial(self._on_message, session)
        # Read the stream in chunks (socket_buffer.py): paho stores the socket, then tells
        # aiomqtt, which starts reading it.
        aiomqtt_open = paho_client.on_socket_open

        def on_socket_open(client: paho.Client, userdata: Any, sock: Any) -> None:
            wrapped = client._sock = chunked(sock)  # private: paho reads self._sock
            if aiomqtt_open is not None:
                aiomqtt_open(client, userdata, wrapped)

        paho_client.on_socket_open = on_socket_open
        return session

    @staticmethod
    def detach(session: AckSession, client: aiomqtt.Client) -> None:
        """The connection ended: acks still owed on it are not sent anywhere, and how it
        ended is read.

        aiomqtt keeps an unexpected drop in a future that only its message iterator reads.
        A session that ends on another error first (a SUBSCRIBE or PUBLISH cut off by the
        broker during set-up, a dynsec role grant kicking the hub) leaves it unread, and
        Python logs "Future exception was never retrieved" with a traceback when the
        client is collected: noise in the operator's log for a drop already reported.
        """
        session.open = False
        ended: asyncio.Future[None] = client._disconnected  # private: aiomqtt has no public way
        if ended.done() and not ended.cancelled():
            ended.exception()

    def start(self, create_task: Callable[..., asyncio.Task[Any]]) -> None:
        self._watch = create_task(self._watch_acks(), name="mqtt-ack-watch")

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)
            self._watch = None

    def snapshot(self) -> dict[str, int]:
        return {"unacked": self.unacked, "acked": self.acked, "held": self.held, "shed": self.shed}

    # ---- the hop ---------------------------------------------------------------------

    def _on_message(
        self, session: AckSession, _client: paho.Client, _userdata: Any, message: paho.MQTTMessage
    ) -> None:
        """paho's ``on_message``: runs inside its read callback, on the event loop."""
        qos = message.qos
        done: Callable[[], None] | None = None
        if qos:
            self.unacked += 1
            done = functools.partial(session.ack, message.mid, qos)
        elif self._behind():
            self.shed += 1
            self._drops.drop(DROP_SHED, "", "QoS 0 message shed: history writes are behind")
            return
        try:
            # paho types payload bytes | bytearray (its outgoing messages may carry a
            # bytearray); a received one is always bytes (struct.unpack's "s"). No copy
            # or check on this per-message path.
            item = MqttMessage(
                message.topic,
                message.payload,  # type: ignore[arg-type]
                qos,
                message.retain,
            )
        except UnicodeDecodeError:
            self._drops.drop(DROP_UNREADABLE, "", "topic is not UTF-8")
            if done is not None:
                self._durable(done)
            return
        try:
            self._router.deliver(item, done)
        except Exception:
            # paho would re-raise into its read loop and drop the connection.
            _LOGGER.exception("Unexpected error while routing an MQTT message")

    # ---- telling that the broker is being held back ----------------------------------

    async def _watch_acks(self) -> None:
        last_acked = self.acked
        last_moved = time.monotonic()
        while True:
            await asyncio.sleep(WATCH_EVERY)
            now = time.monotonic()
            if self.acked != last_acked or not self.unacked:
                last_acked = self.acked
                last_moved = now
                if self._held_since is not None:
                    _LOGGER.info(
                        "MQTT intake resumed: history writes caught up after %.1f s",
                        now - self._held_since,
                    )
                    self._held_since = None
            elif self._held_since is None and now - last_moved >= BEHIND_AFTER:
                self._held_since = last_moved
                self.held += 1
                if self._logged_at is not None and now - self._logged_at < LOG_PAUSE_EVERY:
                    continue
                self._logged_at = now
                _LOGGER.warning(
                    "MQTT intake paused: history writes are behind, %d device messages wait "
                    "for their commit and the broker queues the rest (nothing is dropped)",
                    self.unacked,
                )
