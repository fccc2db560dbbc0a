"""Secrets at rest (issue 9): a user pin, the SIP passwords of generic SIP phones, the PBX
connection password and a sign-in password, set through the real app and pushed by a real
worker process, are found in clear nowhere Switchboard keeps things: not in any column of
any row of any table (the change log included), not in the database's files (SQLite: the
file, its -wal and -shm; PostgreSQL: a pg_dump of the whole database), not in the logs at
DEBUG (this process's, SQL parameters included, and the worker process's output).

API tokens and console session tokens are searched for too (the database keeps a
session's token only as its hash).

The simulator is the PBX: it holds the pin and the SIP passwords in clear by design (a
MiVB has to). What is asserted of its state file: it does hold them (so the push really
happened and the search is not vacuous), it is readable by its owner only, and it never
holds the PBX connection password nor a sign-in password."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from switchboard.core.db import is_sqlite
from switchboard.maintenance.backup import libpq_uri, pg_environment
from switchboard.mivb_sim.launcher import launch
from tests.maintenance.conftest import ADMIN_PASSWORD, every_row, file_settings, text_of

# Eight digits (the longest pin), none of the policy's weak shapes; a secret this long
# cannot turn up by chance in ids, dates or ciphertexts.
PIN = "73915286"
PBX_USER = "gateway"
PBX_PASSWORD = "pbx-Conn-9f3Kq27Lw8"
IMPORTED_PIN = "60481935"  # set through a bulk CSV import


def database_bytes(url: str, tmp_path: Path) -> dict[str, bytes]:
    if is_sqlite(url):
        path = Path(url.removeprefix("sqlite:///"))
        files = {f"{path.name}{suffix}": Path(f"{path}{suffix}").read_bytes()
                 for suffix in ("", "-wal", "-shm") if Path(f"{path}{suffix}").exists()}
        # The recent writes sit in the write-ahead log: it must have been read.
        assert files.get(f"{path.name}-wal"), "the -wal file is missing or empty"
        return files
    if shutil.which("pg_dump") is None:
        pytest.skip("pg_dump is not installed")
    dump = subprocess.run(["pg_dump", "--format=plain", f"--dbname={libpq_uri(url)}"], env=pg_environment(url),
                          capture_output=True, check=True)
    return {"pg_dump of the database": dump.stdout}


def run_worker_once(url: str, var_dir: Path, log: Path) -> str:
    """`switchboard worker --once` as its own process, every logger at DEBUG."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    env.update(SWITCHBOARD_DATABASE_URL=url, SWITCHBOARD_VAR_DIR=str(var_dir))
    code = ("import logging, sys; logging.basicConfig(level=logging.DEBUG, stream=sys.stdout); "
            "logging.getLogger('sqlalchemy').setLevel(logging.DEBUG); "
            "sys.argv = ['switchboard', 'worker', '--once']; from switchboard.cli import main; main()")
    with log.open("w") as out:
        subprocess.run([sys.executable, "-c", code], env=env, stdout=out, stderr=subprocess.STDOUT, check=True,
                       timeout=120)
    return log.read_text()


