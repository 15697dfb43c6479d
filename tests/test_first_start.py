"""The first start, as README "Two commands" tells it: the admin's password printed once on stderr
(the server's log, or the terminal of a `flask` command run before it), and a warning naming the
missing `<NAME>_API_KEY` when no provider is configured."""
import json
import os
import re
import sqlite3
import subprocess

from werkzeug.security import check_password_hash

from helpers import ROOT, GatewayServer
from providers import PROVIDERS

ADMIN_PASSWORD = re.compile(r"Created the admin account 'admin' with password (\S+)\. It is shown this once")


def flask_command(database, *args):
    environment = {key: value for key, value in os.environ.items() if not key.endswith("_API_KEY")}
    return subprocess.run(["flask", "--app", "gateway", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env={**environment, "DATABASE_URL": database})


def admin_password_hash(path):
    with sqlite3.connect(path) as connection:
        return connection.execute("SELECT password_hash FROM account WHERE name = 'admin'").fetchone()[0]


def test_a_flask_command_before_the_first_start_prints_the_admin_password_on_its_stderr(tmp_path):
    database = tmp_path / "first.db"
    first = flask_command(f"sqlite:///{database}", "accounts", "list")
    assert first.returncode == 0, first.stderr
    [password] = ADMIN_PASSWORD.findall(first.stderr)
    assert password not in first.stdout
    assert [account["name"] for account in json.loads(first.stdout)] == ["admin"]
    assert check_password_hash(admin_password_hash(database), password)
    again = flask_command(f"sqlite:///{database}", "accounts", "list")
    assert again.returncode == 0 and "admin account" not in again.stderr


def test_a_flask_command_does_not_warn_of_provider_keys_its_shell_need_not_hold(tmp_path):
    result = flask_command(f"sqlite:///{tmp_path / 'cli.db'}", "prices", "list")
    assert result.returncode == 0 and "_API_KEY" not in result.stderr


def test_the_first_server_start_logs_the_admin_password_once(tmp_path, upstream_server):
    database = tmp_path / "server.db"
    server = GatewayServer(f"sqlite:///{database}", upstream_server.url, log_path=tmp_path / "log")
    server.stop()
    [password] = ADMIN_PASSWORD.findall(server.log_text())
    assert check_password_hash(admin_password_hash(database), password)
    assert "No provider is configured" not in server.log_text()


def test_a_server_without_any_provider_key_warns_naming_the_variables(tmp_path, upstream_server):
    no_keys = {f"{provider.env_prefix}_API_KEY": "" for provider in PROVIDERS.values()}
    server = GatewayServer(f"sqlite:///{tmp_path / 'bare.db'}", upstream_server.url, workers=1,
                           log_path=tmp_path / "log", **no_keys)
    server.stop()
    [warning] = [line for line in server.log_text().splitlines() if "No provider is configured" in line]
    assert "DEEPSEEK_API_KEY" in warning
