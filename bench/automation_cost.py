"""What 1,000 automations add to each state message on the ingest path (docs/automations.md).

    .venv/bin/python -m bench.automation_cost [--automations 1000] [--messages 20000] [--rounds 15]

One hub in-process (SQLite in a scratch dir, no broker: the MQTT parse is the same with or
without automations) with ``--automations`` devices, each watched by its own automation
(a ``device_state`` threshold with ``for:``, the common case). Then, in the same run,
rounds alternate between:

- **baseline**: the automations are detached (nothing listens for state changes);
- **watched**: attached; every message goes to a watched device and changes its state
  without crossing the threshold (what nearly every message does);
- **unwatched**: attached; every message goes to one of as many devices that no
  automation names.

Each round calls ``hub.devices.report_state`` (memory → ``device_state_changed`` → history
row queued) ``--messages`` times. The best round of each kind is reported (as ``timeit``
does: on a shared machine the best is the one other processes disturbed least), with the
median beside it, the difference from the baseline and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import statistics
import tempfile
import time
from pathlib import Path

import yaml

from hub.core import Hub
from plugins.automation import runtime_for


def automations(count: int) -> list[dict]:
    return [
        {
            "id": f"hot_{index}",
            "triggers": [
                {
                    "trigger": "device_state",
                    "device": f"watched-{index}",
                    "attribute": "temp",
                    "above": 1000,
                    "for": 60,
                }
            ],
            "actions": [
                {"action": "device_command", "device": f"watched-{index}", "command": "fan"}
            ],
        }
        for index in range(count)
    ]


def one_round(hub: Hub, devices: list, messages: int) -> float:
    """Seconds per message for ``messages`` state reports spread over ``devices``."""
    report = hub.devices.report_state
    count = len(devices)
    gc.collect()
    gc.disable()  # as timeit does: a collection would land in whichever round it likes
    try:
        started = time.perf_counter()
        for index in range(messages):
            report(devices[index % count], {"temp": 20 + (index // count) % 50})
        return (time.perf_counter() - started) / messages
    finally:
        gc.enable()


async def main(arguments: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        config = {
            "hub": {"http": {"host": "127.0.0.1", "port": 0}, "log_level": "warning"},
            "automation": automations(arguments.automations),
        }
        (directory / "configuration.yaml").write_text(yaml.safe_dump(config))
        hub = Hub(directory)
        await hub.start()
        try:
            runtime = runtime_for(hub)
            assert runtime is not None, "the automation integration did not start"
            engine = runtime.engine
            watched = [
                await hub.devices.handshake(f"watched-{i}", device_type="bench", transport="none")
                for i in range(arguments.automations)
            ]
            unwatched = [
                await hub.devices.handshake(f"other-{i}", device_type="bench", transport="none")
                for i in range(arguments.automations)
            ]
            results: dict[str, list[float]] = {"baseline": [], "watched": [], "unwatched": []}
            for _ in range(arguments.rounds):
                await engine.stop()
                results["baseline"].append(one_round(hub, watched, arguments.messages))
                await hub.devices.flush()
                engine.start()
                results["watched"].append(one_round(hub, watched, arguments.messages))
                await hub.devices.flush()
                results["unwatched"].append(one_round(hub, unwatched, arguments.messages))
                await hub.devices.flush()
            runs = sum(item.counters["runs"] for item in engine.automations.values())
        finally:
            await hub.stop()
    base = min(results["baseline"])
    print(
        f"{arguments.automations} automations, {arguments.messages} messages x "
        f"{arguments.rounds} rounds, per state message (best round; median):"
    )
    for name, values in results.items():
        value = min(values)
        extra = ""
        if name != "baseline":
            extra = f"  {(value - base) * 1e6:+.2f} µs, x{value / base:.3f}"
        median = statistics.median(values)
        print(f"  {name:<10} {value * 1e6:6.2f} µs ({median * 1e6:.2f}){extra}")
    print(f"  runs started: {runs} (none expected: no threshold was crossed)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--automations", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=15)
    asyncio.run(main(parser.parse_args()))
