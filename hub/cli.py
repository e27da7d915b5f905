"""The ``station-hub`` command: run, check-config, and integrations' sub-commands."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

from hub import __version__
from hub.config import (
    CORE_KEY,
    check_top_level_keys,
    read_config_file,
    validate_core,
    validate_section,
)
from hub.plugins import (
    available_integrations,
    call_for,
    create_plugin_manager,
    load_integration,
)
from hub.yaml_loader import ConfigError

_LOGGER = logging.getLogger("hub")

EXIT_CONFIG_ERROR = 2


def add_config_dir_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-c",
        "--config",
        dest="config_dir",
        type=Path,
        default=Path("config"),
        help="configuration directory (default: ./config)",
    )


CORE_COMMANDS = frozenset({"run", "check-config"})


def build_parser(*, with_integrations: bool = True) -> argparse.ArgumentParser:
    """``with_integrations`` False skips importing every installed integration, which
    ``run`` does not need (it imports the declared ones itself) and costs start time."""
    parser = argparse.ArgumentParser(prog="station-hub", description="Station Hub")
    parser.add_argument("--version", action="version", version=f"station-hub {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True)

    run = subparsers.add_parser("run", help="run the hub")
    add_config_dir_argument(run)
    run.set_defaults(func=run_command)

    check = subparsers.add_parser("check-config", help="validate the configuration and exit")
    add_config_dir_argument(check)
    check.set_defaults(func=check_config_command)

    if not with_integrations:
        return parser
    manager = create_plugin_manager()
    for name, entry_point in available_integrations().items():
        try:
            load_integration(manager, name, entry_point)
            call_for(manager, name, "hub_cli_commands", subparsers=subparsers)
        except Exception as error:  # a broken plugin must not break the CLI
            print(f"warning: integration {name} adds no commands: {error}", file=sys.stderr)
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    core_only = bool(arguments) and arguments[0] in CORE_COMMANDS
    args = build_parser(with_integrations=not core_only).parse_args(arguments)
    return int(args.func(args) or 0)


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )


def run_command(args: argparse.Namespace) -> int:
    from hub.settings import load_settings

    settings = load_settings(args.config_dir)
    configure_logging(settings.log_level)
    return asyncio.run(run_hub(args.config_dir))


async def run_hub(config_dir: Path) -> int:
    """Start the hub, wait for SIGINT/SIGTERM or an exit request, stop cleanly."""
    from hub.core import Hub

    hub = Hub(config_dir)
    loop = asyncio.get_running_loop()
    stop_requested = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop_requested.set)
    try:
        await hub.start()
    except ConfigError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        await hub.stop()
        return EXIT_CONFIG_ERROR
    except BaseException:
        await hub.stop()
        raise
    _LOGGER.info("Station Hub %s running at %s", __version__, hub.http_url)
    exit_requested = asyncio.ensure_future(hub.wait_for_exit_request())
    signalled = asyncio.ensure_future(stop_requested.wait())
    await asyncio.wait({exit_requested, signalled}, return_when=asyncio.FIRST_COMPLETED)
    exit_requested.cancel()
    signalled.cancel()
    await hub.stop()
    return hub.exit_code


def check_config_command(args: argparse.Namespace) -> int:
    errors = check_config(args.config_dir)
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    if errors:
        return 1
    print(f"{args.config_dir / 'configuration.yaml'}: configuration is valid")
    return 0


def check_config(config_dir: Path) -> list[str]:
    """Every problem found, so one run shows them all."""
    try:
        raw = read_config_file(config_dir)
        available = available_integrations()
        check_top_level_keys(raw, available)
        validate_core(raw)
    except ConfigError as error:
        return [str(error)]
    problems: list[str] = []
    manager = create_plugin_manager()
    for name in (key for key in raw if key != CORE_KEY):
        try:
            load_integration(manager, name, available[name])
            schema = call_for(manager, name, "hub_config_schema")
            validate_section(raw, name, schema, integration=name)
        except ConfigError as error:
            problems.append(str(error))
        except Exception as error:
            problems.append(f"integration {name}: could not be loaded: {error}")
    return problems
