"""Runs jobs in the worker processes. A job is claimed (FOR UPDATE SKIP LOCKED on
PostgreSQL) with a lease, then run by the handler of its kind (registered at start-up by
switchboard.wiring) in ONE unit of work: each row in a savepoint, the whole file kept or
rolled back at the end. A dry run is rolled back; an all-or-nothing apply with one failed
row is rolled back; otherwise the rows, their results and the job's end are committed
together. A worker that dies leaves nothing committed of the job: another one takes it
over when the lease runs out and runs it again, so nothing is applied twice."""

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

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from switchboard.accounts.models import User
from switchboard.accounts.tenancy import actor_for
from switchboard.core.context import Actor, ServiceContext
from switchboard.core.db import utcnow
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
Handler = Callable[[ServiceContext, Job, Progress], list[RowResult]]
ResultCsv = Callable[[ServiceContext, Job], str]
HANDLERS: dict[str, Handler] = {}
RESULT_CSV: dict[str, ResultCsv] = {}


def register(kind: str, handler: Handler, result_csv: ResultCsv) -> None:
    """A kind of job: what runs it, and how its result downloads as CSV (wiring)."""
    HANDLERS[kind] = handler
    RESULT_CSV[kind] = result_csv


class JobRunner:
    def __init__(self, session_factory: sessionmaker, runtime: Runtime, *, worker_id: str | None = None,
                 lease_seconds: int = 1800) -> None:
        self.session_factory = session_factory
        self.runtime = runtime
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:jobs:{uuid.uuid4().hex[:6]}"
        self.lease = timedelta(seconds=lease_seconds)

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
            job.state, job.claimed_by, job.lease_until = "running", self.worker_id, now + self.lease
            job.attempts += 1
            job.started_at = job.started_at or now
            job.progress_done = 0
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
        session = self.session_factory()
        try:
            job = session.get(Job, job_id)
            ctx = ServiceContext(session=session, actor=self._actor(session, job), runtime=self.runtime)
            results = HANDLERS[job.kind](ctx, job, self._progress(job_id, on_progress))
            failed = any(r.status == "failed" for r in results)
            keep = job.mode == "apply" and (not failed or job.on_error == "partial")
            state = "failed" if job.mode == "apply" and failed and job.on_error == "all_or_nothing" else "succeeded"
            if keep:
                if self._still_ours(session, job_id):
                    self._record(session, job_id, results, state)
                    session.commit()
                else:
                    session.rollback()
                return
            session.rollback()
            with unit_of_work(self.session_factory) as fresh:
                if self._still_ours(fresh, job_id):
                    self._record(fresh, job_id, results, state)
        except Exception as exc:  # a bug or a vanished submitter: the job fails visibly, the worker goes on
            log.exception("job %s failed", job_id)
            session.rollback()
            with unit_of_work(self.session_factory) as fresh:
                if self._still_ours(fresh, job_id):
                    job = fresh.get(Job, job_id)
                    job.state, job.finished_at, job.lease_until = "failed", utcnow(), None
                    job.summary = {"counts": {}, "errors": [{"code": "internal_error",
                                                             "message": f"The job could not run: {exc}"}]}
        finally:
            session.close()

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

    def _record(self, session: Session, job_id: str, results: list[RowResult], state: str) -> None:
        job = session.get(Job, job_id)
        session.add_all(JobRow(job_id=job_id, row=r.row, key=(r.key or "")[:320] or None, status=r.status,
                               user_id=r.user_id, errors=r.errors) for r in results)
        job.summary = {"counts": dict(Counter(r.status for r in results)), "errors": job.summary.get("errors", [])}
        job.state, job.finished_at, job.lease_until = state, utcnow(), None
        job.progress_done = job.progress_total = len(results)
        session.flush()

    def _progress(self, job_id: str, also: Progress | None = None) -> Progress:
        """Reports rows done through a connection of its own (the job's own transaction
        commits only at the end). On SQLite, whose one writer is the job itself, progress
        is only seen when the job ends (or by `also`, the CLI's progress bar)."""
        postgres = self.session_factory.kw["bind"].dialect.name == "postgresql"
        last = {"done": -1}

        def report(done: int) -> None:
            if also is not None:
                also(done)
            if not postgres or (done - last["done"] < 50 and last["done"] >= 0):
                return
            last["done"] = done
            with unit_of_work(self.session_factory) as session:
                session.execute(update(Job).where(Job.id == job_id, Job.claimed_by == self.worker_id)
                                .values(progress_done=done, lease_until=utcnow() + self.lease))

        return report
