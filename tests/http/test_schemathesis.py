"""Schemathesis over the whole OpenAPI document, in process against the ASGI app, as a
partner admin, an account admin and a plain user: no answer is a 5xx, and every answer has
a documented status, content type, headers and schema; schema-invalid input is refused.

The account is populated once, in a database of the module's own (tests/http/api_world.py);
each generated request runs in a transaction rolled back after it, so every request meets
the same world, the mutating operations included (a DELETE of the account itself leaves it
there for the next one).
Path parameters are mostly real ids of the account, sometimes another tenant's, sometimes
what schemathesis generated. SWITCHBOARD_API_EXAMPLES sets the examples per operation and
role (`make test`: a few; `make chaos-api`: many)."""

from __future__ import annotations

import os
import tempfile
import time
import zlib
from collections import Counter

import hypothesis
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import strategies as st
from schemathesis import checks
from schemathesis.config import SchemathesisConfig
from schemathesis.core.parameters import ParameterLocation
from sqlalchemy.orm import sessionmaker

from switchboard.app import create_app
from switchboard.core.config import Settings
from switchboard.core.db import make_engine
from switchboard.migrations import upgrade
from switchboard.mivb_sim.launcher import launch
from switchboard.testing.databases import temporary_database

from tests.factories import PASSWORD, make_tenant
from tests.http import api_world

EXAMPLES = int(os.environ.get("SWITCHBOARD_API_EXAMPLES", "8"))
# `make chaos-api`: every phase for every role, and another draw each run.
LONG = os.environ.get("SWITCHBOARD_API_LONG", "") == "1"
STATS: Counter = Counter()

# One app for the module; its sessions are bound to the module's database by `world`,
# then to one connection (and transaction) per request by `_call`.
FACTORY = sessionmaker(join_transaction_mode="create_savepoint", expire_on_commit=False)
_VAR = tempfile.TemporaryDirectory(prefix="switchboard-api-")
APP = create_app(Settings(var_dir=_VAR.name, database_url="sqlite://", secret_key="test-secret-key-for-switchboard"),
                 FACTORY)


def _schema(coverage: bool):
    """The served document, with schemathesis' coverage phase (every boundary and every
    wrong type, field by field, and undeclared methods) or without it (examples and
    fuzzing only)."""
    config = SchemathesisConfig.from_dict({"phases": {"coverage": {"enabled": coverage}}})
    loaded = schemathesis.openapi.from_asgi("/api/v1/openapi.json", APP, config=config)
    loaded.hook(flatmap_path_parameters)
    return loaded


# Schema-valid input can still break a rule (a DN range that overlaps, an empty CSV):
# 409/422 are answers, not defects. Timings are measured apart, never asserted.
EXCLUDED = [checks.positive_data_acceptance, checks.max_response_time]
SETTINGS = hypothesis.settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=not LONG,
                               suppress_health_check=list(hypothesis.HealthCheck))

# A path parameter is drawn as a choice, resolved against the world when the request is
# sent (the explicit examples are generated at collection, before the world exists).
# The markers survive the path's percent-encoding.
REAL, FOREIGN = "zz-real-", "zz-foreign-"


def flatmap_path_parameters(context, path_parameters):
    if not path_parameters:
        return st.just(path_parameters)

    @st.composite
    def pick(draw):
        combo = draw(st.integers(0, 999))
        out = {}
        for name, value in path_parameters.items():
            source = draw(st.sampled_from(("real",) * 6 + ("foreign", "generated")))
            if source == "real":
                out[name] = f"{REAL}{combo}"
            elif source == "foreign":
                out[name] = f"{FOREIGN}{draw(st.integers(0, 9))}"
            else:
                out[name] = value
        return out

    return pick()


def _resolve(world: api_world.World, path_parameters: dict) -> dict:
    """Mostly a consistent set of the account's ids (a phone of that user), at times
    another tenant's or the generated value. The coverage phase's cases come without a
    choice: three in four of them get real ids (chosen by their values, so a run is
    repeatable)."""
    key = zlib.crc32(repr(sorted(path_parameters.items())).encode())
    if not any(isinstance(v, str) and v.startswith((REAL, FOREIGN)) for v in path_parameters.values()) and key % 4:
        path_parameters = {name: f"{REAL}{key}" for name in path_parameters}
    out = {}
    for name, value in path_parameters.items():
        if isinstance(value, str) and value.startswith(REAL):
            combo = world.combos[int(value[len(REAL):]) % len(world.combos)]
            value = combo.get(name, "unknown")
        elif isinstance(value, str) and value.startswith(FOREIGN):
            choices = world.foreign.get(name) or ["unknown"]
            value = choices[int(value[len(FOREIGN):]) % len(choices)]
        out[name] = value
    return out


