"""Integration records and the order they start in."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

# States reported at GET /api/health.
LOADED = "loaded"
SETTING_UP = "setting_up"
RUNNING = "running"
FAILED = "failed"
UNAVAILABLE = "unavailable"
STOPPED = "stopped"


class SetupError(Exception):
    """Raise from ``hub_setup`` for a failure the operator can fix (a port in use, an
    address that does not answer): the hub logs its text as one line, without a traceback,
    and marks the integration failed. The text should name the problem and the fix."""


@dataclass(slots=True)
class Integration:
    name: str
    module: ModuleType | None = None
    state: str = LOADED
    error: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    dependencies: tuple[str, ...] = ()
    # Ordering only: set up after these when they are configured, never failed for them.
    after: tuple[str, ...] = ()

    def fail(self, error: str) -> None:
        self.state = FAILED
        self.error = error

    @property
    def ok(self) -> bool:
        return self.state not in (FAILED,)


def dependency_order(integrations: dict[str, Integration]) -> list[Integration]:
    """Dependencies first; fails (with a reason) those whose dependencies can't start.

    Kahn's algorithm with a sorted ready-set keeps the order deterministic, which makes
    start-up logs comparable across runs. ``after`` names count as edges only when they
    are configured; shutdown walks the same order backwards.
    """
    for integration in integrations.values():
        for dependency in integration.dependencies:
            if dependency not in integrations:
                integration.fail(
                    f"needs integration {dependency!r}, which is not in the configuration"
                )
    remaining = {
        name: {dep for dep in (*item.dependencies, *item.after) if dep in integrations}
        for name, item in integrations.items()
    }
    ordered: list[Integration] = []
    while remaining:
        ready = sorted(name for name, deps in remaining.items() if not deps - _done(ordered))
        if not ready:
            for name in sorted(remaining):
                integrations[name].fail("dependency cycle among: " + ", ".join(sorted(remaining)))
                ordered.append(integrations[name])
            break
        for name in ready:
            ordered.append(integrations[name])
            del remaining[name]
    return ordered


def _done(ordered: list[Integration]) -> set[str]:
    return {item.name for item in ordered}


def fail_dependents(ordered: list[Integration]) -> None:
    """An integration whose dependency failed cannot run either."""
    by_name = {item.name: item for item in ordered}
    for integration in ordered:
        if integration.state == FAILED:
            continue
        for dependency in integration.dependencies:
            required = by_name.get(dependency)
            if required is not None and required.state == FAILED:
                integration.fail(f"dependency {dependency} failed: {required.error}")
                break
