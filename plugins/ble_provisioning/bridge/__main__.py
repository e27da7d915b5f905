"""Entry point: ``python -m plugins.ble_provisioning.bridge [--adapter hci0 | --hci SPEC]``."""

from __future__ import annotations

import argparse
import asyncio
import io
import logging
import sys
import threading
from typing import cast

from plugins.ble_provisioning.bleak_transport import BleakTransport
from plugins.ble_provisioning.bridge.protocol import MAX_LINE_BYTES
from plugins.ble_provisioning.bridge.server import BridgeServer
from plugins.ble_provisioning.transport import BleTransport
from plugins.ble_provisioning.transport_factory import HciTransport


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m plugins.ble_provisioning.bridge",
        description="BLE scan and GATT writes as newline-delimited JSON over stdin/stdout.",
    )
    parser.add_argument("--adapter", help="BlueZ adapter, e.g. hci0")
    parser.add_argument(
        "--hci", help="drive an HCI controller with bumble instead of BlueZ (e.g. usb:0)"
    )
    parser.add_argument("--mtu", type=int, help="ATT MTU to request (with --hci only)")
    parser.add_argument("--log-level", default="WARNING", help="logging level (to stderr)")
    return parser.parse_args(argv)


def build_transport(arguments: argparse.Namespace) -> BleTransport:
    if arguments.hci:
        return HciTransport(arguments.hci, arguments.mtu)
    return BleakTransport(adapter=arguments.adapter)


async def stdin_reader() -> asyncio.StreamReader:
    """stdin as a StreamReader: a pipe when it is one, else fed by a thread (a file)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=MAX_LINE_BYTES)
    try:
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    except ValueError:

        def pump() -> None:
            # typeshed types stdin's buffer as BinaryIO, which has no read1; it is the
            # io.BufferedReader the interpreter made for the stdin file.
            for chunk in iter(lambda: cast(io.BufferedReader, sys.stdin.buffer).read1(65536), b""):
                loop.call_soon_threadsafe(reader.feed_data, chunk)
            loop.call_soon_threadsafe(reader.feed_eof)

        threading.Thread(target=pump, name="bridge-stdin", daemon=True).start()
    return reader


def write_stdout(line: bytes) -> None:
    # Lines are small and the reading side drains continuously; a plain flushed write
    # also works when stdout is a file.
    sys.stdout.buffer.write(line)
    sys.stdout.buffer.flush()


async def serve(transport: BleTransport) -> None:
    await BridgeServer(transport, write_stdout).run(await stdin_reader())


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    # stdout carries the protocol; everything else goes to stderr.
    logging.basicConfig(stream=sys.stderr, level=arguments.log_level.upper())
    try:
        asyncio.run(serve(build_transport(arguments)))
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
