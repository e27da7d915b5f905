"""Authenticated GET /api/devices on the hub vs a bare aiohttp+orjson handler.

Both servers run in their own process on loopback and answer the same JSON (100
devices); the same client load (keep-alive connections, fixed duration) hits each in
turn. Prints requests/s for both and the ratio (PRODUCT.md §9 bar: ≥ 0.5).

    .venv/bin/python bench/http_devices.py [--seconds 5] [--connections 16]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-owner-token"


def wait_ready(process: subprocess.Popen, ready_file: Path, seconds: float = 30) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:  # bounded poll of a file the server writes once
        if ready_file.exists() and ready_file.read_text():
            return ready_file.read_text()
        if process.poll() is not None:
            raise RuntimeError("server exited early")
        time.sleep(0.05)
    raise RuntimeError("server did not become ready")


async def load(url: str, seconds: float, connections: int) -> float:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    connector = aiohttp.TCPConnector(limit=connections)
    count = 0
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        # Warm up.
        async with session.get(url) as response:
            assert response.status == 200, response.status
            await response.read()
        deadline = time.perf_counter() + seconds
        start = time.perf_counter()

        async def worker() -> None:
            nonlocal count
            while time.perf_counter() < deadline:
                async with session.get(url) as response:
                    await response.read()
                    if response.status == 200:
                        count += 1

        await asyncio.gather(*(worker() for _ in range(connections)))
        return count / (time.perf_counter() - start)


def load_with_wrk(url: str, seconds: float, connections: int) -> float:
    """wrk (C, its own process) when installed: the Python client saturates first."""
    output = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{max(1, int(seconds))}s",
            "-H",
            f"Authorization: Bearer {TOKEN}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 30,
    ).stdout
    if "Non-2xx" in output:
        raise RuntimeError(f"errors during load:\n{output}")
    for line in output.splitlines():
        if line.startswith("Requests/sec:"):
            return float(line.split()[1])
    raise RuntimeError(f"unexpected wrk output:\n{output}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--python-client", action="store_true", help="do not use wrk")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        config = tmp_path / "config"
        config.mkdir()
        (config / "configuration.yaml").write_text(
            "hub:\n  station_id: bench\n  log_level: warning\n"
            "  http: {host: 127.0.0.1, port: 0}\n"
            f"static_auth:\n  users: {{{TOKEN}: owner}}\n"
        )
        hub_ready = tmp_path / "hub.ready"
        hub = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "bench" / "_servers.py"),
                "hub",
                str(config),
                str(hub_ready),
            ],
            env=env,
        )
        bare = None
        try:
            hub_url = wait_ready(hub, hub_ready)
            body_file = tmp_path / "devices.json"

            async def fetch_body() -> bytes:
                async with (
                    aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as session,
                    session.get(f"{hub_url}/api/devices") as response,
                ):
                    return await response.read()

            body_file.write_bytes(asyncio.run(fetch_body()))
            from hub.testing import free_port

            bare_ready = tmp_path / "bare.ready"
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
            bare_url = wait_ready(bare, bare_ready)
            if shutil.which("wrk") and not args.python_client:
                generator = "wrk"
                bare_rps = load_with_wrk(f"{bare_url}/api/devices", args.seconds, args.connections)
                hub_rps = load_with_wrk(f"{hub_url}/api/devices", args.seconds, args.connections)
            else:
                generator = "aiohttp client"
                bare_rps = asyncio.run(
                    load(f"{bare_url}/api/devices", args.seconds, args.connections)
                )
                hub_rps = asyncio.run(
                    load(f"{hub_url}/api/devices", args.seconds, args.connections)
                )
        finally:
            for process in (hub, bare):
                if process is not None:
                    process.terminate()
                    process.wait(timeout=10)
    print(f"load generator      : {generator}, {args.connections} connections, {args.seconds:g} s")
    print(f"bare aiohttp+orjson : {bare_rps:8.0f} req/s")
    print(f"hub GET /api/devices: {hub_rps:8.0f} req/s (authenticated)")
    print(f"ratio hub/bare      : {hub_rps / bare_rps:8.2f}  (bar: >= 0.50)")


if __name__ == "__main__":
    main()
