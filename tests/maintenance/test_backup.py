"""`switchboard backup` and `switchboard restore` (issue 9): a backup taken while the app
runs restores into a fresh database with every row of every table identical (SQLite: the
online backup API; PostgreSQL: pg_dump -Fc and pg_restore, run for real); a restore checks
what it is given, upgrades an older schema, and refuses to overwrite a database that a
running process has open unless forced."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from switchboard import cli
from switchboard.core.config import get_settings
from switchboard.maintenance.backup import head_revision, sqlite_in_use
from switchboard.migrations import upgrade
from switchboard.testing.databases import postgres_admin_url, temporary_database
from tests.conftest import SIM_AUTH
from tests.maintenance.conftest import every_row, file_settings

PIN = "58203917"


@pytest.fixture
def run_cli(monkeypatch, tmp_path):
    """Runs `switchboard ARGS` in this process against the database URL given."""
    for name in ("SWITCHBOARD_SECRET_KEY", "SWITCHBOARD_SECRET_KEY_NEW", "SWITCHBOARD_PREVIOUS_SECRET_KEYS"):
        monkeypatch.delenv(name, raising=False)

    def run(url: str, *args: str, var_dir: Path | None = None):
        monkeypatch.setenv("SWITCHBOARD_DATABASE_URL", url)
        monkeypatch.setenv("SWITCHBOARD_VAR_DIR", str(var_dir or tmp_path / "var"))
        get_settings.cache_clear()
        try:
            return CliRunner().invoke(cli.app, list(args))
        finally:
            get_settings.cache_clear()

    return run


@pytest.fixture
def fresh_url(tmp_path, backend):
    """An empty database nobody has opened yet (SQLite: a path with no file)."""
    (tmp_path / "fresh").mkdir()
    with temporary_database(backend, tmp_path / "fresh") as url:
        yield url


def _rows(url: str) -> dict[str, list[str]]:
    return {name: sorted(json.dumps(row, default=str, sort_keys=True) for row in rows)
            for name, rows in every_row(url).items()}


def _populate(site) -> None:
    for n in range(4):
        user_id = site.new_user(pin=f"{PIN[:6]}{n}1")
        site.add_sip_phone(user_id)
    response = site.client.post(site.url("/mivb/did-ranges"), headers=site.partner, json={
        "start": "+33150000000", "end": "+33150000009", "first_dn": "3100"})
    assert response.status_code == 201, response.text


def test_a_backup_taken_while_the_app_runs_restores_identical(tmp_path, backend, database, fresh_url, sim, sim_api,
                                                              sites, run_cli):
    if backend == "postgresql" and not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.skip("pg_dump and pg_restore are not installed")
    url, factory = database
    var_dir = tmp_path / "var"
    site = sites(file_settings(var_dir, url), factory, sim.url, SIM_AUTH)
    _populate(site)
    backup = tmp_path / "backups" / "switchboard.backup"
    backup.parent.mkdir()

    if backend == "postgresql":
        printed = run_cli(url, "backup", str(backup))
        assert printed.exit_code == 0 and "pg_dump --format=custom" in printed.output and not backup.exists()
    made = run_cli(url, "backup", str(backup), "--run")  # the app is still open on the database
    assert made.exit_code == 0, made.output
    assert f"schema revision {head_revision()}" in made.output
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    content = backup.read_bytes()
    assert not [n for n in range(4) if f"{PIN[:6]}{n}1".encode() in content]  # the pins are in it, encrypted
    again = run_cli(url, "backup", str(backup), "--run")
    assert again.exit_code == 2 and "--force" in again.output

    restored = run_cli(fresh_url, "restore", str(backup), "--run", var_dir=var_dir)
    assert restored.exit_code == 0, restored.output
    before, after = _rows(url), _rows(fresh_url)
    assert {"users", "mivb_phones", "dn_ranges", "did_ranges", "mivb_services", "mivb_connections"} <= set(after)
    assert sum(len(rows) for rows in after.values()) > 50
    assert after == before
    # The restored database works: the app over it reads the secrets back.
    from switchboard.core.db import make_engine, make_session_factory

    engine = make_engine(fresh_url)
    try:
        twin = sites(file_settings(var_dir, fresh_url), make_session_factory(engine), sim.url, SIM_AUTH)
        users = twin.client.get(site.url("/users?limit=100"), headers=site.admin)
        assert users.status_code == 200 and users.json()["total"] == 5  # the account admin and four users
        some = next(u["id"] for u in users.json()["items"] if u["email"].startswith("rita"))
        assert twin.client.get(site.user_url(some, "/mivb?reveal=true"),
                               headers=site.admin).json()["programming"]["user_pin"].startswith(PIN[:6])
    finally:
        engine.dispose()


def test_restore_upgrades_an_older_schema_and_refuses_what_it_cannot_take(tmp_path, backend, fresh_url, run_cli):
    if backend == "postgresql" and not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.skip("pg_dump and pg_restore are not installed")
    with temporary_database(backend, tmp_path) as old_url:
        upgrade(old_url, "0004")
        engine = create_engine(old_url)
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO partners (id, name, created_at, updated_at) "
                              "VALUES ('p1', 'Old Partner', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"))
        engine.dispose()
        old_backup = tmp_path / "old.backup"
        assert run_cli(old_url, "backup", str(old_backup), "--run").exit_code == 0

        restored = run_cli(fresh_url, "restore", str(old_backup), "--run")
        assert restored.exit_code == 0, restored.output
        assert f"schema revision 0004, now {head_revision()}" in restored.output
        engine = create_engine(fresh_url)
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT version_num FROM alembic_version")) == head_revision()
            assert conn.scalar(text("SELECT name FROM partners")) == "Old Partner"
            assert conn.scalar(text("SELECT count(*) FROM user_sessions")) == 0  # a table of revision 0005
        engine.dispose()

        engine = create_engine(old_url)
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
        engine.dispose()
        newer = tmp_path / "newer.backup"
        assert run_cli(old_url, "backup", str(newer), "--run").exit_code == 0
    refused = run_cli(fresh_url, "restore", str(newer), "--run", "--force")
    assert refused.exit_code == 2 and "0099" in refused.output and "does not know" in refused.output

    junk = tmp_path / "junk.backup"
    junk.write_bytes(os.urandom(4096))
    refused = run_cli(fresh_url, "restore", str(junk), "--run", "--force")
    assert refused.exit_code == 2, refused.output
    if backend == "sqlite":
        assert "not a SQLite database" in refused.output
        other = tmp_path / "other.db"
        with sqlite3.connect(other) as conn:
            conn.execute("CREATE TABLE notes (body TEXT)")
        refused = run_cli(fresh_url, "restore", str(other))
        assert refused.exit_code == 2 and "not a Switchboard database" in refused.output
    missing = run_cli(fresh_url, "restore", str(tmp_path / "nothing.backup"), "--run")
    assert missing.exit_code == 2 and "no file" in missing.output


def _start_worker(url: str, var_dir: Path, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    env.update(SWITCHBOARD_DATABASE_URL=url, SWITCHBOARD_VAR_DIR=str(var_dir))
    return subprocess.Popen([sys.executable, "-m", "switchboard.cli", "worker", "--threads", "1"], env=env,
                            stdout=log.open("w"), stderr=subprocess.STDOUT)


def _switchboard(url: str, var_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    env.update(SWITCHBOARD_DATABASE_URL=url, SWITCHBOARD_VAR_DIR=str(var_dir), COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "switchboard.cli", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def _wait_until_open(backend: str, url: str, process: subprocess.Popen) -> None:
    """Until the process has the database open (it connects on its first poll)."""
    deadline = time.monotonic() + 60
    while True:
        if backend == "sqlite":  # this process never opened it: the lock test sees the worker's
            is_open = sqlite_in_use(Path(url.removeprefix("sqlite:///")))
        else:
            engine = create_engine(postgres_admin_url())
            with engine.connect() as conn:
                is_open = conn.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE datname = :name"),
                                      {"name": make_url(url).database}) > 0
            engine.dispose()
        if is_open:
            return
        assert process.poll() is None and time.monotonic() < deadline, "the worker never opened the database"
        time.sleep(0.1)


@pytest.mark.slow
def test_restore_refuses_a_database_a_running_process_has_open(tmp_path, backend, run_cli):
    """A real `switchboard worker` holds the database open; restore (its own process, as an
    operator runs it) refuses, then overwrites it with --force."""
    if backend == "postgresql" and not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.skip("pg_dump and pg_restore are not installed")
    var_dir = tmp_path / "var"
    with temporary_database(backend, tmp_path) as url, temporary_database(backend, tmp_path) as live_url:
        upgrade(url)
        backup = tmp_path / "a.backup"
        assert run_cli(url, "backup", str(backup), "--run").exit_code == 0
        upgrade(live_url)
        worker = _start_worker(live_url, var_dir, tmp_path / "worker.log")
        try:
            _wait_until_open(backend, live_url, worker)
            refused = _switchboard(live_url, var_dir, "restore", str(backup), "--run")
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            assert refused.returncode == 2, refused.stdout + refused.stderr
            assert "open in another process" in refused.stderr
            forced = _switchboard(live_url, var_dir, "restore", str(backup), "--run", "--force")
            assert forced.returncode == 0, forced.stdout + forced.stderr
        finally:
            worker.terminate()
            worker.wait(timeout=30)
        # Nobody has it open any more: SQLite restores over it; PostgreSQL wants an empty
        # database (or --force to replace its tables).
        after = _switchboard(live_url, var_dir, "restore", str(backup), "--run")
        if backend == "postgresql":
            assert after.returncode == 2 and "not empty" in after.stderr, after.stdout + after.stderr
            after = _switchboard(live_url, var_dir, "restore", str(backup), "--run", "--force")
        assert after.returncode == 0, after.stdout + after.stderr


def test_sqlite_backups_stay_consistent_while_the_app_writes(tmp_path, backend, database, sim, sim_api, sites, run_cli):
    if backend != "sqlite":
        pytest.skip("the online backup API is SQLite's; pg_dump works from one snapshot by design")
    url, factory = database
    site = sites(file_settings(tmp_path / "var", url), factory, sim.url, SIM_AUTH)
    stop = threading.Event()
    failures: list[str] = []

    def keep_writing() -> None:
        while not stop.is_set():
            try:
                site.add_sip_phone(site.new_user(pin="730158"))
            except AssertionError as exc:  # reported below: a write must never fail for a backup
                failures.append(str(exc))
                return

    writer = threading.Thread(target=keep_writing)
    writer.start()
    counts = []
    try:
        for n in range(3):
            backup = tmp_path / f"online-{n}.backup"
            made = run_cli(url, "backup", str(backup))
            assert made.exit_code == 0, made.output
            with sqlite3.connect(f"file:{backup}?mode=ro", uri=True) as conn:
                assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
                assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
                assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
                counts.append(conn.execute("SELECT count(*) FROM users").fetchone()[0])
    finally:
        stop.set()
        writer.join(timeout=60)
    assert failures == []
    assert counts == sorted(counts), counts
