"""The account's sync queue through the API (GET …/mivb/sync/jobs, its CSV, POST
…/mivb/sync/retry-failed), against the real simulator and a worker run by the test: each
state with the PBX's own words, paging, a later success clearing a failure, retrying every
failed push (a deleted user's removal included), and tenancy."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from switchboard.audit.models import AuditEntry
from switchboard.sync.worker import RetryPolicy, Worker

# Retries far enough away that a job waiting for one stays "pending" through the test.
SLOW_RETRY = RetryPolicy(base_seconds=600, cap_seconds=600, max_attempts=5)
GIVE_UP = RetryPolicy(base_seconds=600, cap_seconds=600, max_attempts=1)


def worker(app, session_factory, retry: RetryPolicy = SLOW_RETRY) -> Worker:
    return Worker(session_factory, app.state.runtime, retry=retry, lease_seconds=600)


def jobs(client, m, headers=None, **params):
    response = client.get(m.url("/mivb/sync/jobs"), headers=headers or m.admin, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def by_user(page) -> dict[str, dict]:
    return {item["user_id"]: item for item in page["items"]}


@pytest.fixture
def queue(client, app, session_factory, mivb_account, sim_api):
    """One account's queue holding one job in every situation:
    - failed: a push the PBX refused (a DN), and the removal of a deleted user given up;
    - running: a push a worker has claimed;
    - pending: a retry waiting for its next attempt, and a push never tried."""
    m = mivb_account
    refused = m.new_user("Telephony")
    desk = client.get(m.user_url(refused, "/mivb"), headers=m.admin).json()["phones"][0]
    sim_api.post("/_sim/faults", json={"reject": {"dn": desk["dn"]}}).raise_for_status()
    assert worker(app, session_factory).run_once() == 1
    sim_api.delete("/_sim/faults").raise_for_status()

    deleted = m.new_user("Entry")
    assert worker(app, session_factory).run_once() == 1
    sim_api.post("/_sim/faults", json={"down": True}).raise_for_status()
    assert client.delete(m.user_url(deleted), headers=m.admin).status_code == 204
    assert worker(app, session_factory, GIVE_UP).run_once() == 1

    retrying = m.new_user("Premium")
    assert worker(app, session_factory).run_once() == 1  # the PBX is still down: retried later
    sim_api.delete("/_sim/faults").raise_for_status()

    running = m.new_user("Premium")
    assert len(worker(app, session_factory).claim()) == 1
    waiting = m.new_user("Entry")
    return {"refused": refused, "desk": desk, "deleted": deleted, "retrying": retrying, "running": running,
            "waiting": waiting}


def test_each_state_lists_its_jobs_with_the_pbx_words(client, mivb_account, queue):
    m = mivb_account
    everything = jobs(client, m)
    assert everything["total"] == 5
    assert everything["counts"] == {"pending": 2, "running": 1, "failed": 2}
    # failures first, then what runs, then what waits
    assert [i["state"] for i in everything["items"]] == ["failed", "failed", "running", "pending", "pending"]

    failed = jobs(client, m, state="failed")
    assert failed["total"] == 2
    refused = by_user(failed)[queue["refused"]]
    user = client.get(m.user_url(queue["refused"]), headers=m.admin).json()
    assert refused["user"] == f"{user['first_name']} {user['last_name']}" and refused["email"] == user["email"]
    assert refused["kind"] == "push_user" and refused["attempts"] == 1 and refused["next_attempt_at"] is None
    assert refused["errors"] == [{
        "code": "rejected", "message": f"The PBX rejected the programming of DN {queue['desk']['dn']}.",
        "field": "phones[0].dn", "phone_id": queue["desk"]["id"], "source": "pbx"}]
    removal = by_user(failed)[queue["deleted"]]
    assert removal["kind"] == "remove_user" and removal["deleted_user"] is True and removal["email"] is None
    assert removal["user"] == f"{removal['pbx_key']} (deleted user)"
    assert removal["errors"][0]["code"] == "pbx_unreachable" and removal["errors"][0]["source"] == "transport"

    running = jobs(client, m, state="running")
    assert [i["user_id"] for i in running["items"]] == [queue["running"]]
    assert running["items"][0]["next_attempt_at"] is None and running["items"][0]["attempts"] == 1

    pending = by_user(jobs(client, m, state="pending"))
    assert set(pending) == {queue["retrying"], queue["waiting"]}
    retry = pending[queue["retrying"]]
    assert retry["attempts"] == 1 and retry["errors"][0]["code"] == "pbx_unreachable"
    assert datetime.fromisoformat(retry["next_attempt_at"]) > datetime.now(timezone.utc)
    fresh = pending[queue["waiting"]]
    assert fresh["attempts"] == 0 and fresh["errors"] == [] and fresh["next_attempt_at"] is not None


def test_a_later_push_takes_a_user_out_of_failed(client, app, session_factory, mivb_account, queue):
    m = mivb_account
    assert client.post(m.user_url(queue["refused"], "/mivb/sync"), headers=m.admin).status_code == 202
    assert queue["refused"] not in by_user(jobs(client, m, state="failed"))  # queued again: pending
    assert queue["refused"] in by_user(jobs(client, m, state="pending"))
    worker(app, session_factory).run_once()
    assert queue["refused"] not in by_user(jobs(client, m))  # pushed: history, not news
    assert client.get(m.user_url(queue["refused"], "/mivb"), headers=m.admin).json()["sync"]["state"] == "synced"


def test_retry_failed_queues_every_failed_push_and_removal_again(client, app, session, session_factory,
                                                                  mivb_account, queue, sim_api):
    m = mivb_account
    assert queue["deleted"] in {u["user_key"] for u in sim_api.get("/_sim/state").json()["users"]}
    answer = client.post(m.url("/mivb/sync/retry-failed"), headers=m.admin)
    assert answer.status_code == 202 and answer.json() == {"queued": 2}
    page = jobs(client, m)
    assert page["counts"] == {"pending": 4, "running": 1, "failed": 0}
    requeued = [i for i in page["items"] if i["user_id"] in (queue["refused"], queue["deleted"])]
    assert sorted((i["kind"], i["state"], i["attempts"]) for i in requeued) == [
        ("push_user", "pending", 0), ("remove_user", "pending", 0)]
    assert next(i for i in requeued if i["kind"] == "remove_user")["user"].endswith("(deleted user)")
    # nothing left to retry: a second click queues nothing
    assert client.post(m.url("/mivb/sync/retry-failed"), headers=m.admin).json() == {"queued": 0}

    worker(app, session_factory).run_once()
    assert jobs(client, m, state="failed")["total"] == 0
    on_pbx = {u["user_key"] for u in sim_api.get("/_sim/state").json()["users"]}
    assert queue["deleted"] not in on_pbx and queue["refused"] in on_pbx
    assert client.get(m.user_url(queue["refused"], "/mivb"), headers=m.admin).json()["sync"]["state"] == "synced"
    retried = session.scalars(select(AuditEntry.object_repr).where(
        AuditEntry.account_id == m.account_id, AuditEntry.action == "sync")).all()
    assert sorted(retried) == ["push", "remove"]


def test_retry_failed_with_nothing_failed_queues_nothing(client, mivb_account):
    m = mivb_account
    m.new_user("Entry")
    assert client.post(m.url("/mivb/sync/retry-failed"), headers=m.partner).json() == {"queued": 0}
    assert jobs(client, m)["counts"] == {"pending": 1, "running": 0, "failed": 0}


def test_paging_and_search(client, mivb_account):
    m = mivb_account
    users = [m.new_user("Entry") for _ in range(3)]
    first = jobs(client, m, limit=2)
    second = jobs(client, m, limit=2, offset=2)
    assert first["total"] == second["total"] == 3
    assert len(first["items"]) == 2 and len(second["items"]) == 1
    assert {i["user_id"] for i in first["items"] + second["items"]} == set(users)
    email = client.get(m.user_url(users[1]), headers=m.admin).json()["email"]
    found = jobs(client, m, search=email.upper())
    assert found["total"] == 1 and found["items"][0]["user_id"] == users[1]
    for bad in ({"limit": 0}, {"limit": 501}, {"offset": -1}, {"state": "succeeded"}):
        assert client.get(m.url("/mivb/sync/jobs"), headers=m.admin, params=bad).status_code == 422, bad


def test_csv_export_of_the_queue_neutralises_formulas(client, mivb_account, queue):
    m = mivb_account
    response = client.post(m.url("/users"), headers=m.admin, json={
        "first_name": "=HYPERLINK(\"http://evil.example\")", "last_name": "Formula", "email": "formula@a.example"})
    assert response.status_code == 201, response.text
    m.configure(response.json()["id"], "Premium")

    exported = client.get(m.url("/mivb/sync/jobs.csv"), headers=m.admin)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff"))))
    assert list(rows[0]) == ["job_id", "state", "kind", "user_id", "user", "email", "pbx_key", "attempts",
                             "next_attempt_at", "created_at", "errors"]
    assert len(rows) == 6
    formula = next(r for r in rows if r["email"] == "formula@a.example")
    assert formula["user"].startswith("'=HYPERLINK")
    refused = next(r for r in rows if r["user_id"] == queue["refused"])
    assert refused["state"] == "failed"
    assert f"rejected: The PBX rejected the programming of DN {queue['desk']['dn']}." in refused["errors"]

    only_failed = client.get(m.url("/mivb/sync/jobs.csv?state=failed"), headers=m.admin).text
    assert len(list(csv.DictReader(io.StringIO(only_failed.lstrip("\ufeff"))))) == 2


def test_another_tenants_queue_is_not_found_and_a_plain_user_is_refused(client, mivb_account, tenant_a, tenant_b,
                                                                         login, queue):
    m = mivb_account
    for intruder in (tenant_b.partner_admin, tenant_b.account_admin, tenant_b.user):
        headers = login(intruder.email)
        for method, path in (("GET", "/mivb/sync/jobs"), ("GET", "/mivb/sync/jobs.csv"),
                             ("POST", "/mivb/sync/retry-failed")):
            response = client.request(method, m.url(path), headers=headers)
            assert response.status_code == 404, (intruder.role, path, response.status_code)
            assert queue["refused"] not in response.text
    plain = login(tenant_a.user.email)
    for method, path in (("GET", "/mivb/sync/jobs"), ("GET", "/mivb/sync/jobs.csv"),
                         ("POST", "/mivb/sync/retry-failed")):
        assert client.request(method, m.url(path), headers=plain).status_code == 403, path
    assert jobs(client, m)["counts"]["failed"] == 2  # nothing was retried by them


def test_failed_means_the_last_word_on_that_pbx_user(session, tenant_a):
    """A failure counts until a later job of the same user and PBX key (not a superseded
    one) exists: a later failure replaces it, a later success ends it, and a push on the
    user's new key does not take an old key's failed removal off the PBX."""
    from switchboard.sync import status
    from switchboard.sync.models import SyncJob
    from tests.factories import system_ctx

    account = tenant_a.account.id

    def add(user_id, kind, state, key=None):
        job = SyncJob(account_id=account, user_id=user_id, kind=kind, state=state, pbx_key=key or user_id,
                      errors=[{"code": "x", "message": "no", "source": "pbx"}] if state == "failed" else [])
        session.add(job)
        session.flush()
        return str(job.id)

    first_failure = add("u1", "push_user", "failed")
    second_failure = add("u1", "push_user", "failed")
    superseded_after = add("u1", "push_user", "superseded")
    fixed = add("u2", "push_user", "failed")
    add("u2", "push_user", "succeeded")
    old_key_removal = add("u3", "remove_user", "failed", key="adopted-key")
    add("u3", "push_user", "succeeded")
    lone_failure = add("u4", "push_user", "failed")
    session.commit()

    _, failed = status.list_jobs(system_ctx(session), account, state="failed")
    assert [i["id"] for i in failed] == [second_failure, old_key_removal, lone_failure]
    assert first_failure not in [i["id"] for i in failed] and fixed not in [i["id"] for i in failed]
    assert superseded_after not in [i["id"] for i in status.list_jobs(system_ctx(session), account)[1]]
    assert status.counts(system_ctx(session), account) == {"pending": 0, "running": 0, "failed": 3}
