"""The broker address this integration offers devices (``hub.services.DEVICE_BROKER``).

BLE provisioning tells a new device where to connect. Only this integration knows its
broker, so it offers the device-facing address as a typed core service instead of other
integrations reading its YAML. The address never carries the hub's own login: the hub's
account (``username``, or the one in ``mqtt://user:pass@host``) is for the hub alone,
and each device gets its own account (identities.py).
"""

from __future__ import annotations

from hub.services import LOOPBACK_HOSTS, DeviceBroker, without_login

from .config import MqttSettings


def device_broker(settings: MqttSettings) -> DeviceBroker:
    """The configured broker's address when devices can use it, else none.

    ``auto`` and ``embedded`` are decided at start-up and listen on this machine, and a
    loopback URL names this machine too: none of them tells a device where the hub is,
    so ``url`` is None and the asker falls back to the hub's own address.
    """
    address = settings.address
    if address is None:
        return DeviceBroker(url=None, hub_username=settings.local_broker.username)
    if address.host in LOOPBACK_HOSTS:
        return DeviceBroker(url=None, hub_username=address.username)
    # The URL as written (an IPv6 host keeps its brackets), less any login.
    return DeviceBroker(url=without_login(settings.broker), hub_username=address.username)
