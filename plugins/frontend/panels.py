"""Portal pages added by integrations through the ``hub_frontend_panels`` hook.

A panel is an ES module (plus any files beside it) shipped in the integration's own
package. The portal lists the panels the signed-in user's role may see and imports the
module when its page opens; the module exports ``render(container, context)``.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.plugins import call_for

from .const import HOOK, PANEL_PREFIX

if TYPE_CHECKING:
    from hub.core import Hub

_LOGGER = logging.getLogger(__name__)

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
KINDS = ("page", "widget")
BUILTIN_WIDGETS = ("value", "gauge", "chart")


class PanelError(ValueError):
    """A panel an integration handed over cannot be served (bad name, missing file...)."""


@dataclass(frozen=True, slots=True)
class Panel:
    """One portal page: ``static_dir/module`` is imported by the browser.

    ``roles`` are the global roles that see it in the navigation (None: everyone signed
    in); the routes the page calls still decide on their own what each role may do.
    ``kind`` is ``page`` (a navigation entry) or ``widget`` (a dashboard widget type named
    after the panel, drawn by the module from the value it is bound to).
    """

    name: str
    title: str
    static_dir: Path
    module: str = "panel.js"
    roles: tuple[str, ...] | None = None
    order: int = 100
    kind: str = "page"
    integration: str = field(default="", compare=False)
    version: str = field(default="", compare=False)

    def visible_to(self, role: str | None) -> bool:
        return self.roles is None or role in self.roles

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "integration": self.integration,
            "url": f"{PANEL_PREFIX}/{self.name}/{self.version}/{self.module}",
            "roles": list(self.roles) if self.roles is not None else None,
            "order": self.order,
            "kind": self.kind,
        }


def tree_digest(directory: Path) -> str:
    """A short hash of every file's path and bytes: the cache-busting version of a tree."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(directory)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


class Panels:
    """The panels every integration registered, checked and keyed by name."""

    def __init__(self) -> None:
        self.by_name: dict[str, Panel] = {}

    def register_for(self, integration: str) -> Callable[[Panel], None]:
        def register(panel: Panel) -> None:
            self.add(panel, integration)

        return register

    def add(self, panel: Panel, integration: str) -> None:
        if not isinstance(panel, Panel):
            raise PanelError(f"{integration}: register a plugins.frontend.Panel, not {panel!r}")
        if not _NAME.match(panel.name):
            raise PanelError(f"{integration}: panel name {panel.name!r} must match {_NAME.pattern}")
        if panel.kind not in KINDS:
            raise PanelError(f"{integration}: panel kind {panel.kind!r} is not one of {KINDS}")
        if panel.kind == "widget" and panel.name in BUILTIN_WIDGETS:
            raise PanelError(f"{integration}: {panel.name!r} is a built-in widget type")
        existing = self.by_name.get(panel.name)
        if existing is not None:
            raise PanelError(
                f"{integration}: panel {panel.name!r} is already provided by {existing.integration}"
            )
        directory = Path(panel.static_dir).resolve()
        module = (directory / panel.module).resolve()
        if not module.is_file() or directory not in module.parents:
            raise PanelError(f"{integration}: panel {panel.name!r} has no module {module}")
        self.by_name[panel.name] = Panel(
            name=panel.name,
            title=panel.title,
            static_dir=directory,
            module=panel.module,
            roles=tuple(panel.roles) if panel.roles is not None else None,
            order=panel.order,
            kind=panel.kind,
            integration=integration,
            version=tree_digest(directory),
        )

    def widget_types(self) -> set[str]:
        """Dashboard widget types: the built-in ones and every widget panel's name."""
        extra = {name for name, panel in self.by_name.items() if panel.kind == "widget"}
        return {*BUILTIN_WIDGETS, *extra}

    def visible(self, role: str | None, running: Callable[[str], bool]) -> list[Panel]:
        return sorted(
            (p for p in self.by_name.values() if p.visible_to(role) and running(p.integration)),
            key=lambda p: (p.order, p.title),
        )


def collect(hub: Hub, names: Sequence[str]) -> Panels:
    """Ask every loaded integration for its panels; one that fails is logged and skipped
    (a broken page must not take the portal down)."""
    panels = Panels()
    for name in names:
        try:
            call_for(hub.manager, name, HOOK, register=panels.register_for(name))
        except Exception as error:  # reported; a broken page must not stop the portal
            _LOGGER.error("Integration %s: its portal panel is not served: %s", name, error)
    return panels
