"""Finding, loading and calling integrations through pluggy.

The plugin manager is built by a factory, never at import time. Hooks are called one
integration at a time (``call_for``, still through pluggy's own calling) so an exception
is pinned on the integration that raised it instead of aborting a hook call shared by all
of them.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import logging
from collections.abc import Iterable
from types import ModuleType
from typing import Any

import pluggy

from hub import hookspecs

_LOGGER = logging.getLogger(__name__)


def create_plugin_manager() -> pluggy.PluginManager:
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    return manager


def available_integrations() -> dict[str, importlib.metadata.EntryPoint]:
    """Installed integrations by name, built-in and third-party alike."""
    found: dict[str, importlib.metadata.EntryPoint] = {}
    for entry_point in importlib.metadata.entry_points(group=hookspecs.ENTRY_POINT_GROUP):
        if entry_point.name in found:
            _LOGGER.warning(
                "Integration %s is installed twice (%s and %s); using the first",
                entry_point.name,
                found[entry_point.name].value,
                entry_point.value,
            )
            continue
        found[entry_point.name] = entry_point
    return found


def load_integration(
    manager: pluggy.PluginManager,
    name: str,
    source: importlib.metadata.EntryPoint | ModuleType,
) -> ModuleType:
    """Import the integration and register it; raises with a message naming what broke."""
    module = source if isinstance(source, ModuleType) else source.load()
    unknown = [
        attribute
        for attribute, value in vars(module).items()
        if attribute.startswith("hub_") and callable(value) and not hasattr(manager.hook, attribute)
    ]
    if unknown:
        raise ImportError(
            f"defines {', '.join(sorted(unknown))}, which is not a hook "
            f"(known hooks: {', '.join(sorted(_hook_names(manager)))})"
        )
    manager.register(module, name=name)
    return module


def _hook_names(manager: pluggy.PluginManager) -> Iterable[str]:
    return [name for name in vars(manager.hook) if name.startswith("hub_")]


def call_for(manager: pluggy.PluginManager, name: str, hook: str, **kwargs: Any) -> Any:
    """Call one integration's implementation of ``hook``; None when it has none.

    The call goes through pluggy (a subset hook caller without the other integrations'
    implementations), so hook wrappers, tracing (``add_hookcall_monitoring``) and
    ``set_blocked`` apply as they would to a call shared by all of them, while an
    exception is still pinned on the one integration that raised it.
    """
    caller = getattr(manager.hook, hook)
    others = [
        implementation.plugin
        for implementation in caller.get_hookimpls()
        if implementation.plugin_name != name
        and not (implementation.wrapper or implementation.hookwrapper)
    ]
    results = manager.subset_hook_caller(hook, others)(**kwargs)
    if caller.spec is not None and caller.spec.opts.get("firstresult"):
        return results
    # pluggy leaves None results out of the list: an empty list is "returned None".
    return results[0] if results else None


async def resolve(value: Any) -> Any:
    """Await what a hook returned if it is awaitable (hooks themselves are sync)."""
    if inspect.isawaitable(value):
        return await value
    return value
