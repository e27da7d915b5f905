"""Test support for integration authors: real brokers, real hubs, a static auth scheme.

Installed as a pytest plugin (entry point ``pytest11``), so ``mosquitto``, ``hub_factory``
and ``hub_client`` are available in any project that installs station-hub.
"""

from hub.testing.mosquitto import MosquittoBroker, free_port
from hub.testing.mqtt import publish_and_wait

__all__ = ["MosquittoBroker", "free_port", "publish_and_wait"]
