"""Which headers may cross the proxy, in either direction.

Credentials never cross: the caller's hub login must not reach the gateway, and the
gateway's cookies and auth challenges must not reach the browser (a ``WWW-Authenticate``
from upstream would make a browser prompt for a password the user does not have).
Hop-by-hop headers describe one connection, so each side of the proxy sets its own.

Towards the gateway only an **allow-list** crosses (``FORWARDED_REQUEST_HEADERS``): what
describes the body and the wanted answer, and request tracing. A block-list would let
through every header nobody thought of, and some are instructions to the gateway's own
front end: ``X-Forwarded-*``/``Forwarded`` (who the client is, which scheme and host),
``X-Original-URL``/``X-Rewrite-URL`` (which path to serve: IIS, Symfony and some gateways
honour them over the request line) and ``X-HTTP-Method-Override`` (which method). Any of
them would let a portal user re-address or re-identify the hub's authenticated call.
The gateway's answer keeps its headers except credentials, hop-by-hop and CORS ones.
"""

from __future__ import annotations

from collections.abc import Iterable

from multidict import CIMultiDict, CIMultiDictProxy

CREDENTIAL_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "cookie2",
        "set-cookie",
        "set-cookie2",
        "www-authenticate",
        "proxy-authenticate",
        # The hub's own device credentials (docs/auth.md).
        "x-device-token",
        "device-token",
    }
)

# RFC 9110 §7.6.1, plus the legacy names proxies still see.
HOP_BY_HOP_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)

# Recomputed by whichever side sends the bytes next.
FRAMING_HEADERS = frozenset({"host", "content-length"})

# The hub answers CORS itself; the gateway's policy is about the gateway's own origin.
_CORS_PREFIX = "access-control-"

# The only request headers that reach the gateway (lower case). Credentials, hop-by-hop
# and framing headers are recomputed by the hub; ``Origin``/``Referer`` mean nothing to
# the gateway, and the body is already buffered, so ``Expect`` has nothing to negotiate.
FORWARDED_REQUEST_HEADERS = frozenset(
    {
        # The body, relayed verbatim.
        "content-type",
        "content-encoding",
        "content-language",
        # The answer wanted (Accept-Encoding is pinned below).
        "accept",
        "accept-language",
        "accept-charset",
        "cache-control",
        "pragma",
        "if-match",
        "if-none-match",
        "if-modified-since",
        "if-unmodified-since",
        # Request tracing.
        "x-request-id",
        "x-correlation-id",
        "traceparent",
        "tracestate",
        "user-agent",
    }
)

_Headers = CIMultiDict[str] | CIMultiDictProxy[str]


def _connection_tokens(headers: _Headers) -> set[str]:
    """Headers named in ``Connection`` are hop-by-hop for this message too."""
    tokens: set[str] = set()
    for value in headers.getall("Connection", ()):
        tokens.update(part.strip().lower() for part in value.split(",") if part.strip())
    return tokens


def _copy_except(headers: _Headers, dropped: Iterable[str], *, drop_cors: bool) -> CIMultiDict[str]:
    blocked = set(dropped) | _connection_tokens(headers)
    kept: CIMultiDict[str] = CIMultiDict()
    for name, value in headers.items():
        lowered = name.lower()
        if lowered in blocked or (drop_cors and lowered.startswith(_CORS_PREFIX)):
            continue
        kept.add(name, value)
    return kept


def request_headers_for_upstream(headers: _Headers) -> CIMultiDict[str]:
    """The caller's headers that are on ``FORWARDED_REQUEST_HEADERS``, nothing else.

    A header the caller's ``Connection`` names is hop-by-hop even when allowed. The hub
    adds its own ``Authorization``. ``Accept-Encoding`` is pinned to what the caller asked
    for (``identity`` if nothing), because the body is relayed undecoded and the caller
    must be able to read it.
    """
    per_hop = _connection_tokens(headers)
    kept: CIMultiDict[str] = CIMultiDict()
    for name, value in headers.items():
        lowered = name.lower()
        if lowered in FORWARDED_REQUEST_HEADERS and lowered not in per_hop:
            kept.add(name, value)
    kept["Accept-Encoding"] = headers.get("Accept-Encoding", "identity")
    return kept


def response_headers_for_caller(headers: _Headers) -> CIMultiDict[str]:
    """The gateway's headers minus credentials, hop-by-hop, framing and CORS headers."""
    return _copy_except(
        headers, CREDENTIAL_HEADERS | HOP_BY_HOP_HEADERS | FRAMING_HEADERS, drop_cors=True
    )
