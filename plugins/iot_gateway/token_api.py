"""The gateway's two token calls and the shape of their answers (docs/iot-gateway.md).

``POST {base}/auth/token {appId, appSecret}`` logs the app in; ``POST {base}/auth/refresh
{appId, refreshToken}`` trades a refresh token for a new pair. Both answer
``{accessToken, refreshToken, expiresIn}`` with ``expiresIn`` in seconds. An answer wrapped
in a ``data`` envelope is accepted too, as many gateways wrap every answer that way.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import orjson

from .errors import GatewayAuthFailed, GatewayBadResponse
from .token_store import TokenPair
from .upstream import UpstreamClient

_LOGGER = logging.getLogger(__name__)

_JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


class TokenApi:
    def __init__(self, client: UpstreamClient, app_id: str, app_secret: str | None) -> None:
        self._client = client
        self._app_id = app_id
        self._app_secret = app_secret

    @property
    def can_log_in(self) -> bool:
        return bool(self._app_secret)

    async def log_in(self, now_ms: int) -> TokenPair:
        """A fresh pair from the app credentials; ``now_ms`` is when the call started."""
        if not self._app_secret:
            raise GatewayAuthFailed(
                "no usable IoT gateway token is stored and no app secret is configured to "
                "log in with (set iot_gateway.app_secret or APP_SECRET)"
            )
        body = orjson.dumps({"appId": self._app_id, "appSecret": self._app_secret})
        response = await self._client.send("token", body=body, headers=_JSON_HEADERS)
        if not 200 <= response.status < 300:
            raise GatewayAuthFailed(
                f"the IoT gateway refused the app credentials (status {response.status})"
            )
        return parse_token_answer(response.body, now_ms, previous_refresh_token=None)

    async def refresh(self, refresh_token: str, now_ms: int) -> TokenPair | None:
        """A new pair, or None when the gateway rejects the refresh token (a 4xx)."""
        body = orjson.dumps({"appId": self._app_id, "refreshToken": refresh_token})
        response = await self._client.send("refresh", body=body, headers=_JSON_HEADERS)
        if 400 <= response.status < 500:
            _LOGGER.warning(
                "The IoT gateway rejected the refresh token (status %d)", response.status
            )
            return None
        if not 200 <= response.status < 300:
            raise GatewayAuthFailed(
                f"the IoT gateway failed a token refresh (status {response.status})"
            )
        return parse_token_answer(response.body, now_ms, previous_refresh_token=refresh_token)


def parse_token_answer(
    body: bytes, now_ms: int, *, previous_refresh_token: str | None
) -> TokenPair:
    """Validate a token answer; the message of a refusal never quotes the body."""
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise GatewayBadResponse("the IoT gateway's token answer is not JSON") from None
    if isinstance(data, dict) and "accessToken" not in data and isinstance(data.get("data"), dict):
        data = data["data"]
    if not isinstance(data, dict):
        raise GatewayBadResponse("the IoT gateway's token answer is not a JSON object")
    access = data.get("accessToken")
    if not isinstance(access, str) or not access:
        raise GatewayBadResponse("the IoT gateway's token answer has no accessToken string")
    expires_in = data.get("expiresIn")
    if (
        isinstance(expires_in, bool)
        or not isinstance(expires_in, int | float)
        or not math.isfinite(expires_in)
        or expires_in <= 0
    ):
        raise GatewayBadResponse(
            "the IoT gateway's token answer has no positive number of seconds in expiresIn"
        )
    # A gateway that does not rotate refresh tokens may leave the field out.
    refresh = data.get("refreshToken")
    if refresh is None:
        refresh = previous_refresh_token
    elif not isinstance(refresh, str) or not refresh:
        raise GatewayBadResponse("the IoT gateway's token answer has an invalid refreshToken")
    return TokenPair(
        access_token=access,
        refresh_token=refresh,
        expires_at=now_ms + int(expires_in * 1000),
        issued_at=now_ms,
    )
