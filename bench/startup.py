"""Time from process start to the first 200 from GET /api/health, with every built-in
integration declared (the shipped config/ with a free port and a private config dir).

    .venv/bin/python bench/startup.py [--runs 5]

The baseline is the same process with only the core (`hub:` alone), so the figure also
shows what the integrations add. Target (docs/performance.md): under 1.5 s with all built-ins.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hub.testing import free_port  # noqa: E402

SETTLING = {"loaded", "setting_up"}


def measure(config_dir: Path, port: int) -> tuple[float, float, dict]:
    """Seconds to the first 200, seconds until no integration is still setting up, and
    the health document at that point."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "hub", "run", "-c", str(config_dir), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        deadline = started + 30
        first_ok: float | None = None
        while time.perf_counter() < deadline:  # bounded: polling is the measurement
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/api/health", timeout=1
                ) as response:
                    health = json.loads(response.read())
                    now = time.perf_counter() - started
                    first_ok = first_ok if first_ok is not None else now
                    if not SETTLING & set(health["integrations"].values()):
                        return first_ok, now, health
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.01)
        raise RuntimeError("hub did not settle within 30 s")
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def prepare(tmp: Path, name: str, core_only: bool) -> tuple[Path, int]:
    # The shipped files only: a database or secret left in config/ by `scripts/run` would
    # make the hub start from state, not from scratch. The port goes on the command line
    # (the shipped configuration leaves it at its default).
    config_dir = tmp / name
    config_dir.mkdir()
    for shipped in ("configuration.yaml", "secrets.yaml"):
        shutil.copy(ROOT / "config" / shipped, config_dir / shipped)
    port = free_port()
    text = (config_dir / "configuration.yaml").read_text()
    text = text.replace("host: 0.0.0.0", "host: 127.0.0.1")
    if core_only:
        text = text.split("\nauth:")[0] + "\n"
    (config_dir / "configuration.yaml").write_text(text)
    return config_dir, port


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    results: dict[str, list[float]] = {"core only": [], "all built-ins": [], "all settled": []}
    states: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.runs):
            for label, core_only in (("core only", True), ("all built-ins", False)):
                config_dir, port = prepare(Path(tmp), f"{label.replace(' ', '-')}-{run}", core_only)
                seconds, settled, health = measure(config_dir, port)
                results[label].append(seconds)
                if not core_only:
                    results["all settled"].append(settled)
                states = health["integrations"] if not core_only else states
    for label, values in results.items():
        print(f"{label:14}: median {statistics.median(values):.3f} s  max {max(values):.3f} s")
    ratio = statistics.median(results["all built-ins"]) / statistics.median(results["core only"])
    print(f"ratio all/core: {ratio:.2f}   (bar: all built-ins < 1.5 s to the first 200)")
    print(f"integration states once settled: {states}")


if __name__ == "__main__":
    main()
