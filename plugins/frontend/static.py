"""Serves the portal: ``/`` (never cached) and its files under a content-hashed path.

Every file of ``www/`` is read once at start, with its gzip form. The build id is a hash
of the whole tree, so ``/frontend/<build>/...`` can be cached for a year: a changed file
changes the build id, which changes the URLs ``index.html`` names, and ``index.html`` is
revalidated on every load. ES modules import each other by relative path, so they stay
under the same build id without a bundler. Panels of other integrations are served the
same way under ``/frontend/panels/<name>/<version>/``.
"""

from __future__ import annotations

import gzip
import mimetypes
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from hub.auth import PUBLIC, requires
from hub.http.errors import ApiError
from hub.http.json import json_response
from hub.registrar import Registrar

from .const import IMMUTABLE, NO_CACHE, PANEL_PREFIX, PORTAL_CSP, STATIC_PREFIX
from .panels import Panels, tree_digest

WWW = Path(__file__).parent / "www"
_TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".html": "text/html",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".txt": "text/plain",
}
_COMPRESSIBLE = {".js", ".mjs", ".css", ".html", ".svg", ".json", ".txt"}


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    gzipped: bytes | None
    content_type: str


def load_asset(path: Path, body: bytes | None = None) -> Asset:
    data = path.read_bytes() if body is None else body
    suffix = path.suffix.lower()
    guessed = mimetypes.guess_type(path.name)[0]
    content_type = _TYPES.get(suffix) or guessed or "application/octet-stream"
    packed = gzip.compress(data, 9, mtime=0) if suffix in _COMPRESSIBLE else None
    if packed is not None and len(packed) >= len(data):
        packed = None
    return Asset(data, packed, content_type)


def asset_response(request: web.Request, asset: Asset, cache: str) -> web.Response:
    """The portal's headers: its own CSP (stricter than 'none' would be useless for a page),
    the cache rule, and the gzip form when the browser takes it."""
    headers = {
        "Content-Security-Policy": PORTAL_CSP,
        "Cache-Control": cache,
        "Cross-Origin-Opener-Policy": "same-origin",
        "Vary": "Accept-Encoding",
    }
    body = asset.body
    if asset.gzipped is not None and "gzip" in request.headers.get("Accept-Encoding", ""):
        body = asset.gzipped
        headers["Content-Encoding"] = "gzip"
    textual = asset.content_type.startswith("text/") or asset.content_type.endswith("json")
    return web.Response(
        body=body,
        content_type=asset.content_type,
        charset="utf-8" if textual else None,
        headers=headers,
    )


def _inside(root: Path, relative: str) -> Path | None:
    """``root/relative`` if that is a file under ``root`` (no ``..`` or symlink escape)."""
    candidate = (root / relative).resolve()
    if root not in candidate.parents or not candidate.is_file():
        return None
    return candidate


def _not_found() -> ApiError:
    return ApiError(404, "not_found", "no such portal file")


class PortalFiles:
    """The portal's files in memory, the index with the build id written in."""

    def __init__(self, root: Path = WWW) -> None:
        self.root = root.resolve()
        self.build = tree_digest(self.root)
        self.assets: dict[str, Asset] = {}
        for path in sorted(p for p in self.root.rglob("*") if p.is_file()):
            relative = path.relative_to(self.root).as_posix()
            if relative == "index.html":
                continue
            self.assets[relative] = load_asset(path)
        template = (self.root / "index.html").read_text(encoding="utf-8")
        html = template.replace("{{BUILD}}", f"{STATIC_PREFIX}/{self.build}")
        self.index = load_asset(self.root / "index.html", html.encode())


class PortalViews:
    def __init__(self, files: PortalFiles, panels: Panels, running: Callable[[str], bool]) -> None:
        self.files = files
        self.panels = panels
        self.running = running
        self._panel_assets: dict[tuple[str, str], Asset] = {}

    async def index(self, request: web.Request) -> web.Response:
        """The portal's page (revalidated on every load; it names the current build)."""
        return asset_response(request, self.files.index, NO_CACHE)

    async def asset(self, request: web.Request) -> web.Response:
        """A portal file; cached for good when the build id in its path is the current one."""
        asset = self.files.assets.get(request.match_info["path"])
        if asset is None:
            raise _not_found()
        current = request.match_info["build"] == self.files.build
        return asset_response(request, asset, IMMUTABLE if current else NO_CACHE)

    async def panel_asset(self, request: web.Request) -> web.Response:
        """A file of an integration's panel, cached like the portal's own."""
        panel = self.panels.by_name.get(request.match_info["panel"])
        if panel is None:
            raise _not_found()
        relative = request.match_info["path"]
        asset = self._panel_assets.get((panel.name, relative))
        if asset is None:
            path = _inside(panel.static_dir, relative)
            if path is None:
                raise _not_found()
            # Read and compressed once: a panel's files do not change while the hub runs
            # (its version is their hash, taken at start).
            asset = self._panel_assets[(panel.name, relative)] = load_asset(path)
        current = request.match_info["version"] == panel.version
        return asset_response(request, asset, IMMUTABLE if current else NO_CACHE)

    async def list_panels(self, request: web.Request) -> web.Response:
        """The pages integrations add to the portal that the caller's role sees."""
        role = request["principal"].role
        visible = self.panels.visible(role, self.running)
        return json_response([panel.as_dict() for panel in visible])


def register_static_routes(registrar: Registrar, views: PortalViews) -> None:
    route = registrar.http_route
    tags = ("frontend",)
    route("GET", "/", views.index, auth=PUBLIC, tags=tags)
    # Regexes without braces: OpenAPI's path templates cannot hold them.
    asset_path = f"{STATIC_PREFIX}/{{build:[0-9a-f]+}}/{{path:.+}}"
    route("GET", asset_path, views.asset, auth=PUBLIC, tags=tags)
    route(
        "GET",
        f"{PANEL_PREFIX}/{{panel}}/{{version:[0-9a-f]+}}/{{path:.+}}",
        views.panel_asset,
        auth=PUBLIC,
        tags=tags,
    )
    route("GET", "/api/frontend/panels", views.list_panels, auth=requires("user"), tags=tags)
