"""Telling that another client uses the hub's client id, and saying how to fix it.

A broker allows one connection per client id: when a second client connects with the
same id, the first is disconnected (MQTT 5 says why: reason code 0x8E, "session taken
over"; 3.1.1 just closes the socket). Two hubs with the same station id (so the same
default client id) on one broker therefore knock each other off every few seconds, and
without this all the log shows is "Disconnected during message iteration".

Under MQTT 5 the reason code settles it at once. Under 3.1.1 the pattern does: sessions
that the broker ends shortly after they were set up, several in a row.
"""

from __future__ import annotations

import logging

_LOGGER = logging.getLogger(__name__)

SESSION_TAKEN_OVER = 0x8E
# A session that ends within this many seconds of connecting counts as knocked off.
SHORT_SESSION = 30.0
# Short sessions in a row that make the 3.1.1 pattern.
IN_A_ROW = 3


def reason_code(error: BaseException) -> int | None:
    """The MQTT reason or error code behind an aiomqtt error, if there is one."""
    seen: BaseException | None = error
    while seen is not None:
        code = getattr(seen, "rc", None)
        if code is not None:
            value = getattr(code, "value", code)
            return value if isinstance(value, int) else None
        seen = seen.__cause__
    return None


class TakeoverDetector:
    def __init__(self, client_id: str, station_id: str | None = None) -> None:
        self._client_id = client_id
        self._station_id = station_id
        self._short = 0
        self._reported = False
        self.detected = 0

    def session_ended(self, error: BaseException, lasted: float | None) -> None:
        """One session (or attempt) ended with ``error`` after ``lasted`` seconds connected."""
        if lasted is None or reason_code(error) is None:
            # Never connected, or ended on our side (a timeout): says nothing about this.
            return
        if lasted >= SHORT_SESSION:
            self._short = 0
            self._reported = False
            return
        self._short += 1
        if reason_code(error) == SESSION_TAKEN_OVER:
            self._report("the broker said the session was taken over (MQTT 5 reason 0x8E)")
        elif self._short >= IN_A_ROW:
            self._report(
                f"the broker ended {self._short} sessions in a row within "
                f"{SHORT_SESSION:g} s of connecting"
            )

    def _report(self, evidence: str) -> None:
        self.detected += 1
        if self._reported:
            return
        self._reported = True
        station = f" (station id {self._station_id!r})" if self._station_id else ""
        _LOGGER.error(
            "Another MQTT client is connected with this hub's client id %r%s: %s. "
            "Two hubs with the same station id on one broker knock each other off. "
            "Give each hub its own hub.station_id, or set mqtt_devices.client_id.",
            self._client_id,
            station,
            evidence,
        )
