"""Long-lived API tokens for scripts: create (shown once), list, revoke — one's own only.

Creating a token needs a signed-in session (a JWT): an API token cannot mint further API
tokens, so a leaked one cannot make itself permanent.
"""

from __future__ import annotations

import voluptuous as vol
from aiohttp import web

from hub.auth import requires
from hub.http.errors import ApiError
from hub.http.json import json_response, read_json
from hub.registrar import Registrar

from .http_errors import store_errors
from .runtime import AuthRuntime
from .sessions import MAX_API_TOKEN_NAME_CHARS

TAGS = ("auth",)
DAY = 86400
MAX_EXPIRY_DAYS = 3650

CREATE = vol.Schema(
    {
        vol.Required("name"): vol.All(str, vol.Length(min=1, max=MAX_API_TOKEN_NAME_CHARS)),
        vol.Optional("expiresInDays"): vol.Any(
            None, vol.All(int, vol.Range(min=1, max=MAX_EXPIRY_DAYS))
        ),
    }
)


def register_token_routes(registrar: Registrar, runtime: AuthRuntime) -> None:
    user = requires("user")

    async def create_token(request: web.Request) -> web.Response:
        """Create a long-lived API token; the token is in this answer and nowhere else."""
        principal = request["principal"]
        if principal.extra.get("via") != "jwt":
            raise ApiError(
                403, "forbidden", "API tokens can only be created from a signed-in session"
            )
        body = await read_json(request, CREATE)
        days = body.get("expiresInDays")
        expires_at = runtime.sessions.clock() + days * DAY if days else None
        with store_errors():
            record, secret = await runtime.sessions.create_api_token(
                principal.id, body["name"], expires_at=expires_at
            )
        return json_response({**record.as_dict(), "token": secret}, status=201)

    async def list_tokens(request: web.Request) -> web.Response:
        """Your API tokens (never the tokens themselves)."""
        records = await runtime.sessions.list_api_tokens(request["principal"].id)
        return json_response([record.as_dict() for record in records])

    async def revoke_token(request: web.Request) -> web.Response:
        """Revoke one of your API tokens; it stops working at once."""
        revoked = await runtime.sessions.revoke_api_token(
            request["principal"].id, request.match_info["token_id"]
        )
        if not revoked:
            raise ApiError(404, "not_found", "you have no API token with that id")
        return web.Response(status=204)

    registrar.http_route(
        "POST", "/api/auth/tokens", create_token, auth=user, tags=TAGS, request_schema=CREATE
    )
    registrar.http_route("GET", "/api/auth/tokens", list_tokens, auth=user, tags=TAGS)
    registrar.http_route(
        "DELETE", "/api/auth/tokens/{token_id}", revoke_token, auth=user, tags=TAGS
    )
