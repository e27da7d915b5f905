"""The built-in trigger types, each a ``TriggerType`` registered like a third party's."""

from __future__ import annotations

from ..platforms import TriggerType
from .device import DEVICE_TRIGGERS
from .events import EVENT_TRIGGERS
from .time import TIME_TRIGGERS

BUILTIN_TRIGGERS: tuple[TriggerType, ...] = (*DEVICE_TRIGGERS, *TIME_TRIGGERS, *EVENT_TRIGGERS)
