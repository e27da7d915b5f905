"""Names the frontend integration shares between its modules."""

from __future__ import annotations

DOMAIN = "frontend"
# Static files of the portal itself: served under /frontend/<build>/..., immutable.
STATIC_PREFIX = "/frontend"
PANEL_PREFIX = "/frontend/panels"
HOOK = "hub_frontend_panels"
# Content-Security-Policy of the portal's pages and assets: scripts and styles only from
# the hub itself (no inline script or style attribute), fetch/WebSocket only to the hub,
# never framed. `'self'` in connect-src covers ws:// to the same host (CSP Level 3).
PORTAL_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'; object-src 'none'"
)
IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"
