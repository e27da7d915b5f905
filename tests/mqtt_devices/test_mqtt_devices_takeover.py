"""Two hubs with one station id on one broker: one clear error instead of a silent flap.

Both hubs connect as ``station-hub-<station id>``; the broker lets only one session have
that client id, so each connection knocks the other off (issue #12). The hub must say so,
once, naming the client id, the station id and the fix.
"""

from __future__ import annotations

import logging

import pytest

from hub.testing.mosquitto import MosquittoBroker
from plugins.mqtt_devices import runtime_for
from tests.mqtt_devices.helpers import STATION
from tests.mqtt_devices.hub_process import until

LOGGER = "plugins.mqtt_devices.takeover"


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
async def test_two_hubs_with_one_station_id_say_so_once(
    start_hub, mosquitto: MosquittoBroker, caplog: pytest.LogCaptureFixture, protocol: str
) -> None:
    caplog.set_level(logging.ERROR, logger=LOGGER)
    first = await start_hub(mosquitto.url, protocol=protocol)
    second = await start_hub(mosquitto.url, protocol=protocol, connected=False)

    def errors() -> list[logging.LogRecord]:
        return [record for record in caplog.records if record.name == LOGGER]

    await until(lambda: bool(errors()), within=30)
    message = errors()[0].getMessage()
    assert f"station-hub-{STATION}" in message
    assert repr(STATION) in message
    assert "hub.station_id" in message and "mqtt_devices.client_id" in message
    # Knocked off again and again, each hub still says it once.
    runtimes = [runtime_for(first), runtime_for(second)]

    def detected() -> int:
        total = 0
        for runtime in runtimes:
            if runtime:
                assert runtime.connection is not None
                total += runtime.connection._takeover.detected
        return total

    await until(lambda: detected() >= 6, 30)
    assert len(errors()) <= 2
