"""Finding 9 of the security review (issue 9): secrets outside the database were readable
by other local users. The simulator's state file is owner-only, `make run` (switchboard
run) puts no password on a command line, `switchboard partner create` takes the admin
password from a hidden prompt or the environment, and the SQLite file and var/ are
owner-only."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from switchboard import cli
from switchboard.accounts.models import User
from switchboard.core.config import Settings
from switchboard.core.security import verify_password
from switchboard.mivb_sim import cli as sim_cli
from switchboard.mivb_sim.launcher import launch
from switchboard.mivb_sim.state import Pbx


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def open_umask():
    """A umask that would leave new files readable by everyone."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_the_simulator_state_file_is_owner_only(tmp_path, open_umask):
    state = tmp_path / "sim.json"
    Pbx(state_file=state)
    assert _mode(state) == 0o600
    # A state file written by an older version (0644) becomes owner-only when loaded.
    os.chmod(state, 0o644)
    Pbx(state_file=state)
    assert _mode(state) == 0o600
    leftover = tmp_path / ".sim.json.tmp"  # a crash's temporary file, world-readable
    leftover.write_text("{}")
    os.chmod(leftover, 0o644)
    pbx = Pbx(state_file=state)
    pbx.reset()
    assert _mode(state) == 0o600


def test_the_launched_simulator_gets_no_password_on_its_command_line(tmp_path):
    password = "launcher-secret-4242"
    sim = launch(auth=("gateway", password), stderr_path=tmp_path / "sim.log")
    try:
        assert password not in " ".join(sim.process.args)
        cmdline = Path(f"/proc/{sim.process.pid}/cmdline").read_bytes().decode()
        assert password not in cmdline and "--password" not in cmdline
        with sim.client() as client:
            assert client.get("/api/v1/system").status_code == 200
        with sim.client(auth=("gateway", "admin")) as client:
            assert client.get("/api/v1/system").status_code == 401
    finally:
        sim.stop()


def test_mivb_sim_reads_its_password_from_the_environment(monkeypatch):
    monkeypatch.delenv("MIVB_SIM_PASSWORD", raising=False)
    assert sim_cli._arguments([]).password == "admin"
    monkeypatch.setenv("MIVB_SIM_PASSWORD", "from-the-environment")
    assert sim_cli._arguments([]).password == "from-the-environment"
    assert sim_cli._arguments(["--password", "from-a-script"]).password == "from-a-script"


@pytest.fixture
def cli_database(tmp_path, backend, monkeypatch):
    from switchboard.core.config import get_settings
    from switchboard.core.db import make_engine, make_session_factory
    from switchboard.migrations import upgrade
    from switchboard.testing.databases import temporary_database

    with temporary_database(backend, tmp_path) as url:
        upgrade(url)
        monkeypatch.setenv("SWITCHBOARD_DATABASE_URL", url)
        monkeypatch.setenv("SWITCHBOARD_VAR_DIR", str(tmp_path))
        monkeypatch.delenv("SWITCHBOARD_ADMIN_PASSWORD", raising=False)
        get_settings.cache_clear()
        engine = make_engine(url)
        yield make_session_factory(engine)
        engine.dispose()
        get_settings.cache_clear()


def _admin(factory, email: str) -> User:
    with factory() as session:
        return session.scalar(select(User).where(User.email_key == email))


def test_partner_create_takes_the_admin_password_from_the_environment(cli_database, monkeypatch):
    monkeypatch.setenv("SWITCHBOARD_ADMIN_PASSWORD", "password-from-env")
    result = CliRunner().invoke(cli.app, ["partner", "create", "--name", "Env Telecom",
                                          "--admin-email", "ops@env.example"])
    assert result.exit_code == 0, result.output
    assert "password-from-env" not in result.output
    assert verify_password(_admin(cli_database, "ops@env.example").password_hash, "password-from-env")


def test_partner_create_prompts_for_the_admin_password_hidden_and_confirmed(cli_database):
    runner = CliRunner()
    args = ["partner", "create", "--name", "Prompt Telecom", "--admin-email", "ops@prompt.example"]
    mismatch = runner.invoke(cli.app, args, input="typed-once-only\ntyped-otherwise\n")
    assert mismatch.exit_code != 0 and _admin(cli_database, "ops@prompt.example") is None
    result = runner.invoke(cli.app, args, input="typed-at-the-prompt\ntyped-at-the-prompt\n")
    assert result.exit_code == 0, result.output
    assert "Password of the partner's first admin" in result.output
    assert "typed-at-the-prompt" not in result.output  # hidden input is not echoed
    assert verify_password(_admin(cli_database, "ops@prompt.example").password_hash, "typed-at-the-prompt")
    weak = runner.invoke(cli.app, ["partner", "create", "--name", "Weak Telecom", "--admin-email",
                                   "ops@weak.example"], input="password1234\npassword1234\n")
    assert weak.exit_code == 2 and "--admin-password" in weak.output


def test_partner_create_help_warns_that_the_flag_is_visible():
    result = CliRunner().invoke(cli.app, ["partner", "create", "--help"], env={"COLUMNS": "300"})
    assert result.exit_code == 0
    text = " ".join(re.sub(r"[│╭╮╰╯─]", " ", result.output).split())  # the help's boxes, unwrapped
    assert "SWITCHBOARD_ADMIN_PASSWORD" in text and "visible to every local user" in text


def test_the_sqlite_file_and_var_dir_are_owner_only(tmp_path, open_umask):
    var = tmp_path / "var"
    settings = Settings(var_dir=var)
    url = settings.resolved_database_url()
    database = var / "switchboard.core.db"
    assert url == f"sqlite:///{database}"
    assert _mode(var) == 0o700 and _mode(database) == 0o600
    # What SQLite writes there keeps the database file's mode.
    from switchboard.migrations import upgrade

    upgrade(url)
    for path in var.iterdir():
        assert _mode(path) == 0o600, path.name
    # A var/ and a database made world-readable by an older version are tightened.
    os.chmod(var, 0o755)
    os.chmod(database, 0o644)
    settings.resolved_database_url()
    assert _mode(var) == 0o700 and _mode(database) == 0o600
    settings.resolved_secret_key()
    assert _mode(var / "secret_key") == 0o600