def console_session_token(site) -> str:
    """Signs in on the console; the random token its cookie carries (the database keeps
    only its hash)."""
    page = site.client.get("/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = site.client.post("/login", data={"email": site.admin_email, "password": ADMIN_PASSWORD,
                                                "csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 303, response.text
    payload = site.client.cookies["switchboard_session"].strip('"').split(".")[0]
    token = json.loads(base64.b64decode(payload))["sid"]
    assert len(token) >= 32
    return token


@pytest.fixture
def pbx(tmp_path):
    state = tmp_path / "mivb-sim.json"
    sim = launch("--state", str(state), "--log-level", "debug", auth=(PBX_USER, PBX_PASSWORD),
                 stderr_path=tmp_path / "mivb-sim.log")
    yield sim, state
    sim.stop()


@pytest.mark.slow
def test_no_secret_is_stored_or_logged_in_clear(tmp_path, database, pbx, sites, caplog):
    caplog.set_level("DEBUG")  # every logger: HTTP clients, the worker…
    caplog.set_level("DEBUG", logger="sqlalchemy")  # (which stays at WARNING unless told): SQL, parameters, rows
    url, factory = database
    sim, state_file = pbx
    var_dir = tmp_path / "var"
    site = sites(file_settings(var_dir, url), factory, sim.url, (PBX_USER, PBX_PASSWORD), shared=False)
    user_id = site.new_user(pin=PIN)
    site.add_sip_phone(user_id)
    test = site.client.post(site.url("/mivb/connection/test"), headers=site.partner)
    assert test.status_code == 200 and test.json()["ok"] is True, test.text

    imported = site.client.post(site.url("/imports?mode=apply"), headers={**site.admin, "content-type": "text/csv"},
                                content=("email,first_name,last_name,mivb,service_category,user_pin\r\n"
                                         f"ivan@{site.account_id[:8]}.example,Ivan,Import,yes,Telephony,"
                                         f"{IMPORTED_PIN}\r\n").encode())
    assert imported.status_code == 202, imported.text

    revealed = site.revealed(user_id)
    assert revealed["programming"]["user_pin"] == PIN
    sip_passwords = [p["sip"]["password"] for p in revealed["phones"] if p["type"] == "generic_sip"]
    assert sip_passwords and all(len(p) >= 16 for p in sip_passwords)
    worker_output = run_worker_once(url, var_dir, tmp_path / "worker.log")  # the import, then the pushes
    job = site.client.get(f"/api/v1/jobs/{imported.json()['id']}", headers=site.admin).json()
    assert job["state"] == "succeeded" and job["result"]["rows"][0]["status"] == "created", job
    on_pbx = {u["user_key"]: u for u in json.loads(state_file.read_text())["users"]}[user_id]
    assert on_pbx["user_pin"] == PIN  # pushed: the PBX holds it, as a MiVB must
    ivan = next(u for u in json.loads(state_file.read_text())["users"] if u["last_name"] == "Import")
    assert ivan["user_pin"] == IMPORTED_PIN

    secrets = {"the user pin": PIN, "the imported user pin": IMPORTED_PIN, "the PBX connection password": PBX_PASSWORD,
               "a sign-in password": ADMIN_PASSWORD, "an API token": site.admin["Authorization"].split()[1],
               "a console session's token": console_session_token(site)}
    secrets.update({f"SIP password {i + 1}": password for i, password in enumerate(sip_passwords)})
    findings: list[str] = []

    def search(where: str, text: str | bytes) -> None:
        for label, secret in secrets.items():
            if (secret.encode() if isinstance(text, bytes) else secret) in text:
                findings.append(f"{label} in {where}")

    tables = every_row(url)
    assert {"mivb_services", "mivb_phones", "mivb_connections", "audit_entries", "sync_jobs", "users"} <= set(tables)
    for name, rows in tables.items():
        for row in rows:
            for column, value in row.items():
                search(f"{name}.{column}", text_of(value))
    # The secrets were stored (encrypted): the search above looked at real data.
    assert tables["mivb_connections"][0]["password_encrypted"]
    assert sum(bool(row["user_pin_encrypted"]) for row in tables["mivb_services"]) == 2
    assert sum(bool(row["sip_password_encrypted"]) for row in tables["mivb_phones"]) == len(sip_passwords)
    # The change log recorded the pin change, the phones and the connection, without them.
    change_log = [row for row in tables["audit_entries"] if row["account_id"] == site.account_id]
    assert {"mivb_connection", "mivb_service", "phone"} <= {row["object_type"] for row in change_log}
    search("the change log (API)", site.client.get(site.url("/audit?limit=500"), headers=site.admin).text)

    for name, content in database_bytes(url, tmp_path).items():
        search(name, content)
    search("this process's logs", caplog.text + "\n".join(r.getMessage() for r in caplog.records))
    assert "mivb_phones" in caplog.text  # the SQL went through the captured logs
    search("the worker's output", worker_output)
    assert "sqlalchemy.engine" in worker_output and "HTTP Request: PUT" in worker_output

    assert stat.S_IMODE(state_file.stat().st_mode) == 0o600  # the pin and SIP passwords are in it
    pbx_secrets = {"the PBX connection password": PBX_PASSWORD, "a sign-in password": ADMIN_PASSWORD}
    for label, secret in pbx_secrets.items():
        if secret in state_file.read_text():
            findings.append(f"{label} in the simulator's state file")
    sim.stop()
    for label, secret in pbx_secrets.items():
        if secret in (tmp_path / "mivb-sim.log").read_text():
            findings.append(f"{label} in the simulator's log")
    assert findings == [], "\n".join(findings)


def test_the_upgrade_encrypts_the_input_of_jobs_made_before(tmp_path, backend, monkeypatch):
    """Revision 0008: an import's CSV (pins and all) was kept in clear in jobs.input_text;
    the upgrade encrypts what is there with the installation's key."""
    from sqlalchemy import create_engine, text

    from switchboard.core.config import get_settings
    from switchboard.core.security import SecretBox
    from switchboard.migrations import upgrade
    from switchboard.testing.databases import temporary_database

    csv_text = f"email,user_pin\r\nold@import.example,{IMPORTED_PIN}\r\n"
    monkeypatch.setenv("SWITCHBOARD_SECRET_KEY", "the-installation-key")
    get_settings.cache_clear()
    try:
        with temporary_database(backend, tmp_path) as url:
            upgrade(url, "0007")
            engine = create_engine(url)
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO partners (id, name, created_at, updated_at) VALUES "
                                  "('p', 'P', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"))
                conn.execute(text("INSERT INTO accounts (id, partner_id, name, name_key, default_language, "
                                  "created_at, updated_at, version) VALUES ('a', 'p', 'A', 'a', 'en', "
                                  "'2026-01-01 00:00:00', '2026-01-01 00:00:00', 1)"))
                conn.execute(text("INSERT INTO jobs (id, account_id, kind, mode, on_error, state, input_text, "
                                  "options, progress_done, progress_total, summary, attempts, created_at) VALUES "
                                  "('j', 'a', 'import', 'dry_run', 'all_or_nothing', 'succeeded', :csv, '{}', 1, 1, "
                                  "'{}', 1, '2026-01-01 00:00:00')"), {"csv": csv_text})
            upgrade(url)
            with engine.connect() as conn:
                stored = conn.scalar(text("SELECT input_encrypted FROM jobs"))
            engine.dispose()
    finally:
        get_settings.cache_clear()
    assert IMPORTED_PIN not in stored
    assert SecretBox("the-installation-key").decrypt(stored) == csv_text
