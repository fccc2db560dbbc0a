"""An apply that keeps what it can (on_error=partial) commits its rows as it goes, every
CHECKPOINT_ROWS rows with their results and progress: the users applied so far are seen
(and start syncing) while the rest of the file runs; a worker that dies loses only the
rows since its last checkpoint, and the next one resumes after the rows committed, so no
row is applied twice and the result lists every row once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from switchboard.core.db import utcnow
from switchboard.core.errors import RefusedAtCommit
from switchboard.imports.applier import Importer
from switchboard.jobs import runner as job_runner
from switchboard.jobs.models import Job
from switchboard.jobs.runner import JobRunner
from switchboard.mivb import limits, usage
from switchboard.sync.models import SyncJob
from tests.imports.conftest import statuses
from tests.statements import counting_statements

ROWS = 7


class Died(BaseException):
    """The worker process ends (not an error the runner could record)."""


def _file(tag: str, rows: int = ROWS) -> bytes:
    return ("email,first_name,last_name,mivb,service_category\n" + "".join(
        f"ck{n}@{tag}.example,C{n},Checkpoint,yes,{'Entry' if n != 3 else 'Nowhere'}\n"
        for n in range(1, rows + 1))).encode()


def _submit(client, m, body: bytes, on_error: str = "partial") -> str:
    submitted = client.post(m.url(f"/imports?mode=apply&on_error={on_error}"),
                            headers={**m.admin, "content-type": "text/csv"}, content=body)
    assert submitted.status_code == 202, submitted.text
    return submitted.json()["id"]


def _emails(client, m) -> list[str]:
    listed = client.get(m.url("/users?search=Checkpoint&limit=100"), headers=m.admin).json()
    return sorted(u["email"] for u in listed["items"])


def _dies_at_row(monkeypatch, number: int):
    """The worker dies when it reaches row `number`; returns the importer's own apply."""
    apply = Importer.apply

    def dies(self, row):
        if row.number == number:
            raise Died()
        return apply(self, row)

    monkeypatch.setattr(Importer, "apply", dies)
    return apply


@pytest.fixture
def two_rows_a_checkpoint(monkeypatch, client, mivb_account):
    monkeypatch.setattr(job_runner, "CHECKPOINT_ROWS", 2)
    assert client.patch(mivb_account.url(f"/mivb/service-categories/{mivb_account.categories['Entry']}"),
                        headers=mivb_account.partner, json={"licences": 20}).status_code == 200


def test_a_worker_that_dies_loses_only_the_rows_since_its_last_checkpoint(
        client, app, session_factory, mivb_account, monkeypatch, two_rows_a_checkpoint):
    m = mivb_account
    tag = m.account_id[:8]
    job_id = _submit(client, m, _file(tag))
    apply = _dies_at_row(monkeypatch, 6)
    dead = JobRunner(session_factory, app.state.runtime, worker_id="dead", lease_seconds=0)
    with pytest.raises(Died):
        dead.run_once()
    # rows 1-4 were committed at the checkpoints (row 3 refused); row 5 died with the worker
    assert _emails(client, m) == [f"ck{n}@{tag}.example" for n in (1, 2, 4)]
    running = client.get(f"/api/v1/jobs/{job_id}", headers=m.admin).json()
    assert running["state"] == "running" and running["progress"]["done"] == 4
    assert statuses(running) == {1: "created", 2: "created", 3: "failed", 4: "created"}
    with session_factory() as session:  # their pushes were committed with them: the worker can start
        assert session.scalar(select(func.count()).select_from(SyncJob).where(
            SyncJob.account_id == m.account_id, SyncJob.kind == "push_user")) == 3

    monkeypatch.setattr(Importer, "apply", apply)
    assert JobRunner(session_factory, app.state.runtime, worker_id="heir").run_once()
    job = client.get(f"/api/v1/jobs/{job_id}", headers=m.admin).json()
    assert job["state"] == "succeeded" and job["progress"] == {"done": ROWS, "total": ROWS}
    assert statuses(job) == {n: "failed" if n == 3 else "created" for n in range(1, ROWS + 1)}
    assert (job["result"]["created"], job["result"]["failed"]) == (ROWS - 1, 1)
    assert _emails(client, m) == sorted(f"ck{n}@{tag}.example" for n in range(1, ROWS + 1) if n != 3)


def test_a_worker_whose_job_was_taken_over_stops_at_its_next_checkpoint(
        client, app, session_factory, mivb_account, monkeypatch, two_rows_a_checkpoint):
    m = mivb_account
    tag = m.account_id[:8]
    job_id = _submit(client, m, _file(tag))
    apply = Importer.apply

    def taken_over_at_row_3(self, row):
        if row.number == 3:  # between two checkpoints: another worker now holds the job
            with session_factory() as other:
                other.get(Job, job_id).claimed_by = "thief"
                other.commit()
        return apply(self, row)

    monkeypatch.setattr(Importer, "apply", taken_over_at_row_3)
    JobRunner(session_factory, app.state.runtime, worker_id="slow").run_once()
    assert _emails(client, m) == [f"ck{n}@{tag}.example" for n in (1, 2)]  # rows 3-4 rolled back
    job = client.get(f"/api/v1/jobs/{job_id}", headers=m.admin).json()
    assert job["state"] == "running" and statuses(job) == {1: "created", 2: "created"}


