"""`switchboard secrets rotate-key` (issue 9): every stored secret is re-encrypted under a
new key while an app started with the OLD key keeps reading and writing secrets and a
worker keeps pushing; afterwards every secret decrypts with the new key alone, none is left
under the old one, and sessions and API tokens signed before the rotation stay valid until
the previous key is forgotten."""

from __future__ import annotations

import re
import stat

import pytest
from sqlalchemy import inspect, select, text, update
from typer.testing import CliRunner

from switchboard import cli
from switchboard.core.config import Settings, get_settings
from switchboard.core.errors import Conflict, ServiceError
from switchboard.core.keyring import KeyFiles
from switchboard.core.security import SecretBox, TokenSigner
from switchboard.core.uow import unit_of_work
from switchboard.maintenance import secrets
from switchboard.pbx.models import MivbConnection
from switchboard.sync.worker import RetryPolicy, Worker
from tests.conftest import SIM_AUTH
from tests.maintenance.conftest import ADMIN_PASSWORD, file_settings

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
# Columns whose name sounds like a secret but that hold none (or only a one-way hash).
NOT_SECRETS = {"users.password_history", "users.token_version", "mivb_settings.pin_min_length",
               "mivb_settings.pin_forbid_repeated", "mivb_settings.pin_forbid_sequences",
               "mivb_settings.pin_forbid_dn"}


def schema_columns(connectable) -> list[str]:
    inspector = inspect(connectable)
    return [f"{table}.{column['name']}" for table in inspector.get_table_names()
            for column in inspector.get_columns(table)]


def stored_secrets(engine) -> dict[str, str]:
    """Every value of every *_encrypted column of the migrated schema, found by inspecting
    the database itself (not the models), keyed by "table.column key"."""
    found = {}
    with engine.connect() as conn:  # one connection: SQLite's transactions take the write lock
        inspector = inspect(conn)
        for name in schema_columns(conn):
            table, column = name.split(".")
            if not column.endswith("_encrypted"):
                continue
            (key,) = inspector.get_pk_constraint(table)["constrained_columns"]
            for row_key, value in conn.execute(text(f'SELECT "{key}", "{column}" FROM "{table}" '
                                                    f'WHERE "{column}" IS NOT NULL')):
                found[f"{name} {row_key}"] = value
    return found


def test_rotation_covers_every_secret_column_of_the_schema(engine):
    columns = schema_columns(engine)
    encrypted = {name for name in columns if name.endswith("_encrypted")}
    assert {c.name for c in secrets.encrypted_columns()} == encrypted
    assert {"mivb_connections.password_encrypted", "mivb_services.user_pin_encrypted",
            "mivb_phones.sip_password_encrypted"} <= encrypted
    looks_secret = {name for name in columns if re.search(r"password|pin|secret|token|credential", name.split(".")[1])}
    clear = {name for name in looks_secret - encrypted - NOT_SECRETS if not name.endswith("_hash")}
    assert clear == set(), "a column that sounds like a secret: store it encrypted (*_encrypted), or list it here"


def test_switching_the_key_files_keeps_both_keys_at_every_step(tmp_path):
    files = KeyFiles(tmp_path)
    ring = file_settings(tmp_path, "sqlite://").key_ring()
    old = ring.primary
    new = files.stage_new_key()
    assert files.stage_new_key() == new  # an interrupted rotation keeps its key
    assert ring.keys() == (new, old)  # a running process follows the files
    files.write(files.previous, f"{old}\n")  # as if it crashed after this step of the switch
    assert ring.keys() == (new, old)
    assert files.retire_current() is True and files.retire_current() is False
    assert ring.keys() == (new, old)
    assert (files.current.read_text().strip(), files.previous.read_text().split()) == (new, [old])
    assert {stat.S_IMODE(p.stat().st_mode) for p in (files.current, files.previous)} == {0o600}


def _console_sign_in(client, email: str) -> str:
    """Signs in on the console; returns the session cookie as it was then."""
    token = _CSRF.search(client.get("/login").text).group(1)
    response = client.post("/login", data={"email": email, "password": ADMIN_PASSWORD, "csrf_token": token},
                           follow_redirects=False)
    assert response.status_code == 303, response.text
    return client.cookies["switchboard_session"]


def _signed_in(client, cookie: str) -> bool:
    """Whether that very cookie still opens a console page."""
    client.cookies.clear()
    response = client.get("/me/password", headers={"Cookie": f"switchboard_session={cookie}"},
                          follow_redirects=False)
    return response.status_code == 200


