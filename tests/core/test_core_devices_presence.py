"""PresenceMonitor on its own: memory, events and queued writes, without a hub or database."""

from typing import cast

from hub import events
from hub.db import tables
from hub.db.batch_writer import BatchWriter
from hub.devices.models import Device
from hub.devices.presence import PresenceMonitor
from hub.event_bus import EventBus
from hub.timestamps import iso


class RecordingWriter:
    """Stands in for the BatchWriter: records what would be queued."""

    def __init__(self):
        self.updates = []

    def update(self, table, key, values):
        self.updates.append((table, key, values))


def monitor(*devices, offline_after=10.0):
    bus, writer = EventBus(), RecordingWriter()
    presence = PresenceMonitor(
        bus,
        cast(BatchWriter, writer),  # a stand-in with BatchWriter's update() only
        {device.id: device for device in devices},
        offline_after=offline_after,
    )
    fired = []
    bus.listen(events.DEVICE_PRESENCE_CHANGED, lambda event: fired.append(event.data))
    return presence, writer, fired


def make(device_id):
    return Device(
        id=device_id, external_id=f"ext-{device_id}", name=device_id, type="x", transport="t"
    )


def test_a_message_from_an_online_device_touches_only_memory():
    device = make("a")
    presence, writer, fired = monitor(device)
    presence.seen(device, 100.0)
    assert device.online
    assert fired == [
        {"deviceId": "a", "externalId": "ext-a", "online": True, "lastSeen": iso(100.0)}
    ]
    assert writer.updates == [(tables.devices, "a", {"online": True, "last_seen": 100.0})]
    changes = presence.changes
    presence.seen(device, 101.0)
    presence.heartbeat(device, rssi=-70)
    assert len(fired) == 1 and len(writer.updates) == 1  # still online: nothing new
    assert device.rssi == -70 and device.last_seen > 101.0
    assert presence.changes == changes + 2  # but a listing would show the new last_seen


def test_a_sweep_marks_offline_only_the_devices_silent_too_long():
    quiet, chatty = make("quiet"), make("chatty")
    presence, writer, fired = monitor(quiet, chatty, offline_after=10.0)
    presence.seen(quiet, 100.0)
    presence.seen(chatty, 105.0)
    fired.clear()
    presence.sweep(112.0)
    assert not quiet.online and chatty.online
    assert [(data["deviceId"], data["online"]) for data in fired] == [("quiet", False)]
    assert writer.updates[-1] == (tables.devices, "quiet", {"online": False})
    presence.sweep(113.0)
    assert len(fired) == 1  # offline already: no second event