def test_an_all_or_nothing_apply_keeps_nothing_until_its_end(
        client, app, session_factory, mivb_account, monkeypatch, two_rows_a_checkpoint):
    m = mivb_account
    tag = m.account_id[:8]
    job_id = _submit(client, m, _file(tag).replace(b"Nowhere", b"Entry"), on_error="all_or_nothing")
    apply = _dies_at_row(monkeypatch, 6)
    with pytest.raises(Died):
        JobRunner(session_factory, app.state.runtime, worker_id="dead", lease_seconds=0).run_once()
    assert _emails(client, m) == []
    assert statuses(client.get(f"/api/v1/jobs/{job_id}", headers=m.admin).json()) == {}
    monkeypatch.setattr(Importer, "apply", apply)
    assert JobRunner(session_factory, app.state.runtime, worker_id="heir").run_once()
    job = client.get(f"/api/v1/jobs/{job_id}", headers=m.admin).json()
    assert job["state"] == "succeeded" and job["result"]["created"] == ROWS
    assert len(_emails(client, m)) == ROWS


def test_the_emails_found_free_stay_known_across_checkpoints(
        client, app, session_factory, db_connection, mivb_account, two_rows_a_checkpoint):
    """After a checkpoint commits, what was locked is forgotten, but not that the file's
    e-mails are free (a unique constraint guards them): no e-mail query per row."""
    m = mivb_account
    job_id = _submit(client, m, _file(m.account_id[:8]))
    with counting_statements(db_connection) as statements:
        assert JobRunner(session_factory, app.state.runtime).run_once()
    assert client.get(f"/api/v1/jobs/{job_id}", headers=m.admin).json()["result"]["created"] == ROWS - 1
    by_email = [s for s in statements if "FROM users WHERE users.email_key" in " ".join(s.split())]
    assert len(by_email) == 1, by_email  # the file's users, read at once


@pytest.mark.parametrize("on_error, lease", [("partial", job_runner.CHECKPOINT_LEASE_SECONDS), ("all_or_nothing", 1800)])
def test_a_job_that_commits_as_it_goes_is_left_to_another_worker_soon_after_its_worker_dies(
        client, app, session_factory, mivb_account, monkeypatch, two_rows_a_checkpoint, on_error, lease):
    """Its lease is renewed at each checkpoint, so it can be short: another worker resumes
    it minutes after a crash, not when a half-hour lease runs out. A job that commits only
    at its end cannot renew its lease and keeps the long one."""
    m = mivb_account
    job_id = _submit(client, m, _file(m.account_id[:8]), on_error=on_error)
    _dies_at_row(monkeypatch, 6)
    started = utcnow()
    with pytest.raises(Died):
        JobRunner(session_factory, app.state.runtime, worker_id="dead").run_once()
    with session_factory() as session:
        left = session.get(Job, job_id).lease_until - started
    assert timedelta(seconds=lease - 60) < left <= timedelta(seconds=lease + 60), left


def test_a_checkpoint_refused_at_commit_is_applied_again_from_the_last_commit(
        client, app, session_factory, mivb_account, monkeypatch, two_rows_a_checkpoint):
    """Another unit took a licence while the import ran: its second checkpoint's commit,
    which counts again under the lock (tests/mivb/test_limits.py), is refused. The rows
    since the first checkpoint are applied again (with the counts read afresh, the row
    over a limit would now be refused alone); none is applied twice in the result."""
    m = mivb_account
    tag = m.account_id[:8]
    job_id = _submit(client, m, _file(tag, rows=4).replace(b"Nowhere", b"Entry"))
    apply, applied, settle, commits = Importer.apply, [], limits.settle, []

    def counted(self, row):
        applied.append(row.number)
        return apply(self, row)

    def refused_once_at_the_second_checkpoint(session):
        commits.append(len(commits) + 1)
        if applied and applied[-1] == 4 and applied.count(4) == 1:
            raise RefusedAtCommit("licence_exhausted", "No licence of the category Entry is left (2 in use).")
        settle(session)

    monkeypatch.setattr(Importer, "apply", counted)
    monkeypatch.setattr(limits, "settle", refused_once_at_the_second_checkpoint)
    assert JobRunner(session_factory, app.state.runtime).run_once()
    job = client.get(f"/api/v1/jobs/{job_id}", headers=m.admin).json()
    assert applied == [1, 2, 3, 4, 3, 4]
    assert job["state"] == "succeeded" and job["progress"] == {"done": 4, "total": 4}
    assert statuses(job) == {n: "created" for n in range(1, 5)}
    assert _emails(client, m) == sorted(f"ck{n}@{tag}.example" for n in range(1, 5))


def test_a_job_refused_at_every_commit_fails_and_says_why(
        client, app, session_factory, mivb_account, monkeypatch, two_rows_a_checkpoint):
    m = mivb_account
    tag = m.account_id[:8]
    job_id = _submit(client, m, _file(tag, rows=2).replace(b"Nowhere", b"Entry"))

    def refused(session):
        if usage.grown(session):  # every unit that adds a user of the category: never the job's own records
            raise RefusedAtCommit("licence_exhausted", "No licence of the category Entry is left (2 in use).")

    monkeypatch.setattr(limits, "settle", refused)
    assert JobRunner(session_factory, app.state.runtime).run_once()
    job = client.get(f"/api/v1/jobs/{job_id}", headers=m.admin).json()
    assert job["state"] == "failed" and "No licence of the category Entry" in job["result"]["errors"][0]["message"]
    assert _emails(client, m) == []
