"""Failures talking to the gateway, each carrying the HTTP answer the caller should get.

The upstream client and the token manager know nothing about aiohttp's server side; they
raise these, and the route layer turns them into the hub's JSON errors. Messages never
contain a token or an upstream body, so they are safe to log and to return.
"""

from __future__ import annotations


class GatewayError(Exception):
    status = 502
    code = "gateway_error"


class GatewayNotConfigured(GatewayError):
    status = 503
    code = "gateway_not_configured"


class GatewayUnreachable(GatewayError):
    status = 502
    code = "gateway_unreachable"


class GatewayTimeout(GatewayError):
    status = 504
    code = "gateway_timeout"


class GatewayResponseTooLarge(GatewayError):
    status = 502
    code = "gateway_response_too_large"


class GatewayBadResponse(GatewayError):
    """The gateway answered, but not in the shape its contract promises."""

    status = 502
    code = "gateway_bad_response"


class GatewayAuthFailed(GatewayError):
    """The hub could not obtain a token the gateway accepts.

    Answered as 502, never 401: a 401 would tell the portal that *its* login expired.
    """

    status = 502
    code = "gateway_auth_failed"


class TokenStoreFailed(GatewayError):
    """A new token pair could not be saved, so it is not used yet (it is kept in memory)."""

    status = 503
    code = "token_store_failed"
