"""Environment settings: the HUB_ prefix, the seed's names, and config/.env."""

import pytest

from hub.settings import load_settings

SEED_NAMES = ["JWT_SECRET", "AGENT_TOKEN", "CLOUD_HOST", "BASE_URL", "APP_ID"]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in SEED_NAMES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(f"HUB_{name}", raising=False)
    monkeypatch.delenv("HUB_DATABASE_URL", raising=False)


def test_seed_aliases_are_accepted(monkeypatch, tmp_path):
    monkeypatch.setenv("JWT_SECRET", "x" * 40)
    monkeypatch.setenv("AGENT_TOKEN", "agent")
    monkeypatch.setenv("CLOUD_HOST", "cloud.example")
    monkeypatch.setenv("BASE_URL", "http://gateway")
    monkeypatch.setenv("APP_ID", "app-1")
    settings = load_settings(tmp_path)
    assert settings.jwt_secret is not None and settings.agent_token is not None
    assert settings.jwt_secret.get_secret_value() == "x" * 40
    assert settings.agent_token.get_secret_value() == "agent"
    assert (settings.cloud_host, settings.base_url, settings.app_id) == (
        "cloud.example",
        "http://gateway",
        "app-1",
    )
    assert "x" * 40 not in repr(settings)  # secrets never print


def test_hub_prefix_wins_over_the_seed_alias(monkeypatch, tmp_path):
    monkeypatch.setenv("HUB_APP_ID", "from-hub-prefix")
    monkeypatch.setenv("APP_ID", "from-seed-name")
    assert load_settings(tmp_path).app_id == "from-hub-prefix"


def test_dotenv_in_the_config_directory_is_read(tmp_path):
    (tmp_path / ".env").write_text(
        "CLOUD_HOST=from-dotenv\nHUB_DATABASE_URL=sqlite+aiosqlite:///x\n"
    )
    settings = load_settings(tmp_path)
    assert settings.cloud_host == "from-dotenv"
    assert settings.database_url == "sqlite+aiosqlite:///x"
    assert settings.config_dir == tmp_path.resolve()


def test_mosquitto_fixture_is_a_real_broker(mosquitto):
    import socket

    with socket.create_connection((mosquitto.host, mosquitto.port), timeout=2) as connection:
        # MQTT CONNECT (v3.1.1, clean session, keepalive 10, client id "t").
        connection.sendall(bytes([0x10, 13, 0, 4]) + b"MQTT" + bytes([4, 2, 0, 10, 0, 1]) + b"t")
        assert connection.recv(4) == bytes([0x20, 2, 0, 0])  # CONNACK, accepted