def test_rotate_while_the_old_runtime_reads_and_writes_secrets(tmp_path, database, sim, sim_api, sites):
    url, factory = database
    var_dir = tmp_path / "var"
    old_settings = file_settings(var_dir, url)
    site = sites(old_settings, factory, sim.url, SIM_AUTH)  # the app: started before the rotation, OLD key only
    old_key = (var_dir / "secret_key").read_text().strip()
    app_runtime = site.client.app.state.runtime
    pins: dict[str, str] = {}
    for n in range(8):
        pins[site.new_user(pin=f"{4 + n}{8 - n}{(n * 3) % 10}9{(n * 7) % 10}1")] = ""
    for user_id in list(pins):
        site.add_sip_phone(user_id)
        pins[user_id] = site.revealed(user_id)["programming"]["user_pin"]
    sips = {p["id"]: p["sip"]["password"] for u in pins for p in site.revealed(u)["phones"] if p["sip"]}
    old_cookie = _console_sign_in(site.client, site.admin_email)
    old_token = site.admin
    before = stored_secrets(factory.kw["bind"])
    assert len(before) == 1 + len(pins) + len(sips)

    calls = []
    added = []
    users = list(pins)

    def meanwhile(number: int, done: int, total: int) -> None:
        """Runs between two batches of the rotation: the old app reads and writes secrets."""
        calls.append((number, done, total))
        i = len(calls)
        user_id = users[i % len(users)]
        config = site.revealed(user_id)  # reads secrets, some already under the new key
        assert config["programming"]["user_pin"] == pins[user_id]
        for phone in config["phones"]:
            if phone["sip"]:
                assert phone["sip"]["password"] == sips[phone["id"]]
        if number == 1:  # writes a new pin and a new SIP phone
            pin = f"{(i * 7) % 10}{(i * 3 + 1) % 10}5{i % 10}08"
            site.set_pin(user_id, pin)
            pins[user_id] = pin
            phone_id, password = site.add_sip_phone(users[(i + 3) % len(users)])
            sips[phone_id] = password
            added.append(phone_id)
        if i == 1:
            # A process that had not learnt the new key yet wrote the PBX password under the
            # old one, behind the rotation's back: the next pass must catch it.
            with unit_of_work(factory) as session:
                session.execute(update(MivbConnection).values(
                    password_encrypted=SecretBox(old_key).encrypt(SIM_AUTH[1])))
        if i == 3:  # the worker pushes with the old runtime too
            worker = Worker(factory, app_runtime, retry=RetryPolicy(0.01, 0.02, 3))
            while worker.run_once():
                pass

    rotation = secrets.rotate_key(file_settings(var_dir, url), factory, batch_size=3, progress=meanwhile)

    assert rotation.finished and rotation.settled and rotation.unreadable == []
    assert rotation.passes >= 2 and any(number == 2 for number, _, _ in calls)
    assert rotation.total == len(before) and rotation.re_encrypted > 0
    new_key = (var_dir / "secret_key").read_text().strip()
    assert new_key != old_key and not (var_dir / "secret_key.new").exists()
    assert (var_dir / "previous_secret_keys").read_text().split() == [old_key]
    for name in ("secret_key", "previous_secret_keys"):
        assert stat.S_IMODE((var_dir / name).stat().st_mode) == 0o600

    after = stored_secrets(factory.kw["bind"])
    assert len(after) == len(before) + len(added) and added  # the SIP phones added during the rotation
    only_new, only_old = SecretBox(new_key), SecretBox(old_key)
    for where, token in after.items():
        only_new.decrypt(token)
        with pytest.raises(ValueError):
            only_old.decrypt(token)
    # The old app still reads every secret, as it was last written.
    for user_id, pin in pins.items():
        config = site.revealed(user_id)
        assert config["programming"]["user_pin"] == pin
        assert {p["id"]: p["sip"]["password"] for p in config["phones"] if p["sip"]} == {
            k: v for k, v in sips.items() if k in {p["id"] for p in config["phones"]}}
    worker = Worker(factory, app_runtime, retry=RetryPolicy(0.01, 0.02, 3))
    while worker.run_once():
        pass
    on_pbx = {u["user_key"]: u for u in sim_api.get("/_sim/state").json()["users"]}
    assert {user_id: on_pbx[user_id]["user_pin"] for user_id in pins} == pins

    # Sessions and tokens signed before the rotation stay valid while the old key is kept;
    # new ones are signed with the new key.
    assert site.client.get(site.url("/users"), headers=old_token).status_code == 200
    assert _signed_in(site.client, old_cookie)
    new_token = site.login(site.admin_email)["Authorization"].split()[1]
    assert TokenSigner(new_key, 60).read(new_token) and TokenSigner(old_key, 60).read(new_token) is None
    found = secrets.status(factory, SecretBox(old_settings.key_ring()))
    assert (found.current, found.previous, found.unreadable) == (len(after), 0, [])

    with pytest.raises(Conflict) as refused:  # sessions signed with it are still valid
        secrets.forget_previous_keys(old_settings, factory)
    assert refused.value.code == "previous_key_in_grace"
    secrets.forget_previous_keys(old_settings, factory, now=True)
    assert not (var_dir / "previous_secret_keys").exists()
    assert site.client.get(site.url("/users"), headers=old_token).status_code == 401
    assert not _signed_in(site.client, old_cookie)
    assert site.client.get(site.url("/users"), headers={"Authorization": f"Bearer {new_token}"}).status_code == 200


