"""Runs jobs in the worker processes. A job is claimed (FOR UPDATE SKIP LOCKED on
PostgreSQL) with a lease, then run by the handler of its kind (registered at start-up by
switchboard.wiring), each row in a savepoint. A dry run is rolled back; an all-or-nothing
apply runs in ONE unit of work, rolled back whole if a row failed; otherwise the rows, their
results and the job's end are committed together. An apply that keeps what it can
(on_error=partial) commits its rows as it goes, every CHECKPOINT_ROWS rows with their
results and progress (Checkpoint), so the users applied so far are visible and start
syncing while the rest runs. A worker that dies leaves nothing of the job committed since
its last checkpoint: another one takes it over when the lease runs out and resumes after
the rows committed, so nothing is applied twice."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Callable

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from switchboard.accounts.models import User
from switchboard.accounts.tenancy import actor_for
from switchboard.core.context import Actor, ServiceContext
from switchboard.core.db import utcnow
from switchboard.core.errors import RefusedAtCommit
from switchboard.core.runtime import Runtime
from switchboard.core.uow import unit_of_work
from switchboard.jobs.models import Job, JobRow

log = logging.getLogger("switchboard.jobs")


@dataclass
class RowResult:
    row: int
    key: str | None
    status: str  # created | updated | unchanged | adopted | failed | skipped
    user_id: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)


Progress = Callable[[int], None]
ResultCsv = Callable[[ServiceContext, Job], str]
CHECKPOINT_ROWS = 100
# A commit refused because another unit took the last licence meanwhile: the rows since
# the last commit are applied again (each checked with the new counts), this many times.
COMMIT_ATTEMPTS = 3
# The lease of a job that commits as it goes: renewed at each checkpoint (100 rows take a
# few seconds), so after its worker dies another one resumes it within this.
CHECKPOINT_LEASE_SECONDS = 120


class LeaseLost(Exception):
    """The job passed to another worker while this one ran it: stop, keep nothing more."""


class Checkpoint:
    """Called by a handler after each row with its results so far. A job that keeps its rows
    as it goes (an apply with on_error=partial) commits them every CHECKPOINT_ROWS rows, with
    their results, counts and progress, and renews its lease; `skip` rows were committed by
    an earlier attempt, which died: the handler goes on after them. For any other job it
    does nothing and `skip` is 0."""

    def __init__(self, runner: "JobRunner", ctx: ServiceContext, job: Job) -> None:
        self.runner, self.ctx, self.job_id = runner, ctx, job.id
        self.enabled = commits_as_it_goes(job)
        self.counts: Counter = Counter()
        if self.enabled:
            self.counts.update(dict(ctx.session.execute(
                select(JobRow.status, func.count()).where(JobRow.job_id == job.id).group_by(JobRow.status)).all()))
        self.committed = Counter(self.counts)  # as of the last commit
        self.skip = sum(self.counts.values())
        self.recorded = 0  # of the results of this attempt

    def __call__(self, results: list[RowResult]) -> None:
        if self.enabled and len(results) - self.recorded >= CHECKPOINT_ROWS:
            self.commit(results)

    def commit(self, results: list[RowResult]) -> None:
        session = self.ctx.session
        if not self.runner._still_ours(session, self.job_id):
            raise LeaseLost(self.job_id)
        job = self.rows(session, results)
        job.lease_until = utcnow() + self.runner.lease_for(job)
        session.commit()
        self.committed = Counter(self.counts)
        # What it locked is not locked any more; the catalogue and the e-mails the file's
        # users were found free (a unique constraint still guards them) stay known.
        self.ctx.forget_all_but("catalog", "email_free")

    def rows(self, session: Session, results: list[RowResult]) -> Job:
        """Adds the results not yet recorded; the job's counts and progress follow."""
        new = results[self.recorded:]
        session.add_all(JobRow(job_id=self.job_id, row=r.row, key=(r.key or "")[:320] or None, status=r.status,
                               user_id=r.user_id, errors=r.errors) for r in new)
        self.counts.update(r.status for r in new)
        self.recorded = len(results)
        job = session.get(Job, self.job_id)
        job.summary = {"counts": dict(self.counts), "errors": job.summary.get("errors", [])}
        job.progress_done = self.skip + len(results)
        session.flush()
        return job


