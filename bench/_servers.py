"""Server processes for bench/http_devices.py: the hub, and a bare aiohttp baseline."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import orjson
from aiohttp import web

# --devices of bench/http_devices.py, passed through the environment of this process.
DEVICE_COUNT = int(os.environ.get("BENCH_DEVICES", "100"))


async def serve_hub(config_dir: Path, ready_file: Path, churn: bool) -> None:
    """The hub with the real auth integration; the client gets a real JWT.

    ``churn``: a device state changes every millisecond, so nearly every request must
    render the listing afresh (the worst case for the listing cache)."""
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
            f"bench-{index:05d}",
            device_type="sensor",
            firmware="1.0.0",
            capabilities=["temperature", "humidity"],
            transport="mqtt",
        )
        hub.devices.report_state(
            device, {"temperature": 20 + index / 10, "humidity": 40 + index % 7}
        )
    ready_file.write_text(f"{hub.http_url} {token}")
    devices = hub.devices.all()
    tick = 0
    while True:
        await asyncio.sleep(0.001 if churn else 3600)
        tick += 1
        hub.devices.report_state(devices[tick % DEVICE_COUNT], {"temperature": tick})


async def serve_bare(port: int, body_file: Path, ready_file: Path) -> None:
    devices = orjson.loads(body_file.read_bytes())

    async def handler(_request: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps(devices), content_type="application/json")

    app = web.Application()
    app.router.add_get("/api/devices", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    ready_file.write_text(f"http://127.0.0.1:{port}")
    await asyncio.Event().wait()


if __name__ == "__main__":
    kind = sys.argv[1]
    if kind == "hub":
        # argv: hub CONFIG_DIR READY_FILE quiet|churn
        asyncio.run(serve_hub(Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4] == "churn"))
    else:
        # argv: bare PORT READY_FILE BODY_FILE
        asyncio.run(serve_bare(int(sys.argv[2]), Path(sys.argv[4]), Path(sys.argv[3])))
