"""A committed database of its own, with the real app in front of it and an account
connected to a real simulator, for the tests that look at what is stored: secrets at
rest, key rotation, backups. (The rolled-back-transaction fixtures of the other tests never
commit, so the files would never see their data.)"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import MetaData, create_engine, inspect, select

from switchboard.accounts import service as accounts
from switchboard.app import create_app
from switchboard.core.config import Settings
from switchboard.core.db import make_engine, make_session_factory
from switchboard.core.uow import unit_of_work
from switchboard.migrations import upgrade
from switchboard.testing.databases import temporary_database
from tests.factories import make_account, make_user, system_ctx

_numbers = itertools.count(1)
ADMIN_PASSWORD = "adm1n-Passphrase-7Qx"


@pytest.fixture
def database(tmp_path, backend):
    """A migrated database of the current engine: (url, session factory)."""
    with temporary_database(backend, tmp_path) as url:
        upgrade(url)
        engine = make_engine(url)
        yield url, make_session_factory(engine)
        engine.dispose()


def text_of(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("latin-1")
    return json.dumps(value, default=str, ensure_ascii=False)


def every_row(url: str) -> dict[str, list[dict]]:
    """Every table of the database, every column of every row, as the engine holds it."""
    engine = create_engine(url)
    try:
        meta = MetaData()
        meta.reflect(engine)
        assert set(meta.tables) == set(inspect(engine).get_table_names())
        with engine.connect() as conn:
            return {name: [dict(row._mapping) for row in conn.execute(select(table))]
                    for name, table in meta.tables.items()}
    finally:
        engine.dispose()


@dataclass
class Site:
    """The app over a committed database, one partner and account connected to a PBX."""

    client: TestClient
    factory: object
    account_id: str
    partner: dict[str, str]
    admin: dict[str, str]
    admin_email: str
    category: str
    sip_passwords: dict[str, str] = field(default_factory=dict)  # phone id -> password, as revealed

    def url(self, path: str) -> str:
        return f"/api/v1/accounts/{self.account_id}{path}"

    def login(self, email: str) -> dict[str, str]:
        response = self.client.post("/api/v1/auth/token", json={"email": email, "password": ADMIN_PASSWORD})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    def user_url(self, user_id: str, path: str = "") -> str:
        return self.url(f"/users/{user_id}{path}")

    def new_user(self, pin: str | None = None) -> str:
        n = next(_numbers)
        response = self.client.post(self.url("/users"), headers=self.admin, json={
            "first_name": "Rita", "last_name": f"Rotate{n}", "email": f"rita{n}@{self.account_id[:8]}.example"})
        assert response.status_code == 201, response.text
        user_id = response.json()["id"]
        assert self.client.post(self.user_url(user_id, "/products"), headers=self.admin,
                                json={"product": "mivb"}).status_code == 201
        response = self.client.put(self.user_url(user_id, "/mivb/service"), headers=self.admin,
                                   json={"service_category": self.category})
        assert response.status_code == 200, response.text
        if pin is not None:
            self.set_pin(user_id, pin)
        return user_id

    def set_pin(self, user_id: str, pin: str) -> None:
        response = self.client.patch(self.user_url(user_id, "/mivb"), headers=self.admin,
                                     json={"programming": {"user_pin": pin}})
        assert response.status_code == 200, response.text

    def add_sip_phone(self, user_id: str) -> tuple[str, str]:
        response = self.client.post(self.user_url(user_id, "/mivb/phones"), headers=self.admin,
                                    json={"type": "generic_sip"})
        assert response.status_code == 201, response.text
        phone = response.json()
        self.sip_passwords[phone["id"]] = phone["sip"]["password"]
        return phone["id"], phone["sip"]["password"]

    def revealed(self, user_id: str) -> dict:
        response = self.client.get(self.user_url(user_id, "/mivb?reveal=true"), headers=self.admin)
        assert response.status_code == 200, response.text
        return response.json()


def build_site(settings: Settings, factory, sim_url: str, sim_auth: tuple[str, str], *,
               shared: bool = True) -> Site:
    with unit_of_work(factory) as session:
        n = next(_numbers)
        partner, _admin = accounts.create_partner(system_ctx(session), {
            "name": f"Keep Partner {n}", "admin_email": f"boss{n}@keep{n}.example", "admin_password": ADMIN_PASSWORD})
        partner_email = _admin.email
        account = make_account(session, partner, f"Keep Account {n}")
        account_admin = make_user(session, account, role="account_admin", password=ADMIN_PASSWORD)
        account_id, admin_email = account.id, account_admin.email
    client = TestClient(create_app(settings, factory))
    client.__enter__()
    site = Site(client, factory, account_id, {}, {}, admin_email, "")
    partner_headers = site.partner = site.login(partner_email)
    base = f"/api/v1/accounts/{account_id}/mivb"
    response = client.put(f"{base}/connection", headers=partner_headers, json={
        "url": sim_url, "username": sim_auth[0], "password": sim_auth[1], "shared": shared})
    assert response.status_code == 200, response.text
    response = client.post(f"{base}/dn-ranges", headers=partner_headers, json={"start": "3000", "end": "3199"})
    assert response.status_code == 201, response.text
    response = client.post(f"{base}/service-categories", headers=partner_headers, json={
        "name": "Telephony", "template": "Telephony User", "licences": 200})
    assert response.status_code == 201, response.text
    site.admin, site.category = site.login(admin_email), response.json()["id"]
    return site


@pytest.fixture
def sites():
    """Builds sites; closes their clients at the end."""
    built: list[Site] = []

    def build(*args, **kwargs) -> Site:
        site = build_site(*args, **kwargs)
        built.append(site)
        return site

    yield build
    for site in built:
        site.client.__exit__(None, None, None)


def file_settings(var_dir: Path, database_url: str) -> Settings:
    """Settings of a process whose secret key lives in var/ (the embedded default)."""
    return Settings(var_dir=var_dir, database_url=database_url, secret_key="", secret_key_new="",
                    previous_secret_keys="")
