"""Adoption of a PBX that already has users, against the real simulator started with the
demo's 40 legacy users (src/switchboard/mivb_sim/seeds): the listing gives exactly the
documented matches and conflicts; adopting every valid one changes nothing on the PBX
(byte for byte, no write in its change log) and leaves `verify` clean; a later edit
pushes under the PBX's own key; allocation skips the numbers of unmanaged users."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from switchboard import demo
from switchboard.accounts.models import User
from switchboard.accounts.tenancy import actor_for
from switchboard.adoption import service as adoption
from switchboard.core.context import ServiceContext
from switchboard.core.db import make_engine, make_session_factory
from switchboard.core.runtime import Runtime
from switchboard.core.security import SecretBox
from switchboard.core.uow import unit_of_work
from switchboard.jobs import service as jobs
from switchboard.jobs.runner import JobRunner
from switchboard.migrations import upgrade
from switchboard.mivb import service as mivb
from switchboard.numbering import service as numbering
from switchboard.mivb_sim.launcher import launch
from switchboard.mivb_sim.seeds import demo_expected_path, demo_seed_path
from switchboard.pbx.mivb_gateway import MivbGatewayConnector
from switchboard.sync import drift
from switchboard.sync.worker import RetryPolicy, Worker
from switchboard.testing.databases import temporary_database

EXPECTED = json.loads(demo_expected_path().read_text())


@pytest.fixture(scope="module")
def pbx(tmp_path_factory):
    sim = launch("--seed", str(demo_seed_path()), auth=demo.DEMO_SIM_AUTH,
                 stderr_path=tmp_path_factory.mktemp("sim") / "stderr.log")
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def world(tmp_path_factory, backend, pbx):
    """The demo, exactly as `make run` seeds it, on a PBX that had 40 users before."""
    with temporary_database(backend, tmp_path_factory.mktemp("db")) as url:
        upgrade(url)
        engine = make_engine(url)
        factory = make_session_factory(engine)
        runtime = Runtime(secret_box=SecretBox("adoption-tests-secret"), connector_factory=MivbGatewayConnector,
                          catalog_ttl_seconds=3600)
        info = demo.seed(factory)
        demo.seed_mivb(factory, runtime, pbx.url)
        worker = Worker(factory, runtime, retry=RetryPolicy(0.05, 0.2, 4))
        while worker.run_once():
            pass
        yield factory, runtime, info.account_id
        engine.dispose()


def _ctx(session, runtime) -> ServiceContext:
    admin = session.scalar(select(User).where(User.email_key == demo.PARTNER_ADMIN))
    return ServiceContext(session=session, actor=actor_for(admin), runtime=runtime)


def _pbx_users(pbx) -> dict[str, dict]:
    with pbx.client() as client:
        return {u["user_key"]: u for u in client.get("/_sim/state").json()["users"]}


def _pbx_log(pbx) -> list[dict]:
    with pbx.client() as client:
        return client.get("/_sim/state").json()["log"]


def test_the_listing_gives_exactly_the_documented_matches_and_conflicts(world):
    factory, runtime, account_id = world
    with unit_of_work(factory) as session:
        listing = adoption.list_unmanaged(_ctx(session, runtime), account_id)
        emails = {u.id: u.email for u in session.scalars(select(User).where(User.account_id == account_id))}
    items = {item["key"]: item for item in listing["items"]}
    assert set(items) == set(EXPECTED) and listing["pbx_users"] == 45 and listing["managed"] == 5
    for key, expected in EXPECTED.items():
        item = items[key]
        matched = emails[item["match"]["user_id"]] if item["match"] else None
        assert matched == expected["expected_match_email"], key
        assert sorted(c["code"] for c in item["conflicts"]) == sorted(expected["expected_conflicts"]), key
    assert items["U1201"]["adoptable"] is True  # a DN outside the ranges is a warning: kept and flagged
    assert items["U1204"]["adoptable"] is False and items["U1204"]["service_category"] is None


def test_adopting_every_valid_user_changes_nothing_on_the_pbx(world, pbx):
    factory, runtime, account_id = world
    before, log_before = _pbx_users(pbx), _pbx_log(pbx)
    adoptable = [k for k, e in EXPECTED.items() if not set(e["expected_conflicts"]) - {"dn_outside_ranges"}]
    with unit_of_work(factory) as session:
        dry = adoption.submit(_ctx(session, runtime), account_id, {"all": True, "mode": "dry_run"}).id
    checker = JobRunner(factory, runtime, worker_id="checker")
    assert checker.claim(dry) == dry
    checker.run(dry)
    with unit_of_work(factory) as session:
        submitted = adoption.submit(_ctx(session, runtime), account_id,
                                    {"all": True, "mode": "apply", "on_error": "partial"}).id
    runner = JobRunner(factory, runtime, worker_id="adopter")
    assert runner.claim(submitted) == submitted
    runner.run(submitted)
    with unit_of_work(factory) as session:
        view = jobs.view(_ctx(session, runtime), jobs.get(_ctx(session, runtime), submitted))
        checked = jobs.view(_ctx(session, runtime), jobs.get(_ctx(session, runtime), dry))
    adopted = {r["key"] for r in view["result"]["rows"] if r["status"] == "adopted"}
    assert adopted == set(adoptable), [(r["key"], r["errors"]) for r in view["result"]["rows"] if r["errors"]]
    assert {r["key"] for r in checked["result"]["rows"] if r["status"] == "adopted"} == set(adoptable)
    # nothing was pushed: the PBX is byte for byte what it was, its change log has no new write
    Worker(factory, runtime).run_once()
    assert json.dumps(_pbx_users(pbx), sort_keys=True) == json.dumps(before, sort_keys=True)
    assert _pbx_log(pbx) == log_before
    with unit_of_work(factory) as session:
        report = drift.verify(_ctx(session, runtime), account_id)
    assert report == []
    assert set(report.unmanaged) == set(EXPECTED) - set(adoptable)


def test_a_later_edit_pushes_under_the_pbx_own_key(world, pbx):
    factory, runtime, account_id = world
    with unit_of_work(factory) as session:
        alice = session.scalar(select(User).where(User.email_key == "alice.martin@demo.example"))
        config = mivb.get_config(_ctx(session, runtime), account_id, alice.id)
        assert config["sync"]["state"] == "synced"
        mivb.update_config(_ctx(session, runtime), account_id, alice.id, {"programming": {"location": "Lyon"}})
    worker = Worker(factory, runtime)
    while worker.run_once():
        pass
    on_pbx = _pbx_users(pbx)
    assert on_pbx["U1001"]["location"] == "Lyon" and alice.id not in on_pbx
    assert [p["key"] for p in on_pbx["U1001"]["phones"]] == ["desk"]  # the PBX's own phone key
    box = on_pbx["U1001"]["phones"][0]["voicemail_box"]
    assert box is not None  # the voicemail box was kept (same phone, same DN)
    with unit_of_work(factory) as session:
        assert mivb.get_config(_ctx(session, runtime), account_id, alice.id)["sync"]["state"] == "synced"


def test_allocation_skips_numbers_of_unmanaged_users(world, pbx):
    """A DN configured on the PBX a moment ago, outside Switchboard, is never handed out."""
    factory, runtime, account_id = world
    with unit_of_work(factory) as session:
        upcoming = numbering.next_free_dns(_ctx(session, runtime), account_id, limit=3)
    late = upcoming[1]
    with pbx.client() as client:
        client.put("/api/v1/users/LATE1", json={"first_name": "Late", "last_name": "Comer", "template": "Entry User",
                                                "phones": [{"key": "p", "type": "hot_desk", "dn": late}]}
                   ).raise_for_status()
    fresh = Runtime(secret_box=runtime.secret_box, connector_factory=MivbGatewayConnector, catalog_ttl_seconds=3600,
                    dns_max_age_seconds=0)  # the PBX's numbers are read before every allocating write
    with unit_of_work(factory) as session:
        ctx = _ctx(session, fresh)
        xavier = session.scalar(select(User).where(User.email_key == "xavier.cloutier@demo.example"))
        mivb.add_product(ctx, account_id, xavier.id, {"product": "mivb"})
    with unit_of_work(factory) as session:
        categories = {c["name"]: c["id"] for c in mivb.list_categories(_ctx(session, fresh), account_id)}
        mivb.choose_category(_ctx(session, fresh), account_id, xavier.id, {"service_category": categories["Entry"]})
    for _ in range(2):
        with unit_of_work(factory) as session:
            mivb.add_phone(_ctx(session, fresh), account_id, xavier.id, {"type": "hot_desk"})
    with unit_of_work(factory) as session:
        dns = [p["dn"] for p in mivb.get_config(_ctx(session, fresh), account_id, xavier.id)["phones"]]
    assert len(dns) == 3 and late not in dns and upcoming[0] in dns
