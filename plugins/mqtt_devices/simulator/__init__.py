"""``station-hub simulate``: simulated ESP32 devices for demos, tests and the benchmark."""

from .device import SimulatedDevice
from .fleet import Fleet, FleetOptions

__all__ = ["Fleet", "FleetOptions", "SimulatedDevice"]
