"""Broker choices: embedded (amqtt in-process), auto (local broker or embedded), TLS."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import aiomqtt
import pytest

from hub.testing import MosquittoBroker, free_port, static_auth
from plugins.mqtt_devices import runtime_for
from tests.mqtt_devices.conftest import hub_config
from tests.mqtt_devices.helpers import (
    TOKEN,
    EventRecorder,
    device_client,
    topic,
)


async def round_trip(hub, url: str, hub_client) -> None:
    """Handshake, state, and a command answered: the whole protocol over ``url``."""
    states = EventRecorder(hub.bus, "device_state_changed")
    statuses = EventRecorder(hub.bus, "command_status_changed")
    client = await hub_client(hub, token=TOKEN)
    async with device_client(url) as device:
        ack = await device.handshake("esp-1")
        assert ack["ok"] is True
        await device.publish(topic("esp-1", "state"), {"on": True})
        await states.wait_for(lambda data: data["state"] == {"on": True})
        await device.subscribe(topic("esp-1", "command"))
        async with client.post(
            f"/api/devices/{ack['deviceId']}/commands", json={"command": "ping"}
        ) as response:
            assert response.status == 202
        _name, command = await device.next_json()
        await device.publish(topic("esp-1", "command/result"), {"id": command["id"], "ok": True})
        await statuses.wait_for(lambda data: data["status"] == "succeeded")


async def test_embedded_broker_needs_nothing_installed(start_hub, hub_client):
    port = free_port()
    hub = await start_hub("embedded", embedded={"port": port})
    runtime = runtime_for(hub)
    assert runtime is not None
    assert runtime.mode == "embedded"
    assert runtime.connection is not None
    assert runtime.connection.address.url == f"mqtt://127.0.0.1:{port}"
    await round_trip(hub, f"mqtt://127.0.0.1:{port}", hub_client)
    await hub.stop()
    # The embedded broker stopped with the hub and freed its port.
    with pytest.raises(aiomqtt.MqttError, match="refused"):
        async with device_client(f"mqtt://127.0.0.1:{port}"):
            pass


async def test_auto_uses_a_local_broker_that_answers(start_hub, mosquitto, hub_client):
    hub = await start_hub("auto", local_broker=mosquitto.url)
    runtime = runtime_for(hub)
    assert runtime is not None
    assert runtime.mode == "local"
    await round_trip(hub, mosquitto.url, hub_client)


async def test_auto_starts_the_embedded_broker_when_none_answers(start_hub, hub_client):
    silent, embedded = free_port(), free_port()
    hub = await start_hub(
        "auto", local_broker=f"mqtt://127.0.0.1:{silent}", embedded={"port": embedded}
    )
    runtime = runtime_for(hub)
    assert runtime is not None
    assert runtime.mode == "embedded"
    await round_trip(hub, f"mqtt://127.0.0.1:{embedded}", hub_client)


async def test_embedded_port_taken_fails_the_integration_clearly(start_hub, mosquitto, hub_factory):
    hub = await hub_factory(
        hub_config("embedded", embedded={"port": mosquitto.port}),
        integrations={"static_auth": static_auth},
    )
    assert hub.integration_state("mqtt_devices") == "failed"
    assert f"127.0.0.1:{mosquitto.port}" in hub.integrations["mqtt_devices"].error
    assert hub.integration_state("static_auth") == "running"


def make_certificates(directory: Path) -> dict[str, str]:
    """A throwaway CA and a server certificate for 127.0.0.1 (openssl CLI).

    Both carry the extensions a strict verifier asks for (Python 3.13 sets
    ``VERIFY_X509_STRICT``): the CA its basicConstraints and keyUsage, the server
    certificate its keyUsage, extendedKeyUsage, subjectAltName and key identifiers.
    """

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=directory)

    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=test-ca",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    )
    run(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    )
    (directory / "san.ext").write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectAltName=IP:127.0.0.1\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid,issuer\n"
    )
    run(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "san.ext",
        "-out",
        "server.pem",
    )
    return {name: str(directory / f"{name}") for name in ("ca.pem", "server.pem", "server.key")}


@pytest.fixture
def tls_mosquitto(tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make test certificates")
    certificates = make_certificates(tmp_path)
    tls_port = free_port()
    broker = MosquittoBroker(
        tmp_path / "broker",
        extra_config="\n".join(
            [
                f"listener {tls_port} 127.0.0.1",
                f"cafile {certificates['ca.pem']}",
                f"certfile {certificates['server.pem']}",
                f"keyfile {certificates['server.key']}",
            ]
        ),
    )
    broker.start()
    try:
        yield broker, tls_port, certificates["ca.pem"]
    finally:
        broker.stop()


async def test_mqtts_with_a_private_ca(start_hub, tls_mosquitto, hub_client):
    broker, tls_port, ca = tls_mosquitto
    hub = await start_hub(f"mqtts://127.0.0.1:{tls_port}", tls={"ca": ca})
    runtime = runtime_for(hub)
    assert runtime is not None and runtime.connection is not None
    assert runtime.connection.address.tls
    # Devices on the plain listener of the same broker reach the hub through it.
    await round_trip(hub, broker.url, hub_client)


async def test_mqtts_refuses_an_unknown_certificate(start_hub, tls_mosquitto):
    _broker, tls_port, _ca = tls_mosquitto
    hub = await start_hub(f"mqtts://127.0.0.1:{tls_port}", connected=False)
    runtime = runtime_for(hub)
    assert runtime is not None
    assert runtime.connection is not None
    assert not runtime.connection.connected.is_set()
    assert "CERTIFICATE_VERIFY_FAILED" in (runtime.connection.last_error or "")
    assert hub.integration_state("mqtt_devices") == "unavailable"
