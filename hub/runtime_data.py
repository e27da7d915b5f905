"""Each integration's working state on one hub, typed by the key that names it.

An integration keeps its running objects (connections, stores, tasks) on the hub, not in
module globals: one imported module serves every hub in the process, and the test
fixtures start several. A bare ``dict[str, Any]`` would do that job but makes every reader
cast and lets anyone overwrite anyone's state by a typo. Here the integration declares a
``RuntimeKey[T]`` once, at module level (a key is a name, not state, so a global is fine),
stores its object with ``hub.runtime_data.set(KEY, value)`` and reads it back as a ``T``.

The core forgets an integration's values when it shuts down or fails (by the key's
``owner``), so nothing outlives the integration that made it. Another integration that
needs something from it asks for a typed service (``hub/services.py``) rather than
reading its runtime.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RuntimeKey(Generic[T]):
    """Names one value an integration keeps on the hub; ``T`` is that value's type.

    ``owner`` is the integration's domain (``"hub"`` for the core's own values); ``name``
    tells apart several values of one owner.
    """

    owner: str
    name: str = "runtime"

    def __str__(self) -> str:
        return f"{self.owner}.{self.name}"


class RuntimeData:
    """The values integrations keep on one hub, by ``RuntimeKey``."""

    __slots__ = ("_values",)

    def __init__(self) -> None:
        self._values: dict[RuntimeKey[Any], Any] = {}

    def set(self, key: RuntimeKey[T], value: T) -> T:
        """Store ``value`` (replacing any earlier one) and give it back, for chaining."""
        self._values[key] = value
        return value

    def get(self, key: RuntimeKey[T]) -> T | None:
        """The value, or None when the integration has not stored it (not set up, or
        stopped)."""
        return cast("T | None", self._values.get(key))

    def __getitem__(self, key: RuntimeKey[T]) -> T:
        """The value, for code that runs only while its integration does; a clear
        ``LookupError`` otherwise, instead of an ``AttributeError`` on None later."""
        try:
            return cast("T", self._values[key])
        except KeyError:
            raise LookupError(
                f"{key} is not on this hub: the {key.owner} integration is not set up "
                "(not configured, failed, or stopped)"
            ) from None

    def __contains__(self, key: RuntimeKey[Any]) -> bool:
        return key in self._values

    def setdefault(self, key: RuntimeKey[T], factory: Callable[[], T]) -> T:
        """The value, made by ``factory`` the first time it is asked for."""
        if key not in self._values:
            self._values[key] = factory()
        return cast("T", self._values[key])

    def pop(self, key: RuntimeKey[T]) -> T | None:
        """Take the value away (an integration's shutdown does this itself when it must
        stop the object first)."""
        return cast("T | None", self._values.pop(key, None))

    def forget(self, owner: str) -> None:
        """Drop every value ``owner`` stored; the core calls this once the integration has
        shut down or failed."""
        for key in [key for key in self._values if key.owner == owner]:
            del self._values[key]