def test_an_interrupted_rotation_resumes_with_its_key_and_a_finished_one_does_nothing_more(
        tmp_path, database, sim, sim_api, sites, monkeypatch):
    url, factory = database
    var_dir = tmp_path / "var"
    site = sites(file_settings(var_dir, url), factory, sim.url, SIM_AUTH)
    for n in range(5):
        site.add_sip_phone(site.new_user(pin=f"50{n}739"))
    total = len(stored_secrets(factory.kw["bind"]))

    def interrupt(number: int, done: int, total: int) -> None:
        if done > 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        secrets.rotate_key(file_settings(var_dir, url), factory, batch_size=2, progress=interrupt)
    staged = (var_dir / "secret_key.new").read_text().strip()
    # The connection's password and two batches of two SIP passwords were committed.
    halfway = secrets.status(factory, SecretBox(file_settings(var_dir, url).key_ring()))
    assert (halfway.current, halfway.previous, halfway.unreadable) == (5, total - 5, [])
    assert site.revealed(site.new_user(pin="864213"))["programming"]["user_pin"] == "864213"  # the app works on
    left = secrets.status(factory, SecretBox(file_settings(var_dir, url).key_ring())).previous
    everything = len(stored_secrets(factory.kw["bind"]))

    monkeypatch.setenv("SWITCHBOARD_VAR_DIR", str(var_dir))
    monkeypatch.setenv("SWITCHBOARD_DATABASE_URL", url)
    for name in ("SWITCHBOARD_SECRET_KEY", "SWITCHBOARD_SECRET_KEY_NEW", "SWITCHBOARD_PREVIOUS_SECRET_KEYS"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    try:
        resumed = CliRunner().invoke(cli.app, ["secrets", "rotate-key", "--batch-size", "3"])
        assert resumed.exit_code == 0, resumed.output
        assert f"Re-encrypted {left} secrets under the new key ({everything} stored" in resumed.output
        assert (var_dir / "secret_key").read_text().strip() == staged  # the key it started with

        monkeypatch.setenv("SWITCHBOARD_SECRET_KEY_NEW", staged)  # the same rotation, asked again
        get_settings.cache_clear()
        again = CliRunner().invoke(cli.app, ["secrets", "rotate-key"])
        assert again.exit_code == 0, again.output
        assert "Re-encrypted 0 secrets" in again.output
        assert (var_dir / "secret_key").read_text().strip() == staged
        status = CliRunner().invoke(cli.app, ["secrets", "status"])
        assert status.exit_code == 0 and f"{everything} secrets under the current key, 0 under a previous key" in \
            status.output
    finally:
        get_settings.cache_clear()


def test_environment_keys_need_the_new_key_in_the_environment_and_unreadable_secrets_are_reported(
        tmp_path, database, sim, sim_api, sites):
    url, factory = database
    old = Settings(var_dir=tmp_path, database_url=url, secret_key="old-environment-key", secret_key_new="",
                   previous_secret_keys="")
    site = sites(old, factory, sim.url, SIM_AUTH)
    user_id = site.new_user(pin="642097")
    with pytest.raises(ServiceError) as refused:
        secrets.rotate_key(old, factory)
    assert refused.value.code == "new_key_required"
    assert not (tmp_path / "secret_key.new").exists()

    with unit_of_work(factory) as session:  # a pin written under a key nobody has any more
        session.execute(text("UPDATE mivb_services SET user_pin_encrypted = :token WHERE user_id = :id"),
                        {"token": SecretBox("a-lost-key").encrypt("111222"), "id": user_id})
        (pbx_token,) = session.execute(select(MivbConnection.password_encrypted)).one()
    staged = Settings(var_dir=tmp_path, database_url=url, secret_key="old-environment-key",
                      secret_key_new="new-environment-key", previous_secret_keys="")
    rotation = secrets.rotate_key(staged, factory)
    assert rotation.mode == "environment" and not rotation.finished
    assert rotation.unreadable == [f"mivb_services.user_pin_encrypted {user_id}"]
    assert rotation.re_encrypted == len(stored_secrets(factory.kw["bind"])) - 1
    with unit_of_work(factory) as session:
        (now,) = session.execute(select(MivbConnection.password_encrypted)).one()
    assert now != pbx_token and SecretBox("new-environment-key").decrypt(now) == SIM_AUTH[1]
    # After the switch the operator is told to make: the new key is current, the old one previous.
    switched = Settings(var_dir=tmp_path, database_url=url, secret_key="new-environment-key", secret_key_new="",
                        previous_secret_keys="old-environment-key")
    found = secrets.status(factory, SecretBox(switched.key_ring()))
    assert (found.previous, found.unreadable) == (0, [f"mivb_services.user_pin_encrypted {user_id}"])
