"""A trace per run: what triggered it, each condition's result, each step's outcome and time.

The last ``TRACES_KEPT`` traces of each automation are kept in memory (as Home Assistant
does); they are for finding out why an automation did or did not act, not a history.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from hub.timestamps import iso

from .const import TRACES_KEPT

# How a run ended.
RUNNING = "running"
FINISHED = "finished"  # every step ran
STOPPED = "stopped"  # a condition said no
FAILED = "failed"  # a step failed
CANCELLED = "cancelled"  # restart mode, disabled, deleted, or the hub stopping


@dataclass(slots=True)
class Step:
    path: str
    kind: str
    started: float
    duration: float | None = None
    outcome: str = RUNNING  # ok, failed, timeout, skipped, cancelled
    result: Any = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "action": self.kind,
            "startedAt": iso(self.started),
            "duration": None if self.duration is None else round(self.duration, 6),
            "outcome": self.outcome,
            "result": self.result,
            "error": self.error,
        }


@dataclass(slots=True)
class Trace:
    automation_id: str
    trigger: dict[str, Any]
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    started: float = field(default_factory=time.time)
    finished: float | None = None
    state: str = RUNNING
    error: str | None = None
    conditions: list[dict[str, Any]] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)

    def condition(self, path: str, kind: str, result: bool, error: str | None = None) -> None:
        entry: dict[str, Any] = {"path": path, "condition": kind, "result": result}
        if error is not None:
            entry["error"] = error
        self.conditions.append(entry)

    def step(self, path: str, kind: str) -> Step:
        step = Step(path, kind, time.time())
        self.steps.append(step)
        return step

    def end(self, state: str, error: str | None = None) -> None:
        self.state = state
        self.error = error
        self.finished = time.time()

    def as_dict(self) -> dict[str, Any]:
        return {
            "runId": self.run_id,
            "automationId": self.automation_id,
            "state": self.state,
            "error": self.error,
            "startedAt": iso(self.started),
            "finishedAt": iso(self.finished) if self.finished is not None else None,
            "trigger": self.trigger,
            "conditions": list(self.conditions),
            "actions": [step.as_dict() for step in self.steps],
        }


class TraceStore:
    def __init__(self, keep: int = TRACES_KEPT) -> None:
        self._keep = keep
        self._traces: dict[str, deque[Trace]] = {}

    def add(self, trace: Trace) -> None:
        kept = self._traces.get(trace.automation_id)
        if kept is None:
            kept = self._traces[trace.automation_id] = deque(maxlen=self._keep)
        kept.append(trace)

    def of(self, automation_id: str) -> list[Trace]:
        """Newest first."""
        return list(reversed(self._traces.get(automation_id, ())))

    def forget(self, automation_id: str) -> None:
        self._traces.pop(automation_id, None)
