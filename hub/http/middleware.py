"""Cross-cutting HTTP behaviour: JSON errors, security headers, CORS preflight."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable

from aiohttp import web

from hub.http.errors import ApiError
from hub.http.json import json_response

_LOGGER = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "no-store",
}

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as error:
        response = json_response(error.body(), status=error.status, headers=error.headers)
        if error.close:
            # Send the answer, then hang up at once: aiohttp would otherwise linger up to
            # 10 s reading the rest of a body the client is not sending.
            response.force_close()
            await response.prepare(request)
            await response.write_eof()
            request.protocol.force_close()
        return response
    except web.HTTPException as error:
        if error.status < 400:
            raise
        code = _STATUS_CODES.get(error.status, "http_error")
        message = (
            error.text
            if error.text and not error.text.startswith(str(error.status))
            else (error.reason)
        )
        if error.status == 413:
            message = "the request body is larger than the hub accepts"
        headers = {k: v for k, v in error.headers.items() if k.lower() in {"allow", "retry-after"}}
        return json_response(
            {"error": {"code": code, "message": message}}, status=error.status, headers=headers
        )
    except Exception:
        _LOGGER.exception("Unhandled error in %s %s", request.method, request.path)
        return json_response(
            {"error": {"code": "internal_error", "message": "internal server error"}}, status=500
        )


def cors_middleware(allowed_origins: Iterable[str]) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Answer every OPTIONS itself so a preflight can never reach (or bypass) a handler."""
    origins = frozenset(origin.rstrip("/") for origin in allowed_origins)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        allowed = origin is not None and origin in origins
        if request.method == "OPTIONS":
            wanted = request.headers.get("Access-Control-Request-Method")
            if not allowed or not wanted:
                refusal = ApiError(
                    403,
                    "cors_refused",
                    "OPTIONS is only answered as a CORS preflight from an allowed origin",
                )
                return json_response(refusal.body(), status=refusal.status)
            return web.Response(
                status=204,
                headers={
                    "Access-Control-Allow-Origin": origin or "",
                    "Access-Control-Allow-Methods": "GET, HEAD, POST, PUT, PATCH, DELETE",
                    "Access-Control-Allow-Headers": "Authorization, Content-Type, "
                    "X-Device-Token, Device-Token",
                    "Access-Control-Max-Age": "600",
                    "Vary": "Origin",
                },
            )
        response = await handler(request)
        if allowed and not response.prepared:
            response.headers["Access-Control-Allow-Origin"] = origin or ""
            response.headers["Vary"] = "Origin"
            # Paged listings name their next page in headers a script must be able to read.
            response.headers["Access-Control-Expose-Headers"] = "Link, X-Next-Cursor"
        return response

    return middleware


async def add_security_headers(_request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
