"""Authenticated GET /api/devices on the hub vs a bare aiohttp+orjson handler.

Both servers run in their own process on loopback and answer the same JSON (100
devices); the same client load (keep-alive connections, fixed duration) hits each in
turn. Prints requests/s for both and the ratio (target, docs/performance.md: ≥ 0.5).

    .venv/bin/python bench/http_devices.py [--seconds 5] [--connections 16] [--devices 100]
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


def wait_ready(process: subprocess.Popen, ready_file: Path, seconds: float = 30) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:  # bounded poll of a file the server writes once
        if ready_file.exists() and ready_file.read_text():
            return ready_file.read_text()
        if process.poll() is not None:
            raise RuntimeError("server exited early")
        time.sleep(0.05)
    raise RuntimeError("server did not become ready")


async def load(url: str, seconds: float, connections: int, token: str) -> float:
    headers = {"Authorization": f"Bearer {token}"}
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


def load_with_wrk(url: str, seconds: float, connections: int, token: str) -> float:
    """wrk (C, its own process) when installed: the Python client saturates first."""
    output = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{max(1, int(seconds))}s",
            "-H",
            f"Authorization: Bearer {token}",
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


def spawn(tmp_path: Path, *arguments: str) -> tuple[subprocess.Popen, str]:
    ready = tmp_path / f"{arguments[0]}-{len(list(tmp_path.iterdir()))}.ready"
    process = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "bench" / "_servers.py"),
            *arguments[:-1],
            str(ready),
            *arguments[-1:],
        ],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        return process, wait_ready(process, ready)
    except BaseException:
        process.kill()
        raise


def measure(url: str, args: argparse.Namespace, token: str) -> float:
    if shutil.which("wrk") and not args.python_client:
        return load_with_wrk(f"{url}/api/devices", args.seconds, args.connections, token)
    return asyncio.run(load(f"{url}/api/devices", args.seconds, args.connections, token))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--python-client", action="store_true", help="do not use wrk")
    parser.add_argument(
        "--devices",
        type=int,
        default=100,
        help="devices on the hub; past 1000 the listing is paged and both serve the first page",
    )
    args = parser.parse_args()
    os.environ["BENCH_DEVICES"] = str(args.devices)
    generator = "wrk" if shutil.which("wrk") and not args.python_client else "aiohttp client"
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        processes: list[subprocess.Popen] = []
        try:
            for mode in ("quiet", "churn"):
                config = tmp_path / f"config-{mode}"
                config.mkdir()
                (config / "configuration.yaml").write_text(
                    "hub:\n  station_id: bench\n  log_level: warning\n"
                    "  http: {host: 127.0.0.1, port: 0}\n"
                    "auth: {}\n"
                )
                hub, ready = spawn(tmp_path, "hub", str(config), mode)
                processes.append(hub)
                hub_url, token = ready.split()
                if "bare" not in results:
                    body_file = tmp_path / "devices.json"

                    async def fetch_body(url: str = hub_url, bearer: str = token) -> bytes:
                        async with (
                            aiohttp.ClientSession(
                                headers={"Authorization": f"Bearer {bearer}"}
                            ) as session,
                            session.get(f"{url}/api/devices") as response,
                        ):
                            return await response.read()

                    body_file.write_bytes(asyncio.run(fetch_body()))
                    results["body_bytes"] = body_file.stat().st_size
                    from hub.testing import free_port

                    bare, bare_url = spawn(tmp_path, "bare", str(free_port()), str(body_file))
                    processes.append(bare)
                    results["bare"] = measure(bare_url, args, token)
                results[mode] = measure(hub_url, args, token)
                hub.terminate()
                hub.wait(timeout=10)
        finally:
            for process in processes:
                if process.poll() is None:
                    process.terminate()
                    process.wait(timeout=10)
    bare_rps = results["bare"]
    print(
        f"load generator        : {generator}, {args.connections} connections, {args.seconds:g} s"
    )
    print(
        f"devices               : {args.devices} on the hub, "
        f"{results['body_bytes'] / 1024:.0f} KiB per answer (one page)"
    )
    print(f"bare aiohttp+orjson   : {bare_rps:8.0f} req/s")
    for mode, label in (("quiet", "devices quiet"), ("churn", "1000 changes/s")):
        print(
            f"hub, {label:17}: {results[mode]:8.0f} req/s  "
            f"ratio {results[mode] / bare_rps:.2f}  (bar: >= 0.50)"
        )
    print("hub requests carry a real JWT checked by the auth integration")


if __name__ == "__main__":
    main()
