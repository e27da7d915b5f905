"""Gateway failures as the hub's JSON errors (``{"error": {"code", "message"}}``)."""

from __future__ import annotations

import functools

from aiohttp import web

from hub.http.errors import ApiError
from hub.registrar import Handler

from .errors import GatewayError


def gateway_errors_as_api_errors(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def translated(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except GatewayError as error:
            raise ApiError(error.status, error.code, str(error)) from None

    return translated
