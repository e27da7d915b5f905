"""Integration records and the order they start in."""

from __future__ import annotations

import contextlib
import graphlib
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

    The stdlib's ``graphlib`` sorts; each batch of ready names is taken in sorted order,
    which keeps the order deterministic and start-up logs comparable across runs.
    ``after`` names count as edges only when they are configured; shutdown walks the same
    order backwards. On a cycle, what can start still does, and the rest (the cycle and
    whatever waits on it) fails naming them all.
    """
    for integration in integrations.values():
        for dependency in integration.dependencies:
            if dependency not in integrations:
                integration.fail(
                    f"needs integration {dependency!r}, which is not in the configuration"
                )
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for name, item in integrations.items():
        sorter.add(name, *(dep for dep in (*item.dependencies, *item.after) if dep in integrations))
    # After a CycleError graphlib still hands out every node that does not wait on the
    # cycle (documented in its source: "they can continue using the instance").
    with contextlib.suppress(graphlib.CycleError):
        sorter.prepare()
    ordered: list[Integration] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        if not ready:
            break
        ordered.extend(integrations[name] for name in ready)
        sorter.done(*ready)
    stuck = sorted(set(integrations) - {item.name for item in ordered})
    for name in stuck:
        integrations[name].fail("dependency cycle among: " + ", ".join(stuck))
        ordered.append(integrations[name])
    return ordered


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
