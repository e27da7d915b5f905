"""``station-hub user add``, ``user list`` and ``user passwd``.

``user passwd`` is the way back in for an owner who forgot their password: whoever can
run commands on the station can set it.

They open the database of a config directory directly (bringing the auth tables up to
date first), so they work whether or not the hub is running. A hub that is running sees
a new user at its next login, and other changes within ``auth: user_cache_ttl``.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from pathlib import Path
from typing import Any, TextIO

from hub.cli import EXIT_CONFIG_ERROR, add_config_dir_argument
from hub.config import read_config_file, validate_core, validate_section
from hub.db.database import Database, database_url
from hub.settings import load_settings
from hub.subcommands import Subcommands
from hub.yaml_loader import ConfigError

from .config import CONFIG_SCHEMA
from .const import DOMAIN, MIGRATIONS, ROLES
from .errors import AuthStoreError
from .passwords import Passwords
from .store import UserStore

EXIT_REFUSED = 1


def add_commands(subparsers: Subcommands) -> None:
    user = subparsers.add_parser("user", help="manage the hub's local users")
    commands = user.add_subparsers(dest="user_command", required=True)

    add = commands.add_parser("add", help="add a local user")
    add.add_argument("name", help="the username")
    add.add_argument("--role", required=True, choices=ROLES, help="the user's global role")
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input instead of prompting",
    )
    add_config_dir_argument(add)
    add.set_defaults(func=add_user_command)

    listing = commands.add_parser("list", help="list users")
    add_config_dir_argument(listing)
    listing.set_defaults(func=list_users_command)

    passwd = commands.add_parser(
        "passwd", help="set a user's local password and reactivate them; their sessions end"
    )
    passwd.add_argument("name", help="the username")
    passwd.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input instead of prompting",
    )
    add_config_dir_argument(passwd)
    passwd.set_defaults(func=set_password_command)


def add_user_command(args: argparse.Namespace) -> int:
    try:
        password = read_password(args.password_stdin, sys.stdin)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_REFUSED
    return asyncio.run(_with_store(args.config_dir, _add_user, args.name, args.role, password))


def set_password_command(args: argparse.Namespace) -> int:
    try:
        password = read_password(args.password_stdin, sys.stdin)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_REFUSED
    return asyncio.run(_with_store(args.config_dir, _set_password, args.name, password))


def list_users_command(args: argparse.Namespace) -> int:
    return asyncio.run(_with_store(args.config_dir, _list_users))


def read_password(from_stdin: bool, stdin: TextIO) -> str:
    if from_stdin:
        return stdin.read().removesuffix("\n").removesuffix("\r")
    if not stdin.isatty():
        raise ValueError("no terminal to prompt on; pass --password-stdin and pipe the password")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat password: "):
        raise ValueError("the passwords differ")
    return first


async def _add_user(store: UserStore, name: str, role: str, password: str) -> int:
    user = await store.create_user(name, role, password=password)
    print(f"added user {user.username} ({user.role}), id {user.id}")
    return 0


async def _set_password(store: UserStore, name: str, password: str) -> int:
    user = await store.get_user_by_username(name)
    if user is None:
        print(f"error: there is no user named {name!r}", file=sys.stderr)
        return EXIT_REFUSED
    await store.set_password(user.id, password)
    if not user.active:
        await store.update_user(user.id, active=True)
    print(f"password set for {user.username}; their earlier sessions have ended")
    return 0


async def _list_users(store: UserStore) -> int:
    members = {member.user_id: member.role for member in await store.list_members()}
    station = await store.get_station()
    owner = station.owner_user_id if station else None
    rows = [("ID", "USERNAME", "ROLE", "STATION ROLE", "ACTIVE", "SOURCE")]
    for user in await store.list_users():
        station_role = "owner" if user.id == owner else members.get(user.id, "-")
        rows.append(
            (
                user.id,
                user.username,
                user.role,
                station_role,
                "yes" if user.active else "no",
                "cloud" if user.cloud_user_id else "local",
            )
        )
    widths = [max(len(row[index]) for row in rows) for index in range(len(rows[0]))]
    for row in rows:
        print("  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)))
    return 0


async def _with_store(config_dir: Path, action: Any, *arguments: Any) -> int:
    try:
        raw = read_config_file(config_dir)
        core = validate_core(raw)
        config = validate_section(raw, DOMAIN, CONFIG_SCHEMA, integration=DOMAIN)
    except ConfigError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    settings = load_settings(config_dir)
    hashing = config["password_hashing"]
    database = Database(database_url(core, settings.database_url, config_dir))
    await database.start()
    try:
        await database.upgrade(MIGRATIONS, DOMAIN)
        store = UserStore(
            database.require_engine(),
            Passwords(
                time_cost=hashing["time_cost"],
                memory_kib=hashing["memory_kib"],
                parallelism=hashing["parallelism"],
            ),
            station_id=core["station_id"],
            station_name=core["name"],
        )
        return int(await action(store, *arguments))
    except AuthStoreError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_REFUSED
    finally:
        await database.stop()
