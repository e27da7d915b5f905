"""The ``station-hub`` command: run, check-config, and integrations' sub-commands."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from importlib import resources
from pathlib import Path

from hub import __version__
from hub.config import (
    CONFIG_FILE,
    CORE_KEY,
    check_top_level_keys,
    read_config_file,
    validate_core,
    validate_section,
)
from hub.console import LOG_LEVELS, StartupError, apply_log_level, startup_summary
from hub.plugins import (
    available_integrations,
    call_for,
    create_plugin_manager,
    load_integration,
)
from hub.subcommands import Subcommands
from hub.yaml_loader import ConfigError

_LOGGER = logging.getLogger("hub")

EXIT_CONFIG_ERROR = 2
EXIT_INTERRUPTED = 130


def add_config_dir_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-c",
        "--config",
        dest="config_dir",
        type=Path,
        default=Path("config"),
        help="configuration directory (default: ./config)",
    )


CORE_COMMANDS = frozenset({"run", "check-config", "init"})

DESCRIPTION = (
    "Station Hub: the plugin-based hub of an IoT station. It provisions ESP32 devices over "
    "BLE, talks to them over MQTT, links the station to its cloud, proxies the IoT gateway "
    "and serves the HTTP and WebSocket API of the station portal."
)
EPILOG = (
    "Start with 'station-hub init config' (writes a commented configuration), then "
    "'station-hub run -c config'. Every command takes -h."
)


def build_parser(*, with_integrations: bool = True) -> argparse.ArgumentParser:
    """``with_integrations`` False skips importing every installed integration, which
    ``run`` does not need (it imports the declared ones itself) and costs start time."""
    parser = argparse.ArgumentParser(prog="station-hub", description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"station-hub {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True)

    run = subparsers.add_parser("run", help="run the hub")
    add_config_dir_argument(run)
    run.add_argument(
        "--strict",
        action="store_true",
        help="refuse to start (exit code 2) when an integration's configuration is invalid,"
        " instead of starting the rest degraded",
    )
    run.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        help="log level; wins over hub: log_level, which wins over HUB_LOG_LEVEL",
    )
    run.add_argument(
        "--port",
        type=int,
        help="HTTP port; wins over hub: http: port, which wins over HUB_HTTP_PORT",
    )
    run.set_defaults(func=run_command)

    init = subparsers.add_parser("init", help="write a commented default configuration")
    init.add_argument("directory", type=Path, help="the configuration directory to create")
    init.set_defaults(func=init_command)

    check = subparsers.add_parser("check-config", help="validate the configuration and exit")
    add_config_dir_argument(check)
    check.set_defaults(func=check_config_command)

    if not with_integrations:
        return parser
    manager = create_plugin_manager()
    commands = Subcommands(subparsers)
    for name, entry_point in available_integrations().items():
        try:
            load_integration(manager, name, entry_point)
            call_for(manager, name, "hub_cli_commands", subparsers=commands)
        except Exception as error:  # a broken plugin must not break the CLI
            print(f"warning: integration {name} adds no commands: {error}", file=sys.stderr)
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    core_only = bool(arguments) and arguments[0] in CORE_COMMANDS
    args = build_parser(with_integrations=not core_only).parse_args(arguments)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        # Ctrl-C at a prompt (or before the hub's own signal handlers are in place).
        print(file=sys.stderr)
        return EXIT_INTERRUPTED
    except EOFError:
        # Ctrl-D at a prompt: the person chose not to answer.
        print(file=sys.stderr)
        return 1


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    # Before anything is imported: libraries log at import time (alembic does).
    apply_log_level(level)


def run_command(args: argparse.Namespace) -> int:
    problem = missing_config(args.config_dir)
    if problem:
        print(problem, file=sys.stderr)
        return EXIT_CONFIG_ERROR
    configure_logging(args.log_level or "INFO")
    return asyncio.run(
        run_hub(args.config_dir, strict=args.strict, log_level=args.log_level, port=args.port)
    )


def missing_config(config_dir: Path) -> str | None:
    """One line saying what to do when ``config_dir`` holds no usable configuration."""
    config_file = config_dir / CONFIG_FILE
    if not config_dir.exists():
        return (
            f"No configuration directory {config_dir}. Create one with "
            f"'station-hub init {config_dir}', or point at yours with -c DIR."
        )
    if not config_dir.is_dir() or not os.access(config_dir, os.R_OK | os.X_OK):
        return f"Cannot read the configuration directory {config_dir}: check its permissions."
    if not config_file.exists():
        return (
            f"No {CONFIG_FILE} in {config_dir}. Create one with "
            f"'station-hub init {config_dir}', or point at yours with -c DIR."
        )
    if not os.access(config_file, os.R_OK):
        return f"Cannot read {config_file}: check its permissions."
    return None


def init_command(args: argparse.Namespace) -> int:
    directory: Path = args.directory
    target = directory / CONFIG_FILE
    if target.exists():
        print(f"{target} already exists; nothing written.", file=sys.stderr)
        return 1
    directory.mkdir(parents=True, exist_ok=True)
    defaults = resources.files("hub").joinpath("default_config")
    for name in (CONFIG_FILE, "secrets.yaml"):
        path = directory / name
        if not path.exists():
            path.write_text(defaults.joinpath(name).read_text())
    (directory / "secrets.yaml").chmod(0o600)
    print(f"Wrote {target}. Start the hub with: station-hub run -c {directory}")
    return 0


async def run_hub(
    config_dir: Path,
    *,
    strict: bool = False,
    log_level: str | None = None,
    port: int | None = None,
) -> int:
    """Start the hub, wait for SIGINT/SIGTERM or an exit request, stop cleanly."""
    from hub.core import Hub

    hub = Hub(config_dir, strict=strict, log_level=log_level, http_port=port)
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
    except StartupError as error:
        print(f"Cannot start: {error}", file=sys.stderr)
        await hub.stop()
        return 1
    except BaseException:
        await hub.stop()
        raise
    for line in startup_summary(hub):
        _LOGGER.info("%s", line)
    _LOGGER.info("Station Hub %s running at %s", __version__, hub.http_url)
    exit_requested = asyncio.ensure_future(hub.wait_for_exit_request())
    signalled = asyncio.ensure_future(stop_requested.wait())
    await asyncio.wait({exit_requested, signalled}, return_when=asyncio.FIRST_COMPLETED)
    exit_requested.cancel()
    signalled.cancel()
    began = time.monotonic()
    _LOGGER.info("Stopping Station Hub...")
    await hub.stop()
    _LOGGER.info("Station Hub stopped in %.2f s", time.monotonic() - began)
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
