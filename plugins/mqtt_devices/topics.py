"""The topic names of the device protocol (docs/mqtt-protocol.md), built in one place."""

from __future__ import annotations


def device_topic(station_id: str, external_id: str, leaf: str) -> str:
    """``station/S/device/D/<leaf>``, e.g. leaf ``state`` or ``command/result``."""
    return f"station/{station_id}/device/{external_id}/{leaf}"


def subscription(leaf: str) -> str:
    """The filter for one device topic across stations: other stations are counted, not lost."""
    return f"station/+/device/+/{leaf}"


def hub_status_topic(station_id: str) -> str:
    return f"station/{station_id}/hub/status"
