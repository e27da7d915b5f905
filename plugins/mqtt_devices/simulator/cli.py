"""The ``station-hub simulate`` command."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import time

import voluptuous as vol

from hub.subcommands import Subcommands

from ..config import BrokerAddress, parse_broker_url
from ..const import EXTERNAL_ID
from ..dynsec import DynsecError
from .fleet import Fleet, FleetOptions

REPORT_EVERY = 5.0


def add_simulate_command(subparsers: Subcommands) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="simulated ESP32 devices speaking the MQTT device protocol",
        description=(
            "Start N simulated devices that handshake, report state, heartbeats and random "
            "events, and answer commands (set, ping, reboot, factory_reset). Point --broker "
            "at the broker the hub uses; with 'broker: embedded' that is "
            "mqtt://127.0.0.1:<embedded port>."
        ),
    )
    parser.add_argument("--broker", required=True, help="mqtt://host:port or mqtts://host:port")
    parser.add_argument("--station", required=True, help="the hub's station id")
    parser.add_argument("--devices", required=True, type=_positive_int, help="how many devices")
    parser.add_argument(
        "--rate",
        type=_non_negative_float,
        default=1.0,
        help="state messages per second per device (default 1; 0 = only heartbeats)",
    )
    parser.add_argument(
        "--heartbeat", type=_positive_float, default=10.0, help="seconds between heartbeats"
    )
    parser.add_argument(
        "--events",
        type=_probability,
        default=0.05,
        help="chance of a random event after each state message (default 0.05)",
    )
    parser.add_argument(
        "--connections",
        type=_positive_int,
        default=None,
        help="MQTT connections to spread the devices over (default: one per device)",
    )
    parser.add_argument("--prefix", default="sim", help="external ids are <prefix>-0000, ...")
    parser.add_argument("--type", dest="device_type", default="esp32-sim", help="device type")
    parser.add_argument("--duration", type=_positive_float, default=None, help="stop after N s")
    parser.add_argument("--seed", type=int, default=None, help="random seed (repeatable runs)")
    parser.add_argument("--username", default=None)
    parser.add_argument("--password", default=None)
    parser.add_argument(
        "--identities",
        action="store_true",
        help=(
            "give each device its own broker account (Mosquitto's dynamic security plugin), "
            "as BLE provisioning does; --username/--password must then be an account with "
            "the dynsec admin role, e.g. the hub's. Each device connects alone, as itself"
        ),
    )
    parser.set_defaults(func=simulate_command)


def simulate_command(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)-7s %(message)s")
    try:
        address = parse_broker_url(args.broker)
    except vol.Invalid as error:
        print(f"error: --broker: {error}", file=sys.stderr)
        return 2
    if not EXTERNAL_ID.match(args.station):
        print("error: --station must be 1-64 letters, digits, '_' or '-'", file=sys.stderr)
        return 2
    if not EXTERNAL_ID.match(f"{args.prefix}-0000"):
        print("error: --prefix must be letters, digits, '_' or '-'", file=sys.stderr)
        return 2
    address = BrokerAddress(
        address.host,
        address.port,
        address.tls,
        args.username or address.username,
        args.password or address.password,
    )
    options = FleetOptions(
        station_id=args.station,
        devices=args.devices,
        rate=args.rate,
        heartbeat_interval=args.heartbeat,
        event_probability=args.events,
        connections=args.connections,
        prefix=args.prefix,
        device_type=args.device_type,
        seed=args.seed,
        identities=args.identities,
    )
    if args.identities and not address.username:
        print(
            "error: --identities needs --username/--password of an account with the dynsec "
            "admin role",
            file=sys.stderr,
        )
        return 2
    fleet = Fleet(address, options)
    try:
        totals = asyncio.run(run_until_stopped(fleet, args.duration))
    except DynsecError as error:
        print(f"error: could not give the devices their broker accounts: {error}", file=sys.stderr)
        return 1
    print(f"simulate: {totals}")
    if totals["handshaken"] == 0:
        print(
            "error: no device got a handshake ack; is the hub running with this station id "
            f"({args.station}) on this broker ({address.url})?",
            file=sys.stderr,
        )
        return 1
    return 0


async def run_until_stopped(fleet: Fleet, duration: float | None) -> dict[str, int]:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    running = asyncio.ensure_future(fleet.run())
    started = time.monotonic()
    try:
        while not stop.is_set() and not running.done():
            timeout = REPORT_EVERY
            if duration is not None:
                timeout = min(timeout, max(0.0, started + duration - time.monotonic()))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):  # wait_for may drop a cancel on 3.11
                    await stop.wait()
            logging.info("simulate: %s", fleet.totals())
            if duration is not None and time.monotonic() - started >= duration:
                break
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
    return fleet.totals()


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def _positive_float(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return number


def _non_negative_float(value: str) -> float:
    number = float(value)
    if not number >= 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return number


def _probability(value: str) -> float:
    number = float(value)
    if not 0 <= number <= 1:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return number
