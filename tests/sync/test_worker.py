"""The sync path end to end: service layer → job → worker → real mivb-sim process."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from switchboard.core.uow import unit_of_work
from switchboard.core.db import utcnow
from switchboard.mivb import service as mivb
from switchboard.sync import queue as sync
from switchboard.sync.models import SyncJob, SyncStatus
from tests.sync.conftest import sim_users


def _status(world, user_id) -> SyncStatus:
    with unit_of_work(world.factory) as session:
        return session.get(SyncStatus, user_id)


def _jobs(world, user_id) -> list[SyncJob]:
    with unit_of_work(world.factory) as session:
        return list(session.scalars(select(SyncJob).where(SyncJob.user_id == user_id).order_by(SyncJob.id)).all())


def test_change_and_job_are_committed_together_then_pushed(world, sim_api):
    user_id = world.configured_user("Premium")
    jobs = _jobs(world, user_id)
    assert [(j.kind, j.state) for j in jobs] == [("push_user", "queued")]
    assert _status(world, user_id).state == "pending"
    assert user_id not in sim_users(sim_api)

    world.drain()
    status = _status(world, user_id)
    assert status.state == "synced" and status.errors == []
    assert set(v["state"] for v in status.phones.values()) == {"synced"}
    on_pbx = sim_users(sim_api)[user_id]
    with unit_of_work(world.factory) as session:
        config = mivb.get_config(world.ctx(session), world.account_id, user_id, reveal=True)
    assert on_pbx["template"] == "Premium User"
    assert on_pbx["user_pin"] == config["programming"]["user_pin"]
    assert sorted(p["dn"] for p in on_pbx["phones"]) == sorted(p["dn"] for p in config["phones"])
    sip = next(p for p in config["phones"] if p["type"] == "generic_sip")
    assert next(p for p in on_pbx["phones"] if p["key"] == sip["id"])["sip"] == sip["sip"]


def test_read_back_and_remove(world, sim_api):
    user_id = world.configured_user("Telephony")
    world.drain()
    with unit_of_work(world.factory) as session:
        connector = world.runtime.connector(*_connection(session, world))
        assert connector.read_user(user_id)["phones"][0]["type"] == "desk_phone"
        mivb.remove_product(world.ctx(session), world.account_id, user_id, "mivb")
    world.drain()
    assert user_id not in sim_users(sim_api)
    assert connector.read_user(user_id) is None
    assert connector.remove_user(user_id) is False  # already gone is fine
    connector.close()
    assert [j.kind for j in _jobs(world, user_id)] == ["push_user", "remove_user"]


def _connection(session, world):
    from switchboard.pbx.models import MivbConnection

    c = session.get(MivbConnection, world.account_id)
    return c.url, c.username, world.runtime.secret_box.decrypt(c.password_encrypted)


def test_pbx_down_keeps_the_change_and_converges_when_healthy(world, sim_api):
    sim_api.post("/_sim/faults", json={"down": True}).raise_for_status()
    user_id = world.configured_user("Telephony")
    worker = world.worker()
    worker.run_once()
    status = _status(world, user_id)
    assert status.state == "pending"  # still retrying, with the reason shown
    assert status.errors[0]["code"] == "pbx_unreachable"
    job = _jobs(world, user_id)[-1]
    assert job.state == "queued" and job.attempts == 1 and job.run_after > utcnow() - timedelta(seconds=1)

    sim_api.delete("/_sim/faults").raise_for_status()
    world.drain(worker)
    assert _status(world, user_id).state == "synced"
    assert user_id in sim_users(sim_api)


def test_gives_up_after_max_attempts_and_stays_visible(world, sim_api):
    sim_api.post("/_sim/faults", json={"down": True}).raise_for_status()
    user_id = world.configured_user("Entry")
    world.drain()
    job = _jobs(world, user_id)[-1]
    assert job.state == "failed" and job.attempts == 6
    assert job.errors[0]["code"] == "pbx_unreachable"
    assert _status(world, user_id).state == "failed"
    with unit_of_work(world.factory) as session:
        summary = sync.account_summary(world.ctx(session), world.account_id)
    assert summary["counts"]["failed"] == 1 and summary["failed"][0]["user_id"] == user_id

    sim_api.delete("/_sim/faults")
    with unit_of_work(world.factory) as session:
        sync.push_now(world.ctx(session), world.account_id, user_id)  # the admin's "Retry now"
    world.drain()
    assert _status(world, user_id).state == "synced"


def test_rejected_value_is_reported_with_the_pbx_words_per_phone(world, sim_api):
    user_id = world.configured_user("Premium")
    with unit_of_work(world.factory) as session:
        phones = mivb.get_config(world.ctx(session), world.account_id, user_id)["phones"]
    desk = next(p for p in phones if p["type"] == "desk_phone")
    sip_phone = next(p for p in phones if p["type"] == "generic_sip")
    sim_api.post("/_sim/faults", json={"reject": {"dn": desk["dn"]}}).raise_for_status()
    world.drain()
    status = _status(world, user_id)
    assert status.state == "failed"
    assert status.errors[0]["code"] == "rejected" and status.errors[0]["phone_id"] == desk["id"]
    assert desk["dn"] in status.errors[0]["message"]  # the PBX's own words
    assert status.phones[desk["id"]]["state"] == "failed"
    assert status.phones[sip_phone["id"]]["state"] == "synced"
    assert [j.state for j in _jobs(world, user_id)] == ["failed"]  # a refusal is not retried blindly

    sim_api.delete("/_sim/faults")
    with unit_of_work(world.factory) as session:
        sync.push_now(world.ctx(session), world.account_id, user_id)
    world.drain()
    assert _status(world, user_id).state == "synced"


def test_newer_state_supersedes_an_unsent_one(world, sim_api):
    user_id = world.configured_user("Telephony")
    for location in ("Paris", "Lyon"):  # two saves, two requests
        with unit_of_work(world.factory) as session:
            mivb.update_config(world.ctx(session), world.account_id, user_id, {"programming": {"location": location}})
    states = [j.state for j in _jobs(world, user_id)]
    assert states == ["superseded", "superseded", "queued"]
    world.drain()
    assert sim_users(sim_api)[user_id]["location"] == "Lyon"
    log = [e for e in sim_api.get("/_sim/state").json()["log"] if e["user_key"] == user_id]
    assert len(log) == 1  # one push carried the final state


def test_changes_of_one_unit_of_work_share_one_push(world, sim_api):
    user_id = world.configured_user("Telephony")
    world.drain()
    with unit_of_work(world.factory) as session:
        mivb.update_config(world.ctx(session), world.account_id, user_id, {"programming": {"location": "Paris"}})
        mivb.add_phone(world.ctx(session), world.account_id, user_id, {"type": "hot_desk"})
    assert [j.state for j in _jobs(world, user_id)] == ["succeeded", "queued"]
    world.drain()
    on_pbx = sim_users(sim_api)[user_id]
    assert on_pbx["location"] == "Paris" and len(on_pbx["phones"]) == 2


def test_expired_lease_is_taken_over_and_the_old_claim_is_void(world, sim_api):
    user_id = world.configured_user("Entry")
    crashed = world.worker(worker_id="crashed", lease_seconds=60)
    claimed = crashed.claim()
    assert len(claimed) == 1
    # the "crashed" worker never comes back; make its lease run out
    with unit_of_work(world.factory) as session:
        job = session.get(SyncJob, claimed[0])
        job.lease_until = utcnow() - timedelta(seconds=1)
        session.commit()
    rescuer = world.worker(worker_id="rescuer")
    world.drain(rescuer)
    assert _status(world, user_id).state == "synced"
    job = _jobs(world, user_id)[-1]
    assert job.state == "succeeded" and job.claimed_by == "rescuer" and job.attempts == 2
    assert crashed.run_job(claimed[0]).outcome == "lost"  # its late result is ignored


def test_jobs_of_one_user_run_in_order(world, sim_api):
    user_id = world.configured_user("Telephony")
    world.drain()
    with unit_of_work(world.factory) as session:
        mivb.remove_product(world.ctx(session), world.account_id, user_id, "mivb")
        ctx = world.ctx(session)
        mivb.add_product(ctx, world.account_id, user_id, {"product": "mivb"})
        mivb.choose_category(world.ctx(session), world.account_id, user_id,
                             {"service_category": world.categories["Entry"]})
    worker = world.worker(batch_size=10)
    first = worker.claim()
    assert len(first) == 1  # the later jobs of the user wait for the earlier ones
    worker.run_job(first[0])
    world.drain(worker)
    ops = [e["op"] for e in sim_api.get("/_sim/state").json()["log"] if e["user_key"] == user_id]
    assert ops == ["create_user", "delete_user", "create_user"]
    assert [j.kind for j in _jobs(world, user_id)] == ["push_user", "remove_user", "push_user"]
    assert sim_users(sim_api)[user_id]["template"] == "Entry User"


def test_a_removal_supersedes_an_unsent_push(world, sim_api):
    user_id = world.configured_user("Telephony")
    with unit_of_work(world.factory) as session:
        mivb.remove_product(world.ctx(session), world.account_id, user_id, "mivb")
    world.drain()
    assert [(j.kind, j.state) for j in _jobs(world, user_id)] == [("push_user", "superseded"),
                                                                  ("remove_user", "succeeded")]
    assert [e for e in sim_api.get("/_sim/state").json()["log"] if e["user_key"] == user_id] == []


def test_user_rename_is_pushed(world, sim_api):
    from switchboard.accounts import service as accounts

    user_id = world.configured_user("Entry")
    world.drain()
    with unit_of_work(world.factory) as session:
        accounts.update_user(world.ctx(session), world.account_id, user_id, {"last_name": "Renamed"})
    world.drain()
    assert sim_users(sim_api)[user_id]["last_name"] == "Renamed"
    with unit_of_work(world.factory) as session:
        accounts.delete_user(world.ctx(session), world.account_id, user_id)
    world.drain()
    assert user_id not in sim_users(sim_api)


def test_a_change_saved_during_a_push_keeps_the_user_pending(world, sim_api, monkeypatch):
    user_id = world.configured_user("Telephony")
    worker = world.worker()
    real_connector = worker._connector

    def connector_that_sees_an_admin_save(connection):
        connector = real_connector(connection)

        class DuringPush:
            def push_user(self, key, state):
                with unit_of_work(world.factory) as session:  # the admin saves while the push is under way
                    mivb.update_config(world.ctx(session), world.account_id, user_id,
                                       {"programming": {"location": "Paris"}})
                return connector.push_user(key, state)

        return DuringPush()

    monkeypatch.setattr(worker, "_connector", connector_that_sees_an_admin_save)
    claimed = worker.claim()
    assert worker.run_job(claimed[0]).outcome == "succeeded"
    monkeypatch.setattr(worker, "_connector", real_connector)
    assert _status(world, user_id).state == "pending"
    world.drain(worker)
    assert _status(world, user_id).state == "synced"
    assert sim_users(sim_api)[user_id]["location"] == "Paris"
