"""The registrations' observer API (what mqtt_devices and cloud_link follow the topic and
RPC method tables with) and the start-up warning for what nothing carries."""

from __future__ import annotations

import logging

from hub.registrar import Registrar, Registrations, RpcMethod, TopicSubscription


def _ignore(*_args: object) -> None:
    return None


def test_a_topic_observer_hears_of_existing_new_and_withdrawn_topics() -> None:
    registrations = Registrations()
    Registrar(registrations, "lamp").mqtt_topic("lamp/+/state", _ignore)
    seen: list[tuple[str, str, str]] = []

    def added(subscription: TopicSubscription) -> None:
        seen.append(("added", subscription.pattern, subscription.integration))

    def removed(subscription: TopicSubscription) -> None:
        seen.append(("removed", subscription.pattern, subscription.integration))

    unsubscribe = registrations.observe_topics(added, removed)
    assert seen == [("added", "lamp/+/state", "lamp")], "existing topics are replayed"
    Registrar(registrations, "door").mqtt_topic("door/#", _ignore, qos=0)
    registrations.withdraw("lamp")
    assert seen[1:] == [("added", "door/#", "door"), ("removed", "lamp/+/state", "lamp")]
    assert list(registrations.topics) == ["door/#"]

    unsubscribe()
    unsubscribe()  # twice is harmless
    Registrar(registrations, "fan").mqtt_topic("fan/+", _ignore)
    registrations.withdraw("door")
    assert len(seen) == 3


def test_rpc_method_observers_and_an_owners_observers_go_with_it() -> None:
    registrations = Registrations()
    served: list[str] = []
    withdrawn: list[str] = []

    def removed(method: RpcMethod) -> None:
        withdrawn.append(method.name)

    registrations.observe_rpc_methods(lambda method: served.append(method.name), removed)
    registrations.observe_rpc_methods(
        lambda method: served.append("owned:" + method.name), owner="link"
    )
    Registrar(registrations, "garage").rpc_method("garage.open", _ignore)
    assert served == ["garage.open", "owned:garage.open"]
    assert registrations.rpc_handler("garage.open") is _ignore
    registrations.withdraw("link")  # the observing integration failed: it hears no more
    Registrar(registrations, "fan").rpc_method("fan.spin", _ignore)
    registrations.withdraw("garage")
    assert served == ["garage.open", "owned:garage.open", "fan.spin"]
    assert withdrawn == ["garage.open"]
    assert registrations.rpc_handler("garage.open") is None


def test_a_failing_observer_is_logged_and_the_registration_stands(caplog):
    registrations = Registrations()

    def broken(_subscription: TopicSubscription) -> None:
        raise RuntimeError("observer bug")

    registrations.observe_topics(broken)
    with caplog.at_level(logging.ERROR, logger="hub.registrar"):
        Registrar(registrations, "lamp").mqtt_topic("lamp/+/state", _ignore)
    assert "lamp/+/state" in registrations.topics
    assert "An observer of MQTT topics failed on lamp/+/state of lamp" in caplog.text


def test_unserved_names_each_integration_and_what_nothing_carries():
    registrations = Registrations()
    garage = Registrar(registrations, "garage")
    garage.mqtt_topic("garage/+/status", _ignore)
    garage.mqtt_topic("garage/+/alarm", _ignore)
    garage.rpc_method("garage.open", _ignore)
    Registrar(registrations, "fan").rpc_method("fan.spin", _ignore)
    assert registrations.unserved() == [
        "garage registers MQTT topics that no running integration subscribes to "
        "(is mqtt_devices configured?): garage/+/alarm, garage/+/status",
        "fan registers RPC methods that no running integration serves "
        "(is cloud_link configured?): fan.spin",
        "garage registers RPC methods that no running integration serves "
        "(is cloud_link configured?): garage.open",
    ]
    stop = registrations.observe_topics(None)
    registrations.observe_rpc_methods(None)
    assert registrations.unserved() == []
    stop()
    assert len(registrations.unserved()) == 1


async def test_the_hub_warns_at_start_about_topics_and_methods_nothing_carries(
    hub_factory, fakes, caplog
):
    with caplog.at_level(logging.WARNING, logger="hub.core"):
        hub = await hub_factory({"echo": {}}, integrations=fakes)
    expected = [
        "echo registers MQTT topics that no running integration subscribes to "
        "(is mqtt_devices configured?): echo/+/ping",
        "echo registers RPC methods that no running integration serves "
        "(is cloud_link configured?): echo.say",
    ]
    assert [note for note in hub.startup_notes if note.startswith("echo ")] == expected
    assert all(line in caplog.text for line in expected)

    # The cloud link carries RPC methods even before it is claimed; without a cloud URL it
    # says itself that nothing can call them, and how to give it one.
    linked = await hub_factory({"echo": {}, "cloud_link": {}}, integrations=fakes)
    assert [note for note in linked.startup_notes if note.startswith("echo ")] == expected[:1]
    assert (
        "cloud_link has no cloud URL (set cloud_link: url, or CLOUD_HOST), so the cloud "
        "cannot call the RPC methods integrations registered: echo.say (echo)"
    ) in linked.startup_notes
