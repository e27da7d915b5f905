"""The pure parts: config parsing, backoff, payload limits, routing table, probe packet."""

from __future__ import annotations

import pytest
import voluptuous as vol

from hub.backoff import Backoff, BackoffPolicy
from hub.registrar import MqttMessage, Registrar, Registrations
from plugins.mqtt_devices.config import (
    CONFIG_SCHEMA,
    parse_broker_url,
    settings_from_config,
)
from plugins.mqtt_devices.drops import DropCounter
from plugins.mqtt_devices.payloads import PayloadDecoder, Rejected
from plugins.mqtt_devices.probe import connect_packet
from plugins.mqtt_devices.router import TopicRouter


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mqtt://broker.lan", ("broker.lan", 1883, False, None, None)),
        ("mqtts://broker.lan", ("broker.lan", 8883, True, None, None)),
        ("mqtt://u:p%40ss@10.0.0.2:1884", ("10.0.0.2", 1884, False, "u", "p@ss")),
        ("mqtt://[::1]:1885/", ("::1", 1885, False, None, None)),
    ],
)
def test_broker_urls(url, expected):
    address = parse_broker_url(url)
    assert (address.host, address.port, address.tls, address.username, address.password) == expected
    assert "p@ss" not in address.url


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://broker", "scheme 'http'"),
        ("broker:1883", "scheme 'broker'"),
        ("mqtt://", "names no host"),
        ("mqtt://host:99999", "invalid port"),
        ("mqtt://host/topic", "path"),
        (1883, "must be a string"),
    ],
)
def test_bad_broker_urls_say_why(url, message):
    with pytest.raises(vol.Invalid, match=message):
        CONFIG_SCHEMA({"broker": url})


def test_defaults_and_explicit_credentials_win():
    settings = settings_from_config(
        CONFIG_SCHEMA({"broker": "mqtt://a:b@host", "username": "hub", "password": "secret"})
    )
    assert settings.address is not None
    assert (settings.address.username, settings.address.password) == ("hub", "secret")
    assert settings.protocol == 4 and settings.accept_new_devices
    assert settings_from_config(CONFIG_SCHEMA({"protocol": 5})).protocol == 5
    assert settings_from_config(CONFIG_SCHEMA({})).broker == "auto"


def test_unknown_keys_and_missing_tls_files_are_refused(tmp_path):
    with pytest.raises(vol.Invalid):
        CONFIG_SCHEMA({"brokr": "embedded"})
    with pytest.raises(vol.Invalid, match="does not exist"):
        CONFIG_SCHEMA({"broker": "mqtts://h", "tls": {"ca": str(tmp_path / "missing.pem")}})


def test_backoff_doubles_with_jitter_up_to_the_maximum_and_resets_when_stable():
    policy = BackoffPolicy(initial=1.0, maximum=8.0, jitter=0.2, stable_after=10.0)
    low = Backoff(policy, uniform=lambda a, b: a)
    high = Backoff(policy, uniform=lambda a, b: b)
    assert [round(low.next_delay(), 3) for _ in range(6)] == [0.8, 1.6, 3.2, 6.4, 6.4, 6.4]
    assert [round(high.next_delay(), 3) for _ in range(5)] == [1.2, 2.4, 4.8, 8.0, 8.0]
    low.connection_ended(3.0)
    assert low.attempt == 6
    low.connection_ended(10.0)
    assert round(low.next_delay(), 3) == 0.8


def test_decoder_limits():
    decoder = PayloadDecoder(max_bytes=100, max_nesting=3)
    assert decoder.json_object(b'{"a": [1, {"b": 2}]}') == {"a": [1, {"b": 2}]}
    # Brackets inside strings do not count against the depth.
    assert decoder.json_object(b'{"a": "[[[[{{{{"}') == {"a": "[[[[{{{{"}
    with pytest.raises(Rejected) as too_deep:
        decoder.json_object(b'{"a": [[{"b": 1}]]}')
    assert too_deep.value.reason == "too_deep"
    with pytest.raises(Rejected) as oversize:
        decoder.json_object(b"{" + b" " * 200 + b"}")
    assert oversize.value.reason == "oversize"


def test_router_forgets_withdrawn_handlers() -> None:
    registrations = Registrations()
    calls: list[str] = []
    Registrar(registrations, "a").mqtt_topic("x/+", lambda message: calls.append("a"))
    Registrar(registrations, "b").mqtt_topic("x/#", lambda message: calls.append("b"))
    drops = DropCounter()
    router = TopicRouter(registrations.topics, drops, handler_timeout=1)
    # As the runtime wires it: the router hears of each change through the observer API.
    registrations.observe_topics(
        lambda _added: router.topics_changed(), lambda _removed: router.topics_changed()
    )
    router.deliver(MqttMessage("x/1", b""))
    assert sorted(calls) == ["a", "b"]
    registrations.withdraw("a")
    calls.clear()
    router.deliver(MqttMessage("x/1", b""))
    assert calls == ["b"]
    router.deliver(MqttMessage("y/1", b""))
    assert drops.counts == {"no_handler": 1}
    assert router.received == 3


def test_drop_log_is_rate_limited(caplog):
    drops = DropCounter(log_every=3600)
    for _ in range(5):
        drops.drop("oversize", "t", "too big")
    assert drops.counts == {"oversize": 5}
    assert len([r for r in caplog.records if "oversize" in r.getMessage()]) == 1


def test_probe_packet_is_a_valid_connect():
    packet = connect_packet("probe")
    assert packet[0] == 0x10 and packet[1] == len(packet) - 2
    assert packet[2:8] == b"\x00\x04MQTT" and packet[8] == 4
