"""Authenticated GET /api/devices with the real auth integration vs a bare aiohttp handler.

Like bench/http_devices.py (which uses the static test scheme), but the hub runs the
``auth`` integration and the client sends a real JWT, so the cost of JWT checks, the
user look-up and the caches shows. Not collected by pytest.

    .venv/bin/python -m tests.auth.bench_auth_http [--seconds 5] [--connections 16]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import http_devices
from bench._servers import DEVICE_COUNT

ROOT = Path(__file__).resolve().parents[2]


async def serve_hub_with_auth(config_dir: Path, ready_file: Path) -> None:
    from hub.core import Hub
    from plugins.auth import get_user_store, runtime_for

    hub = Hub(config_dir)
    await hub.start()
    user = await get_user_store(hub).create_user("bench", "owner")
    runtime = runtime_for(hub)
    assert runtime is not None
    token = runtime.codec.issue(user.id, user.role)
    for index in range(DEVICE_COUNT):
        device = await hub.devices.handshake(
            f"bench-{index:03d}",
            device_type="sensor",
            firmware="1.0.0",
            capabilities=["temperature", "humidity"],
            transport="mqtt",
        )
        hub.devices.report_state(device, {"temperature": 20 + index / 10, "humidity": 40})
    await asyncio.to_thread(ready_file.write_text, f"{hub.http_url} {token}")
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--python-client", action="store_true")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        config = tmp_path / "config"
        config.mkdir()
        (config / "configuration.yaml").write_text(
            "hub:\n  station_id: bench\n  log_level: warning\n"
            "  http: {host: 127.0.0.1, port: 0}\n"
            "auth: {}\n"
        )
        hub_ready, bare_ready = tmp_path / "hub.ready", tmp_path / "bare.ready"
        hub = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.auth.bench_auth_http",
                "--serve",
                str(config),
                str(hub_ready),
            ],
            env=env,
            cwd=ROOT,
        )
        bare = None
        try:
            hub_url, token = http_devices.wait_ready(hub, hub_ready).split()
            http_devices.TOKEN = token
            body_file = tmp_path / "devices.json"
            body_file.write_bytes(_fetch(f"{hub_url}/api/devices", token))
            from hub.testing import free_port

            bare = subprocess.Popen(
                [
                    sys.executable,
                    str(ROOT / "bench" / "_servers.py"),
                    "bare",
                    str(free_port()),
                    str(body_file),
                    str(bare_ready),
                ],
                env=env,
            )
            bare_url = http_devices.wait_ready(bare, bare_ready)
            if shutil.which("wrk") and not args.python_client:
                measure = http_devices.load_with_wrk
            else:

                def measure(url: str, seconds: float, connections: int) -> float:
                    return asyncio.run(http_devices.load(url, seconds, connections))

            bare_rps = measure(f"{bare_url}/api/devices", args.seconds, args.connections)
            hub_rps = measure(f"{hub_url}/api/devices", args.seconds, args.connections)
        finally:
            for process in (hub, bare):
                if process is not None:
                    process.terminate()
                    process.wait(timeout=10)
    print(f"bare aiohttp+orjson          : {bare_rps:8.0f} req/s")
    print(f"hub GET /api/devices (JWT)   : {hub_rps:8.0f} req/s")
    print(f"ratio hub/bare               : {hub_rps / bare_rps:8.2f}  (bar: >= 0.50)")


def _fetch(url: str, token: str) -> bytes:
    import urllib.request

    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        asyncio.run(serve_hub_with_auth(Path(sys.argv[2]), Path(sys.argv[3])))
    else:
        main()
