"""Which headers may cross the proxy, in either direction.

Credentials never cross: the caller's hub login must not reach the gateway, and the
gateway's cookies and auth challenges must not reach the browser (a ``WWW-Authenticate``
from upstream would make a browser prompt for a password the user does not have).
Hop-by-hop headers describe one connection, so each side of the proxy sets its own.
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
        # The hub's own device credentials (PRODUCT.md §4).
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

# The portal's origin means nothing to the gateway, and the body is already buffered, so a
# ``100-continue`` handshake has nothing left to negotiate.
_REQUEST_ONLY_DROPPED = frozenset({"origin", "referer", "expect"})

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
    """The caller's headers minus credentials, hop-by-hop and framing headers.

    ``Accept-Encoding`` is pinned to what the caller asked for (``identity`` if nothing),
    because the body is relayed undecoded and the caller must be able to read it.
    """
    kept = _copy_except(
        headers,
        CREDENTIAL_HEADERS | HOP_BY_HOP_HEADERS | FRAMING_HEADERS | _REQUEST_ONLY_DROPPED,
        drop_cors=True,
    )
    kept.popall("Accept-Encoding", None)
    kept["Accept-Encoding"] = headers.get("Accept-Encoding", "identity")
    return kept


def response_headers_for_caller(headers: _Headers) -> CIMultiDict[str]:
    """The gateway's headers minus credentials, hop-by-hop, framing and CORS headers."""
    return _copy_except(
        headers, CREDENTIAL_HEADERS | HOP_BY_HOP_HEADERS | FRAMING_HEADERS, drop_cors=True
    )
