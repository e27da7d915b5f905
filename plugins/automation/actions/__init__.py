"""The built-in action types (``action: <type>``); flow steps live in ``script.py``."""

from __future__ import annotations

from ..platforms import ActionType
from .cloud import CLOUD_ACTIONS
from .device import DEVICE_ACTIONS

BUILTIN_ACTIONS: tuple[ActionType, ...] = (*DEVICE_ACTIONS, *CLOUD_ACTIONS)
