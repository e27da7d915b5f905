"""Run a hub in its own process for the benchmarks, with the test ``static_auth`` scheme.

    .venv/bin/python -m bench.run_hub CONFIG_DIR

Prints ``READY <http url>`` once started; stops cleanly on SIGTERM or SIGINT.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path

from hub.core import Hub
from hub.testing import static_auth


async def main(config_dir: Path) -> int:
    hub = Hub(config_dir, extra_integrations={"static_auth": static_auth})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await hub.start()
    print(f"READY {hub.http_url}", flush=True)
    await stop.wait()
    await hub.stop()
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    raise SystemExit(asyncio.run(main(Path(sys.argv[1]))))
