"""Test support for integration authors: real brokers, real hubs, a cloud double, a
static auth scheme.

Installed as a pytest plugin (entry point ``pytest11``), so ``mosquitto``, ``hub_factory``,
``hub_client`` and ``fake_cloud`` are available in any project that installs station-hub.
"""

from hub.testing.cloud import CloudConnection, FakeCloud
from hub.testing.mosquitto import MosquittoBroker, free_port
from hub.testing.mqtt import publish_and_wait
from hub.testing.rpc import call_rpc

__all__ = [
    "CloudConnection",
    "FakeCloud",
    "MosquittoBroker",
    "call_rpc",
    "free_port",
    "publish_and_wait",
]
