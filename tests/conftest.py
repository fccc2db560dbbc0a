"""Shared fixtures. Each database test runs inside a transaction that is rolled back at
the end (savepoints carry the commits the code under test makes), so tests never see each
other's data. SWITCHBOARD_TEST_DB picks the engine: sqlite (default) or postgresql."""

from __future__ import annotations

import os

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from switchboard import wiring
from switchboard.core import security
from switchboard.app import create_app
from switchboard.core.config import Settings
from switchboard.core.db import make_engine
from switchboard.migrations import upgrade
from switchboard.mivb_sim.launcher import launch
from switchboard.testing.databases import temporary_database

from tests.factories import Tenant, make_tenant

# The MiVB fixtures (an account connected to the simulator) serve several test folders.
pytest_plugins = ["tests.mivb_fixtures"]

BACKEND = os.environ.get("SWITCHBOARD_TEST_DB", "sqlite")
SIM_AUTH = ("gateway", "gateway-secret")

# The hooks between layers, as every process wires them at start-up.
wiring.install()

# Production-strength argon2 costs ~60 ms a hash; the tests hash hundreds of passwords.
security._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def pytest_report_header(config):
    return f"switchboard test database: {BACKEND}"


@pytest.fixture(scope="session")
def backend() -> str:
    return BACKEND


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    with temporary_database(BACKEND, tmp_path_factory.mktemp("db")) as url:
        upgrade(url)
        yield url


@pytest.fixture(scope="session")
def engine(database_url):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def db_connection(engine):
    connection = engine.connect()
    transaction = connection.begin()
    yield connection
    transaction.rollback()
    connection.close()


@pytest.fixture
def session_factory(db_connection):
    return sessionmaker(bind=db_connection, join_transaction_mode="create_savepoint", expire_on_commit=False)


@pytest.fixture
def session(session_factory):
    with session_factory() as session:
        yield session


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(var_dir=tmp_path, secret_key="test-secret-key-for-switchboard", database_url="sqlite://")


@pytest.fixture
def app(settings, session_factory):
    return create_app(settings, session_factory)


@pytest.fixture
def client(app):
    with TestClient(app) as client:
        yield client


@pytest.fixture
def tenant_a(session) -> Tenant:
    return make_tenant(session, "Alpha")


@pytest.fixture
def tenant_b(session) -> Tenant:
    return make_tenant(session, "Bravo")


@pytest.fixture
def login(client):
    """Returns auth headers for an e-mail (every factory user has the same password)."""
    from tests.factories import PASSWORD

    def _login(email: str, password: str = PASSWORD) -> dict[str, str]:
        response = client.post("/api/v1/auth/token", json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    return _login


@pytest.fixture(scope="session")
def sim(tmp_path_factory):
    """The real mivb-sim process, shared by the whole run (reset by sim_api per test)."""
    sim = launch(auth=SIM_AUTH, stderr_path=tmp_path_factory.mktemp("sim") / "stderr.log")
    yield sim
    sim.stop()


@pytest.fixture
def sim_api(sim):
    with sim.client() as client:
        client.post("/_sim/reset").raise_for_status()
        client.delete("/_sim/faults").raise_for_status()
        yield client
        client.delete("/_sim/faults")


@pytest.fixture(scope="module")
def committed_engine(backend, tmp_path_factory):
    """For tests of several transactions at once: a database of their own (module-wide),
    where each session commits for real."""
    with temporary_database(backend, tmp_path_factory.mktemp("committed")) as url:
        upgrade(url)
        engine = create_engine(url, **({"pool_size": 6, "max_overflow": 0} if backend == "postgresql" else {}))
        yield engine
        engine.dispose()
