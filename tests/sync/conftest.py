"""Sync tests run against the real mivb-sim process and a committed database (workers use
their own sessions, so the rolled-back-transaction fixtures cannot serve here)."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Callable

import pytest
from sqlalchemy import func, select

from switchboard.core.uow import unit_of_work
from switchboard.core.context import ServiceContext
from switchboard.core.db import make_engine, make_session_factory
from switchboard.migrations import upgrade
from switchboard.mivb import service as mivb
from switchboard.mivb_sim.launcher import Sim
from switchboard.numbering import service as numbering
from switchboard.pbx import service as pbx
from switchboard.core.runtime import Runtime
from switchboard.core.security import SecretBox
from switchboard.pbx.mivb_gateway import MivbGatewayConnector
from switchboard.sync.models import SyncJob
from switchboard.sync.worker import RetryPolicy, Worker
from switchboard.testing.databases import temporary_database
from tests.factories import make_account, make_partner, make_user

from tests.conftest import SIM_AUTH
_numbers = itertools.count(1)


@pytest.fixture(scope="module")
def committed_factory(tmp_path_factory, backend):
    with temporary_database(backend, tmp_path_factory.mktemp("db")) as url:
        upgrade(url)
        engine = make_engine(url)
        yield make_session_factory(engine)
        engine.dispose()


@pytest.fixture(scope="module")
def runtime() -> Runtime:
    return Runtime(secret_box=SecretBox("sync-tests-secret"), connector_factory=MivbGatewayConnector,
                   catalog_ttl_seconds=3600)


FAST_RETRY = RetryPolicy(base_seconds=0.05, cap_seconds=0.2, max_attempts=6)


@dataclass
class World:
    """One partner and account connected to the simulator, with ranges and categories."""

    factory: Callable
    runtime: Runtime
    account_id: str
    partner_admin: object
    categories: dict[str, str]

    def ctx(self, session) -> ServiceContext:
        from switchboard.accounts.tenancy import actor_for

        return ServiceContext(session=session, actor=actor_for(session.merge(self.partner_admin)), runtime=self.runtime)

    def worker(self, **kwargs) -> Worker:
        kwargs.setdefault("retry", FAST_RETRY)
        kwargs.setdefault("lease_seconds", 5)
        return Worker(self.factory, self.runtime, **kwargs)

    def configured_user(self, category: str = "Telephony", **phones) -> str:
        """A user with the product and a category (its template adds default phones)."""
        with unit_of_work(self.factory) as session:
            from switchboard.accounts.models import Account

            account = session.get(Account, self.account_id)
            user = make_user(session, account, password=None)
            ctx = self.ctx(session)
            mivb.add_product(ctx, self.account_id, user.id, {"product": "mivb"})
            mivb.choose_category(ctx, self.account_id, user.id, {"service_category": self.categories[category]})
            return user.id

    def open_jobs(self) -> int:
        with unit_of_work(self.factory) as session:
            return session.scalar(select(func.count()).select_from(SyncJob).where(
                SyncJob.account_id == self.account_id, SyncJob.state.in_(("queued", "running")))) or 0

    def drain(self, worker: Worker | None = None, timeout: float = 30) -> None:
        """Runs the worker until no job of this account is open (retries included)."""
        worker = worker or self.worker()
        deadline = time.monotonic() + timeout
        while self.open_jobs():
            if time.monotonic() > deadline:
                raise AssertionError("sync did not settle in time")
            if not worker.run_once():
                time.sleep(0.05)


def build_world(factory, runtime, sim: Sim, *, dn_start: int | None = None, licences: int = 500) -> World:
    n = next(_numbers)
    base = dn_start or 2000 + 100 * (n % 50)
    with unit_of_work(factory) as session:
        partner, admin = make_partner(session, f"Sync Partner {n} {time.monotonic_ns()}")
        account = make_account(session, partner, f"Sync Account {n}")
        from switchboard.accounts.tenancy import actor_for

        ctx = ServiceContext(session=session, actor=actor_for(admin), runtime=runtime)
        # every test account shares the one simulator, on purpose
        pbx.set_connection(ctx, account.id, {"url": sim.url, "username": SIM_AUTH[0], "password": SIM_AUTH[1],
                                             "shared": True})
        session.commit()  # the catalogue read that follows calls the PBX: never inside a write
        pbx.get_catalog(ctx, account.id, refresh=True)
        numbering.create_dn_range(ctx, account.id, {"start": str(base), "end": str(base + 99 if licences < 100 else base + 999)})
        mivb.set_addon_licences(ctx, account.id, {"ehdu": 10, "acd_agent": 10})
        categories = {}
        for name, template in (("Entry", "Entry User"), ("Telephony", "Telephony User"), ("Premium", "Premium User"),
                               ("Agent", "Hot Desk Agent")):
            categories[name] = mivb.create_category(ctx, account.id, {"name": name, "template": template,
                                                                      "licences": licences})["id"]
        return World(factory, runtime, account.id, admin, categories)


@pytest.fixture
def world(committed_factory, runtime, sim, sim_api) -> World:
    return build_world(committed_factory, runtime, sim)


def sim_users(sim_api) -> dict[str, dict]:
    state = sim_api.get("/_sim/state").json()
    return {u["user_key"]: u for u in state["users"]}
