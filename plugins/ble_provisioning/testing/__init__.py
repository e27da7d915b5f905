"""Test kit for BLE provisioning on bumble's virtual radio, usable by third parties.

``VirtualAir`` is the radio, ``BumbleCentral`` gives bleak backends for the hub's side,
and the simulated devices play ESP32 firmware (custom GATT protocol or Improv Wi-Fi).
Import this package only in tests: it needs ``bumble`` (the ``test`` extra).
"""

from plugins.ble_provisioning.bumble_backend import BumbleCentral
from plugins.ble_provisioning.testing.custom_device import Behaviour, SimulatedProvisioningDevice
from plugins.ble_provisioning.testing.improv_device import SimulatedImprovDevice
from plugins.ble_provisioning.testing.radio import VirtualAir, VirtualController


async def central_on_air(air: VirtualAir, address: str = "F0:F0:F0:F0:F0:F0") -> BumbleCentral:
    """The hub's adapter as a bumble host on ``air``, in this process."""
    return BumbleCentral(await air.device("hub", address))


__all__ = [
    "Behaviour",
    "BumbleCentral",
    "SimulatedImprovDevice",
    "SimulatedProvisioningDevice",
    "VirtualAir",
    "VirtualController",
    "central_on_air",
]
