"""The ``cloud_link:`` YAML key and CLOUD_HOST."""

from __future__ import annotations

import pytest
import voluptuous as vol

from plugins.cloud_link.config import CONFIG_SCHEMA, LinkSettings


def test_defaults_follow_the_product_spec() -> None:
    settings = LinkSettings.from_config({"url": "wss://cloud.example/ws/station"}, None)
    assert settings.heartbeat_interval == 30
    assert (settings.backoff.initial, settings.backoff.maximum) == (2, 60)
    assert settings.backoff.jitter == pytest.approx(0.2)
    assert settings.channels == ("state", "events", "presence")
    assert settings.configured_token is None


def test_cloud_host_gives_the_station_url() -> None:
    settings = LinkSettings.from_config({}, "cloud.example:8443")
    assert settings.url == "wss://cloud.example:8443/ws/station"
    # The YAML wins over the environment.
    assert LinkSettings.from_config({"url": "wss://a.example/x"}, "b.example").url == (
        "wss://a.example/x"
    )


@pytest.mark.parametrize("host", ["https://cloud.example", "cloud.example/ws", "  "])
def test_a_bad_cloud_host_is_reported_not_fatal(host: str) -> None:
    settings = LinkSettings.from_config({}, host)
    if host.strip():
        assert settings.url is None
        assert settings.url_error is not None
        assert "CLOUD_HOST" in settings.url_error
    else:
        assert settings.url is None


def test_no_url_and_no_host_means_not_configured() -> None:
    assert LinkSettings.from_config({}, None).url is None


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ws://cloud.example/ws/station", "in clear"),
        ("https://cloud.example/ws/station", "wss://"),
        ("wss:///nohost", "wss://"),
        (42, "wss://"),
    ],
)
def test_unsafe_or_wrong_urls_are_refused(url: object, message: str) -> None:
    with pytest.raises(vol.Invalid) as caught:
        CONFIG_SCHEMA({"url": url})
    assert message in str(caught.value)


@pytest.mark.parametrize(
    "url", ["ws://127.0.0.1:8080/ws/station", "ws://localhost/x", "ws://[::1]/x"]
)
def test_plain_ws_is_allowed_to_loopback(url: str) -> None:
    assert CONFIG_SCHEMA({"url": url})["url"].startswith("ws://")


def test_unknown_keys_and_bad_values_are_refused() -> None:
    with pytest.raises(vol.Invalid):
        CONFIG_SCHEMA({"urll": "wss://x.example"})
    with pytest.raises(vol.Invalid):
        CONFIG_SCHEMA({"channels": ["weather"]})
    with pytest.raises(vol.Invalid):
        CONFIG_SCHEMA({"heartbeat_interval": 0})
