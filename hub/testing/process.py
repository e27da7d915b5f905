"""Waiting on a child process's output for a marker line, with a deadline.

Reads the raw file descriptor: a buffered ``readline`` can swallow several lines at
once and leave ``select`` waiting on a pipe that is already drained.
"""

from __future__ import annotations

import os
import selectors
import time
from typing import IO


def wait_for_output(stream: IO[bytes] | IO[str], marker: str, timeout: float) -> tuple[bool, str]:
    """Return (found, everything read so far) once ``marker`` appears or time runs out."""
    descriptor = stream.fileno()
    seen = b""
    needle = marker.encode()
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(descriptor, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
                break
            chunk = os.read(descriptor, 65536)
            if not chunk:
                break
            seen += chunk
            if needle in seen:
                return True, seen.decode(errors="replace")
    return False, seen.decode(errors="replace")
