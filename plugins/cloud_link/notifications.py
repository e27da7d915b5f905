"""The ``CLOUD_NOTIFICATIONS`` service: other integrations notify the cloud through it.

They get the one thing they may do (send a notification on the live session) without
reaching into the link, its peer or its settings.
"""

from __future__ import annotations

from typing import Any

from plugins.cloud_link.link import CloudLink


class LinkNotifications:
    __slots__ = ("_link",)

    def __init__(self, link: CloudLink) -> None:
        self._link = link

    async def notify(self, method: str, params: dict[str, Any]) -> None:
        peer = self._link.peer
        if peer is None:
            raise ConnectionError("the cloud link is not connected; the notification was not sent")
        await peer.notify(method, params)
