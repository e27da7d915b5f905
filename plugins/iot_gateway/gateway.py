"""Authenticated calls to the gateway: a valid token on every call, one retry on a 401.

A 401 can arrive mid-life (the gateway restarted, or revoked the token), so expiry alone
cannot tell the hub its token is dead. One forced refresh and one retry hide that from
the portal; a second 401 is the hub's problem, reported as 502, never as the caller's 401.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from multidict import CIMultiDict

from .errors import GatewayAuthFailed
from .token_manager import TokenManager
from .upstream import UpstreamClient, UpstreamResponse

_LOGGER = logging.getLogger(__name__)


class Gateway:
    def __init__(self, client: UpstreamClient, tokens: TokenManager) -> None:
        self.client = client
        self.tokens = tokens

    async def call(
        self,
        key: str,
        *,
        method: str = "POST",
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> UpstreamResponse:
        token = await self.tokens.access_token()
        response = await self.client.send(
            key, method=method, body=body, headers=_with_token(headers, token)
        )
        if response.status != 401:
            return response
        _LOGGER.info("The IoT gateway answered 401 to %s; refreshing the token and retrying", key)
        token = await self.tokens.force_refresh(rejected=token)
        response = await self.client.send(
            key, method=method, body=body, headers=_with_token(headers, token)
        )
        if response.status == 401:
            raise GatewayAuthFailed(
                f"the IoT gateway rejected a freshly renewed token for {key}; check the app "
                "id and the gateway's access rules"
            )
        return response


def _with_token(headers: Mapping[str, str] | None, token: str) -> CIMultiDict[str]:
    merged: CIMultiDict[str] = CIMultiDict(headers or {})
    merged["Authorization"] = f"Bearer {token}"
    return merged