Handler = Callable[[ServiceContext, Job, Progress, Checkpoint], list[RowResult]]
HANDLERS: dict[str, Handler] = {}
RESULT_CSV: dict[str, ResultCsv] = {}
COMMITS_AS_IT_GOES: set[str] = set()


def register(kind: str, handler: Handler, result_csv: ResultCsv, *, checkpoints: bool = False) -> None:
    """A kind of job: what runs it, how its result downloads as CSV (wiring), and whether
    its handler calls the Checkpoint after each row and skips the rows it says."""
    HANDLERS[kind] = handler
    RESULT_CSV[kind] = result_csv
    if checkpoints:
        COMMITS_AS_IT_GOES.add(kind)


def commits_as_it_goes(job: Job) -> bool:
    """An apply that keeps what it can, of a kind whose handler calls the Checkpoint."""
    return job.kind in COMMITS_AS_IT_GOES and job.mode == "apply" and job.on_error == "partial"


class JobRunner:
    def __init__(self, session_factory: sessionmaker, runtime: Runtime, *, worker_id: str | None = None,
                 lease_seconds: int = 1800, checkpoint_lease_seconds: int = CHECKPOINT_LEASE_SECONDS) -> None:
        self.session_factory = session_factory
        self.runtime = runtime
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:jobs:{uuid.uuid4().hex[:6]}"
        self.lease = timedelta(seconds=lease_seconds)
        self.checkpoint_lease = timedelta(seconds=min(lease_seconds, checkpoint_lease_seconds))

    def lease_for(self, job: Job) -> timedelta:
        """How long the job stays ours without news: a job that commits as it goes renews
        its lease at each checkpoint, so a short one lets another worker resume it soon
        after this one dies; any other job commits only at its end."""
        return self.checkpoint_lease if commits_as_it_goes(job) else self.lease

    def claim(self, job_id: str | None = None) -> str | None:
        """The oldest job that is queued or whose lease ran out (or that one job), now ours."""
        now = utcnow()
        with unit_of_work(self.session_factory) as session:
            query = select(Job).where(or_(Job.state == "queued", and_(Job.state == "running", Job.lease_until < now)))
            if job_id is not None:
                query = query.where(Job.id == job_id)
            job = session.scalar(query.order_by(Job.created_at, Job.id).limit(1).with_for_update(skip_locked=True))
            if job is None:
                return None
            job.state, job.claimed_by, job.lease_until = "running", self.worker_id, now + self.lease_for(job)
            job.attempts += 1
            job.started_at = job.started_at or now
            if not commits_as_it_goes(job):
                job.progress_done = 0  # (a job that commits as it goes resumes where it was)
            return job.id

    def run_forever(self, stop: threading.Event, idle_seconds: float = 0.5) -> None:
        while not stop.is_set():
            try:
                ran = self.run_once()
            except Exception:  # never dies of one bad round
                log.exception("job runner round failed")
                ran = False
            if not ran:
                stop.wait(idle_seconds)

    def run_once(self) -> bool:
        job_id = self.claim()
        if job_id is None:
            return False
        self.run(job_id)
        return True

    def run(self, job_id: str, on_progress: Progress | None = None) -> None:
        for attempt in range(1, COMMIT_ATTEMPTS + 1):
            if not self._attempt(job_id, on_progress, again_if_refused=attempt < COMMIT_ATTEMPTS):
                return

    def _attempt(self, job_id: str, on_progress: Progress | None, *, again_if_refused: bool) -> bool:
        """Runs the job from its last commit; True when a commit was refused (RefusedAtCommit:
        another unit took the last licence meanwhile) and the rows since are to be applied
        again, each now checked with the new counts."""
        session = self.session_factory()
        checkpoint = None
        try:
            job = session.get(Job, job_id)
            ctx = ServiceContext(session=session, actor=self._actor(session, job), runtime=self.runtime)
            checkpoint = Checkpoint(self, ctx, job)
            progress = self._progress(job_id, on_progress, separately=not checkpoint.enabled)
            results = HANDLERS[job.kind](ctx, job, progress, checkpoint)
            failed = any(r.status == "failed" for r in results) or bool(checkpoint.counts.get("failed"))
            keep = job.mode == "apply" and (not failed or job.on_error == "partial")
            state = "failed" if job.mode == "apply" and failed and job.on_error == "all_or_nothing" else "succeeded"
            if keep:
                if self._still_ours(session, job_id):
                    self._finish(session, checkpoint, results, state)
                    session.commit()
                else:
                    session.rollback()
                return False
            session.rollback()
            with unit_of_work(self.session_factory) as fresh:
                if self._still_ours(fresh, job_id):
                    self._finish(fresh, checkpoint, results, state)
        except LeaseLost:
            session.rollback()  # the job is another worker's now: it resumes after the last checkpoint
        except RefusedAtCommit as exc:
            session.rollback()
            if again_if_refused:
                log.info("job %s: a commit was refused (%s); its rows since the last one are applied again",
                         job_id, exc)
                return True
            self._fail(job_id, checkpoint, exc)
        except Exception as exc:  # a bug or a vanished submitter: the job fails visibly, the worker goes on
            log.exception("job %s failed", job_id)
            session.rollback()
            self._fail(job_id, checkpoint, exc)
        finally:
            session.close()
        return False

    def _fail(self, job_id: str, checkpoint: Checkpoint | None, exc: Exception) -> None:
        with unit_of_work(self.session_factory) as fresh:
            if self._still_ours(fresh, job_id):
                job = fresh.get(Job, job_id)
                job.state, job.finished_at, job.lease_until = "failed", utcnow(), None
                kept = dict(checkpoint.committed) if checkpoint is not None else {}  # rows committed before
                errors = [e.as_stored() for e in exc.errors] if isinstance(exc, RefusedAtCommit) else [
                    {"code": "internal_error", "message": f"The job could not run: {exc}"}]
                job.summary = {"counts": kept, "errors": errors}

    @staticmethod
    def _actor(session: Session, job: Job) -> Actor:
        """The job acts with the rights of whoever submitted it, checked again now (an
        operator's CLI submits with none)."""
        if job.created_by is None:
            return Actor.system(job.created_by_email or "cli")
        creator = session.get(User, job.created_by)
        if creator is None:
            raise LookupError("the person who submitted the job no longer exists")
        return actor_for(creator)

    def _still_ours(self, session: Session, job_id: str) -> bool:
        """The job, locked, is still this worker's (its lease did not pass to another)."""
        job = session.scalar(select(Job).where(Job.id == job_id).with_for_update()
                             .execution_options(populate_existing=True))
        return job is not None and job.claimed_by == self.worker_id and job.state == "running"

    @staticmethod
    def _finish(session: Session, checkpoint: Checkpoint, results: list[RowResult], state: str) -> None:
        """The rows not yet recorded, and the job's end."""
        job = checkpoint.rows(session, results)
        job.state, job.finished_at, job.lease_until = state, utcnow(), None
        job.progress_total = job.progress_done
        session.flush()

    def _progress(self, job_id: str, also: Progress | None = None, *, separately: bool = True) -> Progress:
        """Reports rows done through a connection of its own when the job's own transaction
        commits only at its end (a job that commits as it goes reports with its checkpoints).
        On SQLite, whose one writer is the job itself, such progress is only seen when the
        job ends (or by `also`, the CLI's progress bar)."""
        postgres = self.session_factory.kw["bind"].dialect.name == "postgresql"
        last = {"done": -1}

        def report(done: int) -> None:
            if also is not None:
                also(done)
            if not separately or not postgres or (done - last["done"] < 50 and last["done"] >= 0):
                return
            last["done"] = done
            with unit_of_work(self.session_factory) as session:
                session.execute(update(Job).where(Job.id == job_id, Job.claimed_by == self.worker_id)
                                .values(progress_done=done, lease_until=utcnow() + self.lease))

        return report
