"""The cloud link's working parts for one hub, wired together, started and stopped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hub.registrar import RpcMethod
from hub.services import STATION_MEMBERS, StationMembers
from plugins.cloud_link.config import LinkSettings
from plugins.cloud_link.const import DOMAIN
from plugins.cloud_link.identity import IdentityMessages
from plugins.cloud_link.legacy import LegacyHandler, LegacyInbox
from plugins.cloud_link.link import CloudLink
from plugins.cloud_link.methods import StationMethods
from plugins.cloud_link.outbox import Outbox
from plugins.cloud_link.reset import reset_station
from plugins.cloud_link.store import ClaimStore

if TYPE_CHECKING:
    from hub.core import Hub

_LOGGER = logging.getLogger(__name__)

AUTH_INTEGRATION = "auth"
IDENTITY_MESSAGES = (
    "identity_sync",
    "station_renamed",
    "member_added",
    "member_updated",
    "member_removed",
    "station_password_changed",
)
# How long shutdown waits for legacy messages already received to be applied; with the
# socket's close_timeout it stays inside the core's shutdown bound.
DRAIN_TIMEOUT = 3.0


class CloudLinkRuntime:
    def __init__(self, hub: Hub, settings: LinkSettings) -> None:
        self.hub = hub
        self.settings = settings
        self.outbox = Outbox(
            settings.channels,
            max_devices=settings.offline_devices,
            max_events=settings.max_queued_events,
            batch_size=settings.peer_limits.max_batch,
        )
        self.methods = StationMethods(hub, self.outbox)
        self.legacy = LegacyInbox(self._legacy_handlers())
        self.link = CloudLink(
            settings,
            lookup=self.methods.lookup,
            on_legacy=self.legacy.submit,
            outbox=self.outbox,
        )
        self._store: ClaimStore | None = None
        self._connection: asyncio.Task[Any] | None = None
        self._workers: list[asyncio.Task[Any]] = []
        self._unlisten: Callable[[], None] | None = None
        self._unobserve: Callable[[], None] | None = None

    @property
    def store(self) -> ClaimStore:
        if self._store is None:
            raise RuntimeError("the cloud link is not set up")
        return self._store

    async def start(self) -> None:
        self._store = ClaimStore(self.hub.db.require_engine())
        self.link.set_claim(await self._store.load())
        # Observing the method table makes the core count RPC methods as served (a hub
        # without the link warns at start that nothing can call them), and says in the log
        # when a failed integration's methods stop being callable.
        self._unobserve = self.hub.registrations.observe_rpc_methods(
            None, _method_withdrawn, owner=DOMAIN
        )
        if self.settings.url is not None:
            # Without a URL nothing will ever be sent: keep the ingest path free of us.
            self._unlisten = self.outbox.listen(self.hub.bus)
        else:
            self._warn_uncallable_methods()
        self._workers = [
            self.hub.create_task(self.legacy.run(), name="cloud_link.legacy"),
            self.hub.create_task(self.outbox.run(), name="cloud_link.outbox"),
        ]
        # The connection last: it feeds the workers, which must already be running.
        self._connection = self.hub.create_task(self.link.run(), name="cloud_link.connection")

    async def stop(self) -> None:
        """Close the socket first (nothing new arrives), then apply the legacy messages
        already received, then stop the workers."""
        if self._unlisten is not None:
            self._unlisten()
        if self._unobserve is not None:
            self._unobserve()
        if self._connection is not None:
            await _cancel(self._connection)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.legacy.drain(), DRAIN_TIMEOUT)
        for task in self._workers:
            await _cancel(task)

    async def claim(self, station_token: str) -> None:
        self.link.set_claim(await self.store.save(station_token))

    def status(self) -> dict[str, Any]:
        return self.link.status.as_dict(self.outbox.channels, asyncio.get_running_loop().time())

    def health(self) -> dict[str, Any]:
        return {
            "state": self.link.status.state,
            "notificationsSent": self.outbox.sent,
            "notificationsPending": self.outbox.pending,
            "notificationsDropped": self.outbox.dropped,
            "legacyHandled": self.legacy.handled,
            "legacyRefused": self.legacy.failed,
            "legacyDropped": self.legacy.dropped,
        }

    def _legacy_handlers(self) -> dict[str, LegacyHandler]:
        handlers: dict[str, LegacyHandler] = {
            name: self._identity(name) for name in IDENTITY_MESSAGES
        }
        handlers["station_reset"] = self._station_reset
        return handlers

    def _identity(self, name: str) -> LegacyHandler:
        async def handle(message: dict[str, Any]) -> None:
            # The store refuses with ValueError, which the inbox reports as refused.
            await getattr(IdentityMessages(self._members()), name)(message)

        return handle

    def _members(self) -> StationMembers:
        """The station's member store, as the auth integration provides it through the
        core (``STATION_MEMBERS``); writing through it also clears the caches its
        schemes read, so a removed member is refused at once."""
        members = self.hub.registrations.services.get(STATION_MEMBERS)
        state = self.hub.integration_state(AUTH_INTEGRATION)
        if members is None or state in (None, "failed"):
            reason = "not configured" if state is None else state
            raise ValueError(
                f"identity messages need the auth integration's member store (it is {reason})"
            )
        return members

    async def _station_reset(self, message: dict[str, Any]) -> None:
        await reset_station(self.hub, self.store, self.link, message)

    def _warn_uncallable_methods(self) -> None:
        """Without a cloud URL no cloud will ever call the methods other integrations
        registered: say so at start, naming them and the fix (the core's own check counts
        the link as their carrier, since it runs)."""
        others = sorted(
            f"{method.name} ({method.integration})"
            for method in self.hub.registrations.rpc_methods.values()
            if method.integration != DOMAIN
        )
        if not others:
            return
        line = (
            "cloud_link has no cloud URL (set cloud_link: url, or CLOUD_HOST), so the cloud "
            f"cannot call the RPC methods integrations registered: {', '.join(others)}"
        )
        _LOGGER.warning("%s", line)
        self.hub.add_startup_note(line)


def _method_withdrawn(method: RpcMethod) -> None:
    _LOGGER.warning(
        "The cloud can no longer call %s: %s failed and its methods were withdrawn",
        method.name,
        method.integration,
    )


async def _cancel(task: asyncio.Task[Any]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
