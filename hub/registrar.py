"""The registries transports consume, and the per-integration registrar that fills them.

Each integration gets its own ``Registrar`` so every registration records its owner: a
duplicate is refused with a message naming both integrations, and a failed integration's
registrations can be withdrawn without touching anyone else's.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import voluptuous as vol
from aiohttp import web

from hub.auth import AuthRequirement, AuthScheme
from hub.http.openapi import request_json_schema
from hub.services import ServiceError, ServiceKey, Services

if TYPE_CHECKING:
    from hub.devices.models import Command, Device, DeviceType

T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
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


@dataclass(slots=True)
class Registrations:
    """Everything integrations handed over, keyed so duplicates are found in O(1)."""

    routes: dict[tuple[str, str], Route] = field(default_factory=dict)
    topics: dict[str, TopicSubscription] = field(default_factory=dict)
    rpc_methods: dict[str, RpcMethod] = field(default_factory=dict)
    transports: dict[str, tuple[str, DeviceTransport]] = field(default_factory=dict)
    auth_schemes: dict[str, tuple[str, AuthScheme]] = field(default_factory=dict)
    device_types: dict[str, tuple[str, DeviceType]] = field(default_factory=dict)
    topic_listeners: list[Callable[[TopicSubscription], None]] = field(default_factory=list)
    # Typed services integrations offer one another (hub/services.py).
    services: Services = field(default_factory=Services)

    def withdraw(self, integration: str) -> None:
        """Forget what a failed integration registered."""
        self.services.withdraw(integration)
        for table in (self.routes, self.topics, self.rpc_methods):
            for key in [k for k, v in table.items() if v.integration == integration]:
                del table[key]
        for owned in (self.transports, self.auth_schemes, self.device_types):
            for key in [k for k, (owner, _) in owned.items() if owner == integration]:
                del owned[key]

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
        subscription = TopicSubscription(pattern, handler, qos, self.integration)
        self._registrations.topics[pattern] = subscription
        for listener in list(self._registrations.topic_listeners):
            listener(subscription)

    def rpc_method(self, name: str, handler: RpcHandler, *, description: str = "") -> None:
        """Serve a JSON-RPC method; ``handler(params, context)`` may be async."""
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
        self._registrations.rpc_methods[name] = RpcMethod(
            name, handler, self.integration, description or (handler.__doc__ or "").strip()
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
