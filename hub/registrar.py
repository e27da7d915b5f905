"""The registries transports consume, and the per-integration registrar that fills them.

Each integration gets its own ``Registrar`` so every registration records its owner: a
duplicate is refused with a message naming both integrations, and a failed integration's
registrations can be withdrawn without touching anyone else's.

What carries MQTT topics and RPC methods to the outside (``mqtt_devices``' broker
connection, ``cloud_link``'s JSON-RPC peer) is an integration too; it follows the tables
through ``Registrations.observe_topics`` and ``observe_rpc_methods`` instead of reaching
into them, and being observed is how the core knows that a registration reaches anyone
(``Registrations.unserved``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import voluptuous as vol
from aiohttp import web

from hub.auth import AuthRequirement, AuthScheme
from hub.http.openapi import request_json_schema
from hub.services import ServiceError, ServiceKey, Services

if TYPE_CHECKING:
    from hub.devices.models import Command, Device, DeviceType

_LOGGER = logging.getLogger(__name__)

T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: ``handler(params, context)``: ``context`` is a ``hub.rpc.CallContext``; may be async.
RpcHandler = Callable[..., Any]

HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
_RPC_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*\Z")
_TOPIC_LEVEL = re.compile(r"^[^#+]*\Z")


class RegistrationError(ValueError):
    """Raised for a duplicate or malformed registration; names the integration."""


@dataclass(frozen=True, slots=True)
class MqttMessage:
    """One message as transports hand it to topic handlers."""

    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False


TopicHandler = Callable[[MqttMessage], Awaitable[None] | None]


class DeviceTransport(Protocol):
    """Delivers commands to the devices it owns (``Device.transport`` names it)."""

    async def send_command(self, device: Device, command: Command) -> None:
        """Deliver or raise; the registry records the command as failed on error."""
        ...


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    handler: Handler
    auth: AuthRequirement
    integration: str
    summary: str = ""
    description: str = ""
    tags: tuple[str, ...] = ()
    # The body's JSON Schema for OpenAPI (converted from the route's voluptuous schema).
    request_schema: dict[str, Any] | None = None
    websocket: bool = False


@dataclass(frozen=True, slots=True)
class TopicSubscription:
    pattern: str
    handler: TopicHandler
    qos: int
    integration: str


@dataclass(frozen=True, slots=True)
class RpcMethod:
    name: str
    handler: RpcHandler
    integration: str
    description: str = ""


E = TypeVar("E", TopicSubscription, RpcMethod)
Unsubscribe = Callable[[], None]


@dataclass(eq=False, slots=True)
class _Observer(Generic[E]):
    on_added: Callable[[E], None] | None
    on_removed: Callable[[E], None] | None
    owner: str | None


class _Observers(Generic[E]):
    """Who follows one table; an observer that raises is logged, and the registration it
    was told about stands (the fault is the observer's, not the registering integration's)."""

    def __init__(self, what: str) -> None:
        self._what = what
        self._observers: list[_Observer[E]] = []

    def __bool__(self) -> bool:
        return bool(self._observers)

    def add(
        self,
        existing: Iterable[E],
        on_added: Callable[[E], None] | None,
        on_removed: Callable[[E], None] | None,
        owner: str | None,
    ) -> Unsubscribe:
        observer = _Observer(on_added, on_removed, owner)
        self._observers.append(observer)
        if on_added is not None:
            for entry in list(existing):
                self._call(on_added, entry)

        def unsubscribe() -> None:
            if observer in self._observers:
                self._observers.remove(observer)

        return unsubscribe

    def drop_owned_by(self, integration: str) -> None:
        self._observers = [item for item in self._observers if item.owner != integration]

    def added(self, entry: E) -> None:
        for observer in list(self._observers):
            if observer.on_added is not None:
                self._call(observer.on_added, entry)

    def removed(self, entry: E) -> None:
        for observer in list(self._observers):
            if observer.on_removed is not None:
                self._call(observer.on_removed, entry)

    def _call(self, callback: Callable[[E], None], entry: E) -> None:
        try:
            callback(entry)
        except Exception:
            name = entry.pattern if isinstance(entry, TopicSubscription) else entry.name
            _LOGGER.exception(
                "An observer of %s failed on %s of %s", self._what, name, entry.integration
            )


@dataclass(slots=True)
class Registrations:
    """Everything integrations handed over, keyed so duplicates are found in O(1).

    The tables are read-only to integrations; the ``Registrar`` fills them and
    ``withdraw`` empties a failed integration's share. A transport that must act on a
    change (subscribe at the broker, say) observes the table rather than polling it.
    """

    routes: dict[tuple[str, str], Route] = field(default_factory=dict)
    topics: dict[str, TopicSubscription] = field(default_factory=dict)
    rpc_methods: dict[str, RpcMethod] = field(default_factory=dict)
    transports: dict[str, tuple[str, DeviceTransport]] = field(default_factory=dict)
    auth_schemes: dict[str, tuple[str, AuthScheme]] = field(default_factory=dict)
    device_types: dict[str, tuple[str, DeviceType]] = field(default_factory=dict)
    # Typed services integrations offer one another (hub/services.py).
    services: Services = field(default_factory=Services)
    _topic_observers: _Observers[TopicSubscription] = field(
        default_factory=lambda: _Observers("MQTT topics"), init=False, repr=False
    )
    _rpc_observers: _Observers[RpcMethod] = field(
        default_factory=lambda: _Observers("RPC methods"), init=False, repr=False
    )

    def observe_topics(
        self,
        on_added: Callable[[TopicSubscription], None] | None,
        on_removed: Callable[[TopicSubscription], None] | None = None,
        *,
        owner: str | None = None,
    ) -> Unsubscribe:
        """Follow the MQTT topic table; returns the function that stops following it.

        ``on_added`` is called at once for every topic already registered (so the
        observer needs no separate first read), then for each new one; ``on_removed`` for
        each topic withdrawn with a failed integration. Callbacks run synchronously, inside
        the registration or the withdrawal; start any I/O as a task. Observing is what
        makes topics count as carried (see ``unserved``). An ``owner`` (the observing
        integration) is forgotten with that integration's registrations.
        """
        return self._topic_observers.add(self.topics.values(), on_added, on_removed, owner)

    def observe_rpc_methods(
        self,
        on_added: Callable[[RpcMethod], None] | None,
        on_removed: Callable[[RpcMethod], None] | None = None,
        *,
        owner: str | None = None,
    ) -> Unsubscribe:
        """Follow the RPC method table, exactly as ``observe_topics`` follows topics."""
        return self._rpc_observers.add(self.rpc_methods.values(), on_added, on_removed, owner)

    def rpc_handler(self, name: str) -> RpcHandler | None:
        """The handler serving ``name`` now (a transport looks it up per call, so a
        withdrawn method is never called and a late one is)."""
        method = self.rpc_methods.get(name)
        return method.handler if method is not None else None

    def unserved(self) -> list[str]:
        """One line per integration whose topics or RPC methods nothing carries: topics
        while no one observes the topic table (no ``mqtt_devices``), methods while no one
        observes the method table (no ``cloud_link``). The hub logs them at start."""
        lines: list[str] = []
        if not self._topic_observers:
            lines.extend(
                _unserved_line(owner, "MQTT topics", "subscribes to", "mqtt_devices", names)
                for owner, names in _by_integration(self.topics.values(), "pattern")
            )
        if not self._rpc_observers:
            lines.extend(
                _unserved_line(owner, "RPC methods", "serves", "cloud_link", names)
                for owner, names in _by_integration(self.rpc_methods.values(), "name")
            )
        return lines

    def withdraw(self, integration: str) -> None:
        """Forget what a failed integration registered, and its observers; the other
        observers hear of each topic and RPC method withdrawn."""
        self._topic_observers.drop_owned_by(integration)
        self._rpc_observers.drop_owned_by(integration)
        self.services.withdraw(integration)
        for key in [k for k, v in self.routes.items() if v.integration == integration]:
            del self.routes[key]
        for pattern in [k for k, v in self.topics.items() if v.integration == integration]:
            self._topic_observers.removed(self.topics.pop(pattern))
        for name in [k for k, v in self.rpc_methods.items() if v.integration == integration]:
            self._rpc_observers.removed(self.rpc_methods.pop(name))
        for owned in (self.transports, self.auth_schemes, self.device_types):
            for owned_name in [k for k, (owner, _) in owned.items() if owner == integration]:
                del owned[owned_name]

    def _add_topic(self, subscription: TopicSubscription) -> None:
        self.topics[subscription.pattern] = subscription
        self._topic_observers.added(subscription)

    def _add_rpc_method(self, method: RpcMethod) -> None:
        self.rpc_methods[method.name] = method
        self._rpc_observers.added(method)

    def auth_scheme(self, name: str) -> AuthScheme | None:
        entry = self.auth_schemes.get(name)
        return entry[1] if entry else None

    def transport(self, name: str) -> DeviceTransport | None:
        entry = self.transports.get(name)
        return entry[1] if entry else None


class Registrar:
    """Handed to ``hub_register``; checks every registration before accepting it."""

    def __init__(self, registrations: Registrations, integration: str) -> None:
        self._registrations = registrations
        self.integration = integration

    def http_route(
        self,
        method: str,
        path: str,
        handler: Handler,
        *,
        auth: AuthRequirement,
        summary: str = "",
        description: str = "",
        tags: tuple[str, ...] = (),
        request_schema: vol.Schema | vol.All | dict[str, Any] | None = None,
        websocket: bool = False,
    ) -> None:
        """Register ``handler``; ``auth`` is mandatory so no route is public by accident.

        ``request_schema`` is the voluptuous schema the handler reads its body with
        (``read_json(request, SCHEMA)``); OpenAPI describes the body from it, so the two
        cannot disagree. A plain dict is taken as JSON Schema written by hand (the older
        way, still accepted).
        """
        method = method.upper()
        if method not in HTTP_METHODS:
            raise RegistrationError(
                f"{self.integration}: method {method} for {path} is not allowed "
                f"(use one of {', '.join(sorted(HTTP_METHODS))}; HEAD follows GET and "
                "OPTIONS is answered by the core)"
            )
        if not path.startswith("/"):
            raise RegistrationError(f"{self.integration}: route path {path!r} must start with /")
        if not isinstance(auth, AuthRequirement):
            raise RegistrationError(
                f"{self.integration}: route {method} {path} needs auth=PUBLIC or requires(...)"
            )
        key = (method, path)
        existing = self._registrations.routes.get(key)
        if existing is not None:
            raise RegistrationError(
                f"{self.integration}: route {method} {path} is already registered by "
                f"{existing.integration}"
            )
        body_schema = None
        if isinstance(request_schema, dict):
            body_schema = request_schema
        elif request_schema is not None:
            try:
                body_schema = request_json_schema(request_schema)
            except (ValueError, TypeError) as error:
                raise RegistrationError(
                    f"{self.integration}: route {method} {path}: the request_schema cannot be "
                    f"described in OpenAPI ({error}); mark its custom validators with "
                    "hub.http.openapi.describe(...)"
                ) from None
        doc = (handler.__doc__ or "").strip()
        self._registrations.routes[key] = Route(
            method=method,
            path=path,
            handler=handler,
            auth=auth,
            integration=self.integration,
            summary=summary or (doc.splitlines()[0] if doc else ""),
            description=description,
            tags=tags or (self.integration,),
            request_schema=body_schema,
            websocket=websocket,
        )

    def mqtt_topic(self, pattern: str, handler: TopicHandler, *, qos: int = 1) -> None:
        """Subscribe ``handler`` to an MQTT topic filter (``+`` and ``#`` allowed)."""
        _check_topic_filter(self.integration, pattern)
        if qos not in (0, 1, 2):
            raise RegistrationError(f"{self.integration}: qos {qos} for {pattern} is not 0, 1 or 2")
        existing = self._registrations.topics.get(pattern)
        if existing is not None:
            raise RegistrationError(
                f"{self.integration}: MQTT topic {pattern} is already handled by "
                f"{existing.integration}"
            )
        self._registrations._add_topic(TopicSubscription(pattern, handler, qos, self.integration))

    def rpc_method(self, name: str, handler: RpcHandler, *, description: str = "") -> None:
        """Serve a JSON-RPC method; ``handler(params, context)`` may be async, ``context``
        being a ``hub.rpc.CallContext``. Every integration's methods, the cloud link's own
        included, share one name space: a name taken is refused, naming its owner."""
        if not _RPC_NAME.match(name) or name.startswith("rpc."):
            raise RegistrationError(
                f"{self.integration}: RPC method name {name!r} is not a dotted identifier "
                "(names starting with 'rpc.' are reserved by JSON-RPC 2.0)"
            )
        existing = self._registrations.rpc_methods.get(name)
        if existing is not None:
            raise RegistrationError(
                f"{self.integration}: RPC method {name} is already registered by "
                f"{existing.integration}"
            )
        self._registrations._add_rpc_method(
            RpcMethod(
                name, handler, self.integration, description or (handler.__doc__ or "").strip()
            )
        )

    def device_transport(self, name: str, transport: DeviceTransport) -> None:
        """Own the devices whose ``transport`` is ``name``."""
        self._claim(self._registrations.transports, "device transport", name, transport)

    def auth_scheme(self, name: str, scheme: AuthScheme) -> None:
        """Answer the routes that declare ``requires(name, ...)``."""
        self._claim(self._registrations.auth_schemes, "auth scheme", name, scheme)

    def device_type(self, device_type: DeviceType) -> None:
        """Add a device type to the registry served at ``GET /api/device-types``."""
        self._claim(self._registrations.device_types, "device type", device_type.name, device_type)

    def provide(self, key: ServiceKey[T], value: T) -> None:
        """Offer a typed service to other integrations (``hub.services``); one provider
        per service, withdrawn if this integration fails."""
        try:
            self._registrations.services.provide(key, value, owner=self.integration)
        except ServiceError as error:
            raise RegistrationError(str(error)) from None

    def _claim(self, table: dict[str, tuple[str, Any]], what: str, name: str, value: Any) -> None:
        if not name or not isinstance(name, str):
            raise RegistrationError(f"{self.integration}: {what} needs a non-empty name")
        existing = table.get(name)
        if existing is not None:
            raise RegistrationError(
                f"{self.integration}: {what} {name!r} is already registered by {existing[0]}"
            )
        table[name] = (self.integration, value)


def _by_integration(
    entries: Iterable[TopicSubscription | RpcMethod], attribute: str
) -> list[tuple[str, list[str]]]:
    owned: dict[str, list[str]] = {}
    for entry in entries:
        owned.setdefault(entry.integration, []).append(getattr(entry, attribute))
    return sorted((owner, sorted(names)) for owner, names in owned.items())


def _unserved_line(integration: str, what: str, verb: str, carrier: str, names: list[str]) -> str:
    return (
        f"{integration} registers {what} that no running integration {verb} "
        f"(is {carrier} configured?): {', '.join(names)}"
    )


def _check_topic_filter(integration: str, pattern: str) -> None:
    levels = pattern.split("/")
    ok = bool(pattern) and len(pattern.encode()) <= 65535
    for index, level in enumerate(levels):
        if level == "#":
            ok = ok and index == len(levels) - 1
        elif level != "+":
            ok = ok and bool(_TOPIC_LEVEL.match(level))
    if not ok:
        raise RegistrationError(f"{integration}: {pattern!r} is not a valid MQTT topic filter")


def topic_matches(pattern: str, topic: str) -> bool:
    """MQTT filter matching (``+`` one level, ``#`` the rest)."""
    pattern_levels = pattern.split("/")
    topic_levels = topic.split("/")
    for index, level in enumerate(pattern_levels):
        if level == "#":
            return True
        if index >= len(topic_levels):
            return False
        if level != "+" and level != topic_levels[index]:
            return False
    return len(pattern_levels) == len(topic_levels)
