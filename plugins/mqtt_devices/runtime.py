"""Everything the integration runs for one hub, wired together.

Built in ``hub_register`` (so the device-topic handlers and the ``mqtt`` transport are
registered like any other integration's), started in ``hub_setup``: choose the broker
(external, the local one, or the embedded one), keep one connection to it, and (with
``device_identities: dynsec``) prepare the broker's roles for per-device accounts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from aiohttp import web

from hub import integrations
from hub.auth import requires
from hub.http.json import json_response
from hub.registrar import TopicSubscription

from .accounts import DeviceAccounts
from .config import AUTO, EMBEDDED, BrokerAddress, MqttSettings
from .connection import MqttConnection
from .const import DOMAIN, TRANSPORT
from .drops import DropCounter, printable
from .embedded_broker import EmbeddedBroker
from .identities import DeviceCredentials
from .probe import broker_answers
from .protocol import DeviceProtocol
from .pump import MessagePump
from .router import TopicRouter
from .session_filters import SessionFilters
from .session_record import SessionRecord
from .topics import hub_status_topic
from .transport import MqttCommandTransport

if TYPE_CHECKING:
    from hub.core import Hub
    from hub.registrar import Registrar

_LOGGER = logging.getLogger(__name__)

# hub_setup waits (at most this long) for the first connection attempt, so a hub that starts
# next to a healthy broker is subscribed when start() returns; a broker that refuses or does
# not answer does not hold it up.
FIRST_CONNECT_WAIT = 3.0
STOP_DRAIN_TIMEOUT = 15.0
MAX_PENDING_SENDS = 1000
CLEAR_WAIT = 10.0


class MqttDevicesRuntime:
    def __init__(self, hub: Hub, settings: MqttSettings) -> None:
        self._hub = hub
        self.settings = settings
        self.station_id = hub.station_id
        self.client_id = settings.client_id or f"station-hub-{hub.station_id}"
        self.drops = DropCounter()
        self.router = TopicRouter(
            hub.registrations.topics,
            self.drops,
            handler_timeout=settings.handler_timeout,
            durable=hub.devices.when_durable,
        )
        # Messages enter here (pump.py), ahead of the router, and are acked once durable.
        self.pump = MessagePump(
            self.router,
            self.drops,
            durable=hub.devices.when_durable,
            behind=lambda: hub.devices.behind,
        )
        self.protocol = DeviceProtocol(
            hub.station_id,
            hub.devices,
            settings,
            self.drops,
            self.send_soon,
            clear_retained=self._clear_retained,
        )
        self.transport = MqttCommandTransport(hub.station_id)
        self.connection: MqttConnection | None = None
        # The filters remembered in this hub's persistent session (session_record.py).
        self.session_filters: SessionFilters | None = None
        self.embedded: EmbeddedBroker | None = None
        self.mode = "external"
        self._sending: set[asyncio.Task[None]] = set()
        self._unobserve: Callable[[], None] | None = None
        # Subscribes and unsubscribes asked of the broker for topics registered or
        # withdrawn while connected (subscriptions_settled waits for them).
        self._changing: set[asyncio.Task[None]] = set()
        self.accounts = DeviceAccounts(hub, settings, self.client_id)

    # ---- registration ------------------------------------------------------------------

    def register(self, registrar: Registrar) -> None:
        self.protocol.register(registrar)
        registrar.device_transport(TRANSPORT, self.transport)
        registrar.http_route(
            "GET",
            "/api/mqtt/status",
            self._status_route,
            auth=requires("user"),
            summary="MQTT connection, message counters and the last drop of each kind",
            tags=(DOMAIN,),
        )

    # ---- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        address = await self._choose_broker()
        self.session_filters = SessionFilters(
            self._hub.db.require_engine(), address.url, self.client_id
        )
        self.connection = MqttConnection(
            address,
            client_id=self.client_id,
            status_topic=hub_status_topic(self.station_id),
            subscriptions=self.subscriptions,
            pump=self.pump,
            station_id=self.station_id,
            reconnect=self.settings.reconnect,
            keepalive=self.settings.keepalive,
            protocol=self.settings.protocol,
            session_expiry=self.settings.session_expiry,
            tls=self.settings.tls,
            on_change=self._connection_changed,
            before_session=self.accounts.before_session,
            record=SessionRecord(self.session_filters),
        )
        self.accounts.start(address, self.mode, self.connection)
        self.transport.connection = self.connection
        # Before the first session: it subscribes to every topic registered by then, and
        # the observer keeps the broker in step with what is registered or withdrawn later.
        self._unobserve = self._hub.registrations.observe_topics(
            self._topic_added, self._topic_removed, owner=DOMAIN
        )
        self._hub.add_health_info(DOMAIN, self.health)
        self.pump.start(self._hub.create_task)
        self.connection.start(self._hub.create_task)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.connection.first_attempt_done.wait(), FIRST_CONNECT_WAIT)
        if self.connection.connects == 0:
            _LOGGER.warning(
                "No MQTT session with %s yet (%s); the hub keeps retrying",
                address.url,
                self.connection.last_error or "no answer",
            )

    async def stop(self) -> None:
        """Finish what was received and answer it, then disconnect cleanly."""
        if self._unobserve is not None:
            self._unobserve()
        await self.accounts.stop()
        await self._settle()
        if self.connection is not None:
            await self.connection.stop()
        # Whatever arrived while disconnecting.
        await self._settle()
        # Publishes and subscription changes still waiting for a session that will not come.
        for task in [*self._sending, *self._changing]:
            task.cancel()
        if self._sending or self._changing:
            await asyncio.wait({*self._sending, *self._changing}, timeout=1.0)
        await self.pump.stop()
        if self.embedded is not None:
            await self.embedded.stop()

    async def _settle(self) -> None:
        try:
            await self.router.idle(STOP_DRAIN_TIMEOUT)
        except TimeoutError:
            _LOGGER.error("Held-back MQTT messages were not all handled before stopping")
        if self._sending:
            await asyncio.wait(set(self._sending), timeout=2.0)

    async def _choose_broker(self) -> BrokerAddress:
        settings = self.settings
        if settings.broker == EMBEDDED:
            return await self._start_embedded()
        if settings.broker == AUTO:
            if await broker_answers(settings.local_broker):
                self.mode = "local"
                _LOGGER.info("Using the local MQTT broker at %s", settings.local_broker.url)
                return settings.local_broker
            _LOGGER.info(
                "No MQTT broker answers at %s; starting the embedded one",
                settings.local_broker.url,
            )
            return await self._start_embedded()
        assert settings.address is not None
        return settings.address

    # ---- per-device accounts (see accounts.py; BLE provisioning calls these) ----------

    def new_identity(self, external_id: str) -> DeviceCredentials | None:
        return self.accounts.new(external_id)

    async def issue_identity(
        self, external_id: str, credentials: DeviceCredentials | None = None
    ) -> DeviceCredentials | None:
        return await self.accounts.issue(external_id, credentials)

    def remember_device(self, device_id: str, external_id: str) -> None:
        self.accounts.remember(device_id, external_id)

    async def revoke_identity(self, external_id: str) -> None:
        await self.accounts.revoke(external_id)

    async def _start_embedded(self) -> BrokerAddress:
        self.mode = "embedded"
        self.embedded = EmbeddedBroker(self.settings.embedded_host, self.settings.embedded_port)
        await self.embedded.start()
        return self.embedded.address

    # ---- what the parts call -----------------------------------------------------------

    def subscriptions(self) -> list[tuple[str, int]]:
        """Every topic filter registered with the core, read afresh for each session."""
        return [(pattern, item.qos) for pattern, item in self._hub.registrations.topics.items()]

    def send_soon(self, topic: str, payload: bytes) -> None:
        """Publish at QoS 1 in the background (handshake acks: the device retries if lost)."""
        if self.connection is None or len(self._sending) >= MAX_PENDING_SENDS:
            _LOGGER.debug("Not sending %s: no connection or too many pending sends", topic)
            return
        task = asyncio.get_running_loop().create_task(self._publish_quietly(topic, payload))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _publish_quietly(self, topic: str, payload: bytes, retain: bool = False) -> None:
        assert self.connection is not None
        try:
            await self.connection.publish(topic, payload, qos=1, retain=retain)
        except Exception as error:
            _LOGGER.info("Could not publish to %s: %s", printable(topic, 200), error)

    async def _publish_when_connected(self, topic: str, payload: bytes, retain: bool) -> None:
        """Retained messages are replayed while a session subscribes, before it counts as
        connected; their clearing waits for the session (or gives up after a while)."""
        assert self.connection is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.connection.connected.wait(), CLEAR_WAIT)
        await self._publish_quietly(topic, payload, retain)

    def _start_publish(self, topic: str, payload: bytes, *, retain: bool) -> None:
        if self.connection is None or len(self._sending) >= MAX_PENDING_SENDS:
            return
        task = asyncio.get_running_loop().create_task(
            self._publish_when_connected(topic, payload, retain)
        )
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    def _clear_retained(self, topic: str) -> None:
        """Remove a device's retained message from the broker (an empty retained publish)."""
        self._start_publish(topic, b"", retain=True)

    def _topic_added(self, subscription: TopicSubscription) -> None:
        """A topic registered: route it now, subscribe in the background if connected (the
        topics there are when observing starts come here too, before any session: every
        new session subscribes to all of them anyway)."""
        self.router.topics_changed()
        self._in_background(self._subscribe, subscription)

    def _topic_removed(self, subscription: TopicSubscription) -> None:
        """A failed integration's topic was withdrawn: stop calling its handler at once and
        stop the broker sending what nobody handles."""
        self.router.topics_changed()
        self._in_background(self._unsubscribe, subscription)

    async def _subscribe(self, connection: MqttConnection, subscription: TopicSubscription) -> None:
        await connection.subscribe(subscription.pattern, subscription.qos)

    async def _unsubscribe(
        self, connection: MqttConnection, subscription: TopicSubscription
    ) -> None:
        await connection.unsubscribe(subscription.pattern)

    def _in_background(
        self,
        change: Callable[[MqttConnection, TopicSubscription], Coroutine[Any, Any, None]],
        subscription: TopicSubscription,
    ) -> None:
        if self.connection is None or not self.connection.connected.is_set():
            return  # the next session subscribes to whatever is registered by then
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # registered from outside the event loop: the next session subscribes it
        task = loop.create_task(change(self.connection, subscription))
        self._changing.add(task)
        task.add_done_callback(self._changing.discard)

    async def subscriptions_settled(self) -> None:
        """Return once the broker has every subscribe and unsubscribe asked of it so far,
        for topics registered or withdrawn while connected (a test publishes right after)."""
        while self._changing:
            await asyncio.wait(set(self._changing))

    def _connection_changed(self, connected: bool, reason: str | None) -> None:
        current = self._hub.integration_state(DOMAIN)
        if current not in (integrations.RUNNING, integrations.UNAVAILABLE, integrations.SETTING_UP):
            return
        if connected:
            self._hub.set_integration_state(DOMAIN, integrations.RUNNING)
        else:
            where = self.connection.address.url if self.connection else "broker"
            self._hub.set_integration_state(
                DOMAIN, integrations.UNAVAILABLE, f"MQTT broker {where}: {reason}"
            )

    # ---- reporting -------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """Public counters for GET /api/health (no topics or device ids)."""
        return {
            "mode": self.mode,
            "connection": self.connection.snapshot() if self.connection else {"state": "idle"},
            "received": self.router.received,
            "backlog": self.router.backlog,
            "acks": self.pump.snapshot(),
            "handled": dict(self.protocol.handled),
            "commandsSent": self.transport.sent,
            "identities": self.accounts.health(),
            "dropped": {"total": self.drops.total, **dict(sorted(self.drops.counts.items()))},
        }

    async def _status_route(self, _request: web.Request) -> web.Response:
        """MQTT connection state, counters, and the last dropped message of each kind."""
        status = self.health()
        status["dropped"] = self.drops.snapshot()
        status["identities"]["error"] = self.accounts.error
        status["subscriptions"] = [pattern for pattern, _qos in self.subscriptions()]
        return json_response(status)
