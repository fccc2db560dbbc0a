"""The command line, settings and migrations."""

from __future__ import annotations

import os
import stat

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select
from typer.testing import CliRunner

from switchboard import cli
from switchboard.accounts.models import Account, Partner, User
from switchboard.core.config import Settings, get_settings
from switchboard.core.db import make_engine, make_session_factory
from switchboard.migrations import upgrade
from switchboard.models_registry import metadata
from switchboard.testing.databases import temporary_database


@pytest.fixture
def fresh_database(tmp_path, backend, monkeypatch):
    """A migrated, empty database of the current engine that the CLI is pointed at."""
    with temporary_database(backend, tmp_path) as url:
        upgrade(url)
        monkeypatch.setenv("SWITCHBOARD_DATABASE_URL", url)
        monkeypatch.setenv("SWITCHBOARD_VAR_DIR", str(tmp_path))
        get_settings.cache_clear()
        engine = make_engine(url)
        yield make_session_factory(engine)
        engine.dispose()
        get_settings.cache_clear()


def test_migrations_match_the_models(engine):
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []


def test_partner_create_and_bad_flags(fresh_database):
    runner = CliRunner()
    ok = runner.invoke(cli.app, ["partner", "create", "--name", "Acme Telecom", "--admin-email", "boss@acme.example",
                                 "--admin-password", "long-enough-pw"])
    assert ok.exit_code == 0, ok.output
    assert "Partner created" in ok.output
    with fresh_database() as session:
        admin = session.scalar(select(User).where(User.email_key == "boss@acme.example"))
        assert admin.role == "partner_admin"

    bad = runner.invoke(cli.app, ["partner", "create", "--name", "Other", "--admin-email", "not-an-email",
                                  "--admin-password", "short"])
    assert bad.exit_code == 2
    assert "--admin-email" in bad.output and "--admin-password" in bad.output
    twice = runner.invoke(cli.app, ["partner", "create", "--name", "acme telecom", "--admin-email", "x@acme.example",
                                    "--admin-password", "long-enough-pw"])
    assert twice.exit_code == 2 and "already exists" in twice.output
    with fresh_database() as session:
        assert session.scalar(select(Partner).where(Partner.name == "Other")) is None


def test_demo_seeds_once(fresh_database):
    runner = CliRunner()
    first = runner.invoke(cli.app, ["demo"])
    assert first.exit_code == 0 and "created" in first.output and "partner@demo.example" in first.output
    second = runner.invoke(cli.app, ["demo"])
    assert second.exit_code == 0 and "already present" in second.output
    with fresh_database() as session:
        account = session.scalar(select(Account).where(Account.name == "Demo Customer"))
        users = session.scalars(select(User).where(User.account_id == account.id)).all()
        assert len(users) == 25
        assert [u.email for u in users if u.role == "account_admin"] == ["admin@demo.example"]


def test_help_reads_well():
    result = CliRunner().invoke(cli.app, ["--help"])
    assert result.exit_code == 0
    for command in ("serve", "run", "db", "partner", "demo"):
        assert command in result.output
    bad_port = CliRunner().invoke(cli.app, ["serve", "--port", "70000"])
    assert bad_port.exit_code == 2 and "65535" in bad_port.output


def test_secret_key_is_generated_once_owner_only(tmp_path):
    settings = Settings(var_dir=tmp_path / "var")
    key = settings.resolved_secret_key()
    assert len(key) >= 40
    assert settings.resolved_secret_key() == key
    mode = stat.S_IMODE(os.stat(tmp_path / "var" / "secret_key").st_mode)
    assert mode == 0o600
    assert Settings(var_dir=tmp_path / "var", secret_key="explicit").resolved_secret_key() == "explicit"


def test_default_database_is_sqlite_under_var(tmp_path):
    assert Settings(var_dir=tmp_path).resolved_database_url() == f"sqlite:///{tmp_path / 'switchboard.core.db'}"


def test_bad_settings_are_refused(monkeypatch):
    from pydantic import ValidationError

    monkeypatch.setenv("SWITCHBOARD_PORT", "not-a-port")
    with pytest.raises(ValidationError, match="port"):
        Settings()


def test_make_test_runner_fails_in_ci_without_postgresql(monkeypatch, capsys):
    from switchboard.testing import run_all

    runs = []
    monkeypatch.setattr(run_all.subprocess, "call", lambda cmd, env: runs.append(env["SWITCHBOARD_TEST_DB"]) or 0)
    monkeypatch.setattr(run_all, "postgres_available", lambda: (False, "OperationalError: refused"))
    monkeypatch.setenv("CI", "true")
    assert run_all.main([]) == 1
    assert runs == ["sqlite"]
    assert "PostgreSQL is NOT reachable" in capsys.readouterr().err
    monkeypatch.setenv("CI", "false")
    assert run_all.main([]) == 0  # a developer without PostgreSQL gets the loud warning, not a failure
    monkeypatch.setattr(run_all, "postgres_available", lambda: (True, "PostgreSQL 15"))
    runs.clear()
    assert run_all.main(["-k", "x"]) == 0 and runs == ["sqlite", "postgresql"]