@pytest.fixture(scope="module")
def api_engine(backend, tmp_path_factory):
    """A database of the module's own: the account is committed there once, and nothing
    else shares it."""
    with temporary_database(backend, tmp_path_factory.mktemp("api-db")) as url:
        upgrade(url)
        engine = make_engine(url)
        yield engine
        engine.dispose()


@pytest.fixture(scope="module")
def world(api_engine, tmp_path_factory):
    sim = launch(auth=api_world.SIM_AUTH, stderr_path=tmp_path_factory.mktemp("sim") / "stderr.log")
    FACTORY.configure(bind=api_engine)
    try:
        with FACTORY() as session:
            a, b = make_tenant(session, "Alpha"), make_tenant(session, "Bravo")
        with TestClient(APP) as client:
            def login(email):
                response = client.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
                assert response.status_code == 200, response.text
                return {"Authorization": f"Bearer {response.json()['access_token']}"}

            yield api_world.build(client, a, b, sim.url, login)
    finally:
        FACTORY.configure(bind=None)
        sim.stop()
        _report()


def _report() -> None:
    """The figures for docs/reliability.md (pytest -s shows them)."""
    if not STATS["requests"]:
        return
    def table(kind):
        return ", ".join(f"{key}: {n}" for (k, key), n in sorted(
            ((k, v) for k, v in STATS.items() if isinstance(k, tuple) and k[0] == kind), key=str))
    print(f"\nschemathesis: {STATS['requests']} requests ({EXAMPLES} fuzzed examples per operation and role"
          f"{', coverage phase for every role' if LONG else ''}), {STATS['seconds']:.1f} s in the app\n"
          f"  by role: {table('role')}\n  by phase: {table('phase')}\n  by status: {table('status')}")


def _call(case, role: str, world: api_world.World, engine) -> None:
    if case.path_parameters:
        case.path_parameters = _resolve(world, case.path_parameters)
    # One short transaction per request, rolled back: nothing it wrote stays, and no
    # transaction outlives its request (a long one would hoard the server's lock table).
    connection = engine.connect()
    transaction = connection.begin()
    FACTORY.configure(bind=connection)
    try:
        started = time.perf_counter()
        # The role's token, unless the case is about the Authorization header itself
        # (missing or malformed on purpose: then it must be refused as it is).
        negative_auth = case.meta is not None and case.meta.is_negative_at(ParameterLocation.HEADER)
        response = case.call_and_validate(headers=None if negative_auth else world.headers[role],
                                          excluded_checks=EXCLUDED)
        STATS["seconds"] += time.perf_counter() - started
        STATS["requests"] += 1
        STATS["status", response.status_code] += 1
        STATS["role", role] += 1
        STATS["phase", case.meta.phase.name.value if case.meta else "explicit"] += 1
        if os.environ.get("SWITCHBOARD_API_TRACE"):
            meta = case.meta
            with open(os.environ["SWITCHBOARD_API_TRACE"], "a") as trace:
                trace.write(f"{role}\t{case.operation.label}\t{meta.phase.name.value if meta else '-'}\t"
                            f"{meta.generation.mode.value if meta else '-'}\t{response.status_code}\t"
                            f"{time.perf_counter() - started:.4f}\t{response.text[:150]!r}\n")
    finally:
        FACTORY.configure(bind=engine)
        transaction.rollback()
        connection.close()


# The coverage phase is deterministic and the largest: in `make test` the partner admin,
# who may call every operation, runs it; the two other roles run examples and fuzzing.
partner_schema, account_admin_schema, user_schema = _schema(True), _schema(LONG), _schema(LONG)


@partner_schema.parametrize()
@SETTINGS
def test_as_partner_admin(case, world, api_engine):
    _call(case, "partner_admin", world, api_engine)


@account_admin_schema.parametrize()
@SETTINGS
def test_as_account_admin(case, world, api_engine):
    _call(case, "account_admin", world, api_engine)


@user_schema.parametrize()
@SETTINGS
def test_as_plain_user(case, world, api_engine):
    _call(case, "user", world, api_engine)
