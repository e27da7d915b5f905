"""``station-hub user add`` / ``user list`` / ``user passwd`` against real config directories."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hub.cli import main
from hub.testing.pytest_plugin import write_config
from tests.auth.conftest import PASSWORD, hub_config


@pytest.fixture
def config_dir(tmp_path):
    directory = tmp_path / "config"
    write_config(directory, hub_config())
    return directory


def run_cli(monkeypatch, capsys, argv, stdin=""):
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_add_and_list_users(config_dir, monkeypatch, capsys):
    code, out, _ = run_cli(
        monkeypatch,
        capsys,
        ["user", "add", "olivia", "--role", "owner", "--password-stdin", "-c", str(config_dir)],
        stdin=PASSWORD + "\n",
    )
    assert code == 0 and "added user olivia (owner)" in out
    code, _, _ = run_cli(
        monkeypatch,
        capsys,
        ["user", "add", "mia", "--role", "user", "--password-stdin", "-c", str(config_dir)],
        stdin=PASSWORD,
    )
    assert code == 0
    code, out, _ = run_cli(monkeypatch, capsys, ["user", "list", "-c", str(config_dir)])
    assert code == 0
    lines = [line.split() for line in out.strip().splitlines()]
    assert lines[0] == ["ID", "USERNAME", "ROLE", "STATION", "ROLE", "ACTIVE", "SOURCE"]
    rows = {line[1]: line[2:] for line in lines[1:]}
    assert rows == {
        "mia": ["user", "-", "yes", "local"],
        "olivia": ["owner", "owner", "yes", "local"],
    }
    assert (config_dir / "station-hub.db").is_file()


def test_duplicate_name_and_weak_password_are_refused(config_dir, monkeypatch, capsys):
    argv = ["user", "add", "mia", "--role", "user", "--password-stdin", "-c", str(config_dir)]
    assert run_cli(monkeypatch, capsys, argv, stdin=PASSWORD)[0] == 0
    code, _, err = run_cli(monkeypatch, capsys, argv, stdin=PASSWORD)
    assert code == 1 and "already taken" in err
    argv[2] = "other"
    code, _, err = run_cli(monkeypatch, capsys, argv, stdin="short")
    assert code == 1 and "password must be" in err


def test_passwd_lets_a_locked_out_owner_back_in(config_dir, monkeypatch, capsys):
    add = ["user", "add", "olivia", "--role", "owner", "--password-stdin", "-c", str(config_dir)]
    assert run_cli(monkeypatch, capsys, add, stdin=PASSWORD)[0] == 0
    passwd = ["user", "passwd", "olivia", "--password-stdin", "-c", str(config_dir)]
    code, out, _ = run_cli(monkeypatch, capsys, passwd, stdin="a new owner passphrase\n")
    assert code == 0 and "password set for olivia" in out

    async def check() -> tuple[bool, bool]:
        from hub.db.database import Database
        from plugins.auth.passwords import Passwords
        from plugins.auth.store import UserStore

        database = Database(f"sqlite+aiosqlite:///{config_dir / 'station-hub.db'}")
        await database.start()
        try:
            store = UserStore(
                database.require_engine(), Passwords(), station_id="s", station_name="S"
            )
            record = await store.login_record("olivia")
            assert record is not None
            return (
                store.passwords.verify(record.password_hash, "a new owner passphrase"),
                store.passwords.verify(record.password_hash, PASSWORD),
            )
        finally:
            await database.stop()

    assert asyncio.run(check()) == (True, False)
    unknown = ["user", "passwd", "nobody", "--password-stdin", "-c", str(config_dir)]
    code, _, err = run_cli(monkeypatch, capsys, unknown, stdin=PASSWORD)
    assert code == 1 and "no user named 'nobody'" in err
    code, _, err = run_cli(monkeypatch, capsys, passwd, stdin="short")
    assert code == 1 and "password must be" in err


def test_without_password_stdin_and_no_terminal(config_dir, monkeypatch, capsys):
    code, _, err = run_cli(
        monkeypatch, capsys, ["user", "add", "mia", "--role", "user", "-c", str(config_dir)]
    )
    assert code == 1 and "--password-stdin" in err


def test_unknown_role_is_an_argument_error(config_dir, monkeypatch, capsys):
    with pytest.raises(SystemExit) as exited:
        run_cli(
            monkeypatch, capsys, ["user", "add", "mia", "--role", "root", "-c", str(config_dir)]
        )
    assert exited.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_configuration_errors_exit_2(tmp_path, monkeypatch, capsys):
    directory = tmp_path / "broken"
    write_config(directory, hub_config({"jwt_secret": 5}))
    code, _, err = run_cli(monkeypatch, capsys, ["user", "list", "-c", str(directory)])
    assert code == 2 and "auth.jwt_secret" in err
    code, _, err = run_cli(monkeypatch, capsys, ["user", "list", "-c", str(tmp_path / "none")])
    assert code == 2 and "configuration.yaml not found" in err


async def test_a_user_added_by_the_cli_signs_in_to_the_running_hub(
    config_dir, hub_factory, integrations, hub_client, monkeypatch
):
    hub = await hub_factory(hub_config(), config_dir=config_dir, integrations=integrations)
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD))
    argv = ["user", "add", "ada", "--role", "admin", "--password-stdin", "-c", str(config_dir)]
    assert await asyncio.to_thread(main, argv) == 0
    client = await hub_client(hub)
    async with client.post(
        "/api/auth/login", json={"username": "ada", "password": PASSWORD}
    ) as response:
        assert response.status == 200
        token = (await response.json())["access_token"]
    async with client.get("/api/test/admin", headers={"Authorization": f"Bearer {token}"}) as r:
        assert r.status == 200


def test_the_installed_command_runs_the_user_commands(config_dir, monkeypatch, capsys):
    """Through the real entry point (``python -m hub``), as an operator types it."""
    added = subprocess.run(
        [
            sys.executable,
            "-m",
            "hub",
            "user",
            "add",
            "root-admin",
            "--role",
            "admin",
            "--password-stdin",
            "-c",
            str(config_dir),
        ],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        check=False,
    )
    assert added.returncode == 0, added.stderr
    code, out, _ = run_cli(monkeypatch, capsys, ["user", "list", "-c", str(config_dir)])
    assert code == 0 and "root-admin" in out
