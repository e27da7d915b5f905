"""The hub's one connection to the broker, kept up for as long as the hub runs.

Each session: connect with a stable client id and a persistent session (so QoS 1 messages
published while the hub was away are waiting for it), unsubscribe the filters the session
still holds but nobody registers any more (session_record.py), subscribe to every
registered topic, announce ``online`` (retained; the will says ``offline``), then wait for
the connection to drop or the hub to stop. A drop leads to a new attempt after a backoff
with jitter.

Received messages do not pass through here: before each connection ``MessagePump.attach``
(pump.py) takes paho's message callback and acknowledgements, and from there every message
goes to the router. Sessions that the broker ends right after they start, again and again,
mean another client uses the same client id (two hubs with one station id): that is said
once, as an error with the fix (takeover.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from hub.backoff import Backoff, BackoffPolicy

from .config import BrokerAddress, TlsOptions
from .const import HUB_OFFLINE, HUB_ONLINE
from .pump import MessagePump
from .session_record import SessionRecord
from .takeover import TakeoverDetector

_LOGGER = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0
STATUS_TIMEOUT = 3.0
SUBSCRIBE_FAILED = 0x80
PENDING_PUBLISH_WARNING = 1000
# The SUBACK and the PUBACK of "online" come after whatever backlog the broker sent first
# (Mosquitto 2.0 was seen sending ~30 000 queued messages ahead of them); the hub handles
# that backlog meanwhile, so waiting for them must outlast it.
SESSION_SETUP_TIMEOUT = 300.0
# Rounds of catching up with registrations changed during a session's set-up.
CATCH_UP_ROUNDS = 10
# MQTT 5: how many unacknowledged QoS 1 messages the broker may send us (Receive Maximum).
# Acks wait for the batch commit, so this is the batch size's ceiling; it matches
# max_inflight_messages in config/mosquitto.conf, which is what 3.1.1 sessions get.
RECEIVE_MAXIMUM = 1000

# Connection states shown at /api/health.
IDLE = "idle"
CONNECTING = "connecting"
CONNECTED = "connected"
BACKOFF = "backoff"
STOPPED = "stopped"


class NotConnectedError(ConnectionError):
    """Raised by ``publish`` while there is no session with the broker."""


def tls_context(options: TlsOptions) -> ssl.SSLContext:
    """A client TLS context; ``insecure`` turns off certificate and hostname checks."""
    context = ssl.create_default_context(cafile=options.ca)
    if options.cert:
        context.load_cert_chain(options.cert, options.key)
    if options.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class MqttConnection:
    def __init__(
        self,
        address: BrokerAddress,
        *,
        client_id: str,
        status_topic: str,
        subscriptions: Callable[[], list[tuple[str, int]]],
        pump: MessagePump,
        station_id: str | None = None,
        reconnect: BackoffPolicy,
        keepalive: int = 30,
        protocol: int = 4,
        session_expiry: int = 7 * 24 * 3600,
        tls: TlsOptions | None = None,
        on_change: Callable[[bool, str | None], None] | None = None,
        before_session: Callable[[], Awaitable[None]] | None = None,
        record: SessionRecord | None = None,
    ) -> None:
        self.address = address
        self.client_id = client_id
        self.status_topic = status_topic
        self._subscriptions = subscriptions
        self._pump = pump
        self._takeover = TakeoverDetector(client_id, station_id)
        self._backoff = Backoff(reconnect)
        self._keepalive = keepalive
        self._protocol = protocol
        self._session_expiry = session_expiry
        self._tls = tls or TlsOptions()
        self._on_change = on_change
        # Runs before each connection attempt (the broker's roles for the hub, which must
        # exist before it publishes); it must not raise.
        self._before_session = before_session
        # What the broker's session may hold, remembered across sessions and restarts.
        self._record = record
        self._tls_context: ssl.SSLContext | None = None
        self._client: aiomqtt.Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.connected = asyncio.Event()
        # Set once the first attempt has either connected or failed.
        self.first_attempt_done = asyncio.Event()
        self._sessions_changed = asyncio.Condition()
        self.state = IDLE
        self.connects = 0
        self.last_error: str | None = None
        self.retry_at: float | None = None

    # ---- lifecycle -------------------------------------------------------------------

    def start(self, create_task: Callable[..., asyncio.Task[Any]]) -> None:
        if self.address.tls:
            self._tls_context = tls_context(self._tls)
        self._task = create_task(self._run(), name="mqtt-connection")

    async def stop(self) -> None:
        """Say ``offline``, disconnect cleanly (the will is not sent), and stop retrying."""
        self._stopping.set()
        task, self._task = self._task, None
        if task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), CONNECT_TIMEOUT + STATUS_TIMEOUT)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.state = STOPPED

    # ---- use -------------------------------------------------------------------------

    async def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 1,
        retain: bool = False,
        ack_within: float = 5.0,
    ) -> None:
        """Publish and wait (at most ``ack_within`` s) until the broker has the message."""
        client = self._client
        if client is None or not self.connected.is_set():
            detail = f"; last error: {self.last_error}" if self.last_error else ""
            raise NotConnectedError(f"not connected to the MQTT broker ({self.state}{detail})")
        await client.publish(topic, payload, qos=qos, retain=retain, timeout=ack_within)

    async def subscribe(self, pattern: str, qos: int) -> None:
        """Subscribe now if connected; every new session subscribes to all topics anyway."""
        client = self._client
        if client is None or not self.connected.is_set():
            return
        await self._subscribe_one(client, pattern, qos)

    async def unsubscribe(self, pattern: str) -> None:
        """Unsubscribe now if connected; otherwise the filter stays remembered and the next
        session unsubscribes it (and never subscribes it again: it reads the registered
        ones afresh)."""
        client = self._client
        if client is None or not self.connected.is_set():
            return
        await self._unsubscribe_one(client, pattern)

    async def _subscribe_one(self, client: aiomqtt.Client, pattern: str, qos: int) -> None:
        if self._record is not None:
            await self._record.subscribing(pattern)
        try:
            options = self._options(qos)
            if isinstance(options, SubscribeOptions):
                await client.subscribe(pattern, options=options)
            else:
                await client.subscribe(pattern, qos=qos)
        except aiomqtt.MqttError as error:
            _LOGGER.warning(
                "Could not subscribe to %s (%s); will retry on reconnect", pattern, error
            )

    async def _unsubscribe_one(self, client: aiomqtt.Client, pattern: str) -> None:
        try:
            await client.unsubscribe(pattern)
        except aiomqtt.MqttError as error:
            # Still remembered: the next session unsubscribes it.
            _LOGGER.info("Could not unsubscribe from %s (%s)", pattern, error)
            return
        # Registered again meanwhile: its SUBSCRIBE may follow, so it stays remembered.
        registered = {name for name, _qos in self._subscriptions()}
        if self._record is not None and pattern not in registered:
            await self._record.unsubscribed(pattern)

    async def wait_for_session(self, number: int) -> None:
        """Return once the ``number``-th session is up (1 = the first connection)."""
        async with self._sessions_changed:
            await self._sessions_changed.wait_for(
                lambda: self.connects >= number and self.connected.is_set()
            )

    def snapshot(self) -> dict[str, Any]:
        retry_in = None
        if self.state == BACKOFF and self.retry_at is not None:
            retry_in = round(max(0.0, self.retry_at - time.monotonic()), 3)
        return {
            "state": self.state,
            "broker": self.address.url,
            "clientId": self.client_id,
            "connects": self.connects,
            "lastError": self.last_error,
            "nextRetryIn": retry_in,
        }

    # ---- the session loop --------------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopping.is_set():
            self.state = CONNECTING
            connected_at: float | None = None
            try:
                if self._before_session is not None:
                    await self._before_session()
                client = self._new_client()
                session = self._pump.attach(client)
                try:
                    async with client:
                        connected_at = loop.time()
                        self._client = client
                        await self._session(client)
                finally:
                    self._pump.detach(session, client)
            except aiomqtt.MqttError as error:
                lasted = None if connected_at is None else loop.time() - connected_at
                self._takeover.session_ended(error, lasted)
                self._lost(str(error) or type(error).__name__)
            except Exception as error:
                _LOGGER.exception("MQTT connection failed unexpectedly")
                self._lost(f"{type(error).__name__}: {error}")
            finally:
                self._client = None
                self.connected.clear()
            if self._stopping.is_set():
                break
            if connected_at is not None:
                self._backoff.connection_ended(loop.time() - connected_at)
            delay = self._backoff.next_delay()
            self.state = BACKOFF
            self.retry_at = time.monotonic() + delay
            _LOGGER.info("Reconnecting to the MQTT broker %s in %.1f s", self.address.url, delay)
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for drops a cancellation
            # that arrives as the wait ends, and the loop would reconnect.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._stopping.wait()
        self.state = STOPPED

    async def _session(self, client: aiomqtt.Client) -> None:
        self.connects += 1
        # A resumed session may deliver a long backlog before our SUBACK comes back; those
        # messages are handled as they arrive, so the attempt has succeeded already.
        self.first_attempt_done.set()
        subscribed = await self._subscribe_all(client)
        await client.publish(
            self.status_topic, HUB_ONLINE, qos=1, retain=True, timeout=SESSION_SETUP_TIMEOUT
        )
        await self._catch_up(client, subscribed)
        # No await since _catch_up's last look: from here on the registrations observer
        # subscribes and unsubscribes live, so no change falls between the two.
        self.state = CONNECTED
        self.last_error = None
        self.connected.set()
        _LOGGER.info("Connected to the MQTT broker %s as %s", self.address.url, self.client_id)
        if self._on_change is not None:
            self._on_change(True, None)
        async with self._sessions_changed:
            self._sessions_changed.notify_all()
        await self._until_lost_or_stopped(client)

    async def _catch_up(self, client: aiomqtt.Client, subscribed: list[tuple[str, int]]) -> None:
        """Apply what was registered or withdrawn while the session was being set up.

        The observer leaves those to the session (it is not connected yet), and they do
        happen: integrations set up after mqtt_devices run while its first session
        subscribes, and one that fails withdraws its topics. Each round looks again, since
        the broker's answers let other set-ups run; changes come only from integrations'
        set-up, so a few rounds settle it (bounded all the same).
        """
        held = {pattern for pattern, _qos in subscribed}
        for _ in range(CATCH_UP_ROUNDS):
            current = self._subscriptions()
            added = [(pattern, qos) for pattern, qos in current if pattern not in held]
            withdrawn = held - {pattern for pattern, _qos in current}
            if not added and not withdrawn:
                return
            for pattern, qos in added:
                await self._subscribe_one(client, pattern, qos)
            for pattern in sorted(withdrawn):
                await self._unsubscribe_one(client, pattern)
            held = {pattern for pattern, _qos in current}
        _LOGGER.warning(
            "Topic registrations kept changing while the MQTT session was set up; the "
            "last changes reach the broker with the next session"
        )

    def _options(self, qos: int) -> int | SubscribeOptions:
        """MQTT 5: "retain as published", so a retained publish is recognisable as one even
        when it is delivered live (3.1.1 clears the flag; only replays carry it)."""
        if self._protocol == 5:
            return _retain_as_published(qos)
        return qos

    async def _subscribe_all(self, client: aiomqtt.Client) -> list[tuple[str, int]]:
        """Subscribe to every registered filter; returns the filters subscribed."""
        filters = self._subscriptions()
        if self._record is not None:
            registered = [pattern for pattern, _qos in filters]
            await self._record.prepare(client, registered, SESSION_SETUP_TIMEOUT)
        if not filters:
            return filters
        # All options or all QoS numbers (_options depends only on the protocol): aiomqtt
        # takes a list of one kind or the other, not a mix.
        topics: list[tuple[str, SubscribeOptions]] | list[tuple[str, int]]
        if self._protocol == 5:
            topics = [(pattern, _retain_as_published(qos)) for pattern, qos in filters]
        else:
            topics = [(pattern, qos) for pattern, qos in filters]
        granted = await client.subscribe(topics, timeout=SESSION_SETUP_TIMEOUT)
        for (pattern, _qos), code in zip(filters, granted, strict=False):
            value = getattr(code, "value", code)
            if isinstance(value, int) and value >= SUBSCRIBE_FAILED:
                _LOGGER.error(
                    "The broker refused the subscription to %s (code %s); check its ACL",
                    pattern,
                    code,
                )
        return filters

    async def _until_lost_or_stopped(self, client: aiomqtt.Client) -> None:
        lost = asyncio.ensure_future(_connection_lost(client))
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({lost, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if not lost.done():
                lost.cancel()
                with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                    await lost
        if lost.done() and not lost.cancelled():
            lost.result()
            return
        # A clean DISCONNECT suppresses the will, so say offline ourselves first.
        try:
            await client.publish(
                self.status_topic, HUB_OFFLINE, qos=1, retain=True, timeout=STATUS_TIMEOUT
            )
        except aiomqtt.MqttError as error:
            _LOGGER.warning("Could not publish the hub's offline status: %s", error)

    def _lost(self, reason: str) -> None:
        self.last_error = reason
        self.first_attempt_done.set()
        if self._stopping.is_set():
            return
        _LOGGER.warning("MQTT broker %s: %s", self.address.url, reason)
        if self._on_change is not None:
            self._on_change(False, reason)

    def _new_client(self) -> aiomqtt.Client:
        # Nagle stays on (paho's default): at ingest rates it merges our PUBACKs into few
        # TCP segments; TCP_NODELAY was measured to cost ~40 us of CPU per message.
        options: dict[str, Any] = {
            "hostname": self.address.host,
            "port": self.address.port,
            "username": self.address.username,
            "password": self.address.password,
            "identifier": self.client_id,
            "keepalive": self._keepalive,
            "timeout": CONNECT_TIMEOUT,
            "will": aiomqtt.Will(self.status_topic, HUB_OFFLINE, qos=1, retain=True),
            "tls_context": self._tls_context,
        }
        if self._protocol == 5:
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = self._session_expiry
            properties.ReceiveMaximum = RECEIVE_MAXIMUM
            options.update(protocol=aiomqtt.ProtocolVersion.V5, clean_start=False)
            options["properties"] = properties
        else:
            options.update(protocol=aiomqtt.ProtocolVersion.V311, clean_session=False)
        client = aiomqtt.Client(**options)
        # aiomqtt warns past 10 concurrent publishes; a burst of handshake acks or commands
        # is normal here, and each publish is bounded by its own timeout.
        client.pending_calls_threshold = PENDING_PUBLISH_WARNING
        return client


def _retain_as_published(qos: int) -> SubscribeOptions:
    return SubscribeOptions(qos=qos, retainAsPublished=True)


def _connection_lost(client: aiomqtt.Client) -> Coroutine[Any, Any, aiomqtt.Message]:
    """Raises MqttError once the connection is lost.

    aiomqtt's message iterator wakes when a message is queued or the connection drops;
    the pump takes every message before aiomqtt sees it, so only the drop is left.
    """
    # What anext(aiter(client.messages)) returns (its __aiter__ returns itself), typed as the
    # coroutine its async __anext__ makes.
    return client.messages.__anext__()
