"""The sync worker: claims jobs, pushes to the PBX outside any transaction, records results.

Any number of workers (threads or processes, on any hosts) share the queue: on PostgreSQL
a claim is `SELECT … FOR UPDATE SKIP LOCKED`; on SQLite every transaction takes the single
write lock. A claimed job carries a lease; a worker that dies (killed, machine lost)
leaves a job whose lease runs out, and another worker takes it over. Results are only
recorded by the worker that still holds the claim."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Callable

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import aliased, selectinload, sessionmaker

from switchboard.accounts.models import User
from switchboard.core.db import utcnow
from switchboard.mivb.desired_state import user_state
from switchboard.mivb.models import MivbService
from switchboard.pbx.connector import NOT_CONNECTED, UNEXPECTED, PbxConnector, PbxError, PbxIssue, PushOutcome
from switchboard.pbx.models import MivbConnection
from switchboard.core.runtime import Runtime
from switchboard.sync.models import SyncJob, SyncStatus
from switchboard.sync.queue import purge_deleted_accounts

log = logging.getLogger("switchboard.sync")


@dataclass
class RetryPolicy:
    base_seconds: float = 2.0
    cap_seconds: float = 300.0
    max_attempts: int = 12

    def delay(self, attempts: int) -> timedelta:
        return timedelta(seconds=min(self.cap_seconds, self.base_seconds * (2 ** max(0, attempts - 1))))


@dataclass
class JobResult:
    job_id: int
    outcome: str  # succeeded | failed | retry | lost
    errors: list[dict[str, Any]] = field(default_factory=list)


def _issue_json(issue: PbxIssue, source: str = "pbx", phone_ids: dict[str, str] | None = None) -> dict[str, Any]:
    """An error as the sync records it; source says who said it: the PBX ("pbx"), the
    way to it ("transport") or Switchboard itself ("switchboard")."""
    out = {"code": issue.code, "message": issue.message, "source": source}
    if issue.field:
        out["field"] = issue.field
    if issue.phone:
        out["phone_id"] = (phone_ids or {}).get(issue.phone, issue.phone)
    return out


class Worker:
    def __init__(self, session_factory: sessionmaker, runtime: Runtime, *, worker_id: str | None = None,
                 lease_seconds: int = 60, batch_size: int = 10, retry: RetryPolicy | None = None,
                 on_job: Callable[[JobResult], None] | None = None) -> None:
        self.session_factory = session_factory
        self.runtime = runtime
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.lease = timedelta(seconds=lease_seconds)
        self.batch_size = batch_size
        self.retry = retry or RetryPolicy()
        self.on_job = on_job
        self._connectors: dict[tuple[str, str, str], PbxConnector] = {}

    # ------------------------------------------------------------ claiming

    def claim(self) -> list[int]:
        now = utcnow()
        earlier = aliased(SyncJob)
        with self.session_factory() as session:
            query = (
                select(SyncJob)
                .where(
                    or_(and_(SyncJob.state == "queued", SyncJob.run_after <= now),
                        and_(SyncJob.state == "running", SyncJob.lease_until < now)),
                    # jobs of one user apply in order: nothing earlier may still be open
                    ~exists().where(earlier.account_id == SyncJob.account_id, earlier.user_id == SyncJob.user_id,
                                    earlier.id < SyncJob.id, earlier.state.in_(("queued", "running"))),
                )
                .order_by(SyncJob.id)
                .limit(self.batch_size)
                .with_for_update(skip_locked=True)
            )
            jobs = session.scalars(query).all()
            for job in jobs:
                job.state = "running"
                job.claimed_by = self.worker_id
                job.lease_until = now + self.lease
                job.attempts += 1
                status = session.get(SyncStatus, job.user_id)
                if status is not None and job.kind == "push_user":
                    status.state = "syncing"
                    status.phones = {key: {**value, "state": "syncing"} for key, value in (status.phones or {}).items()}
            session.commit()
            return [job.id for job in jobs]

    # ------------------------------------------------------------ running

    def run_once(self) -> int:
        """Claims one batch and runs it; returns how many jobs it ran."""
        job_ids = self.claim()
        for job_id in job_ids:
            result = self.run_job(job_id)
            if self.on_job is not None:
                self.on_job(result)
        return len(job_ids)

    def run_forever(self, stop: threading.Event, idle_seconds: float = 0.5) -> None:
        while not stop.is_set():
            try:
                ran = self.run_once()
                if not ran:
                    self.purge()
            except Exception:  # a worker never dies of one bad round; it logs and goes on
                log.exception("sync worker round failed")
                ran = 0
            if not ran:
                stop.wait(idle_seconds)
        self.close()

    def purge(self) -> int:
        """Deletes the accounts marked deleted whose removals have all reached the PBX."""
        with self.session_factory() as session:
            purged = purge_deleted_accounts(session)
            session.commit()
            return purged

    def close(self) -> None:
        for connector in self._connectors.values():
            connector.close()
        self._connectors.clear()

    def run_job(self, job_id: int) -> JobResult:
        try:
            plan = self._prepare(job_id)
            if plan is None:
                return JobResult(job_id, "lost")
            if plan["action"] == "noop":
                return self._finish(job_id, plan, None, None)
            connector = self._connector(plan["connection"])
            if plan["action"] == "push":
                outcome = connector.push_user(plan["pbx_key"], plan["state"])
            else:
                connector.remove_user(plan["pbx_key"])
                outcome = None
            return self._finish(job_id, plan, outcome, None)
        except PbxError as exc:
            return self._finish(job_id, None, None, exc)
        except Exception as exc:  # a bug or a hostile answer: retried, visible, never fatal
            log.exception("sync job %s failed unexpectedly", job_id)
            return self._finish(job_id, None, None, exc)

    def _connector(self, connection: tuple[str, str, str]) -> PbxConnector:
        connector = self._connectors.get(connection)
        if connector is None:
            connector = self._connectors[connection] = self.runtime.connector(*connection)
        return connector

    def _prepare(self, job_id: int) -> dict[str, Any] | None:
        """Reads what to push, in a short transaction of its own."""
        with self.session_factory() as session:
            job = session.get(SyncJob, job_id)
            if job is None or job.claimed_by != self.worker_id or job.state != "running":
                return None
            connection = session.get(MivbConnection, job.account_id)
            plan: dict[str, Any] = {"user_id": job.user_id, "pbx_key": job.pbx_key or job.user_id, "kind": job.kind,
                                    "revision": None}
            if connection is None:
                plan["action"] = "not_connected"
                return plan
            plan["connection"] = (connection.url, connection.username,
                                  self.runtime.secret_box.decrypt(connection.password_encrypted))
            if job.kind == "remove_user":
                plan["action"] = "remove"
                return plan
            service = session.scalar(select(MivbService).where(MivbService.user_id == job.user_id)
                                     .options(selectinload(MivbService.phones)))
            user = session.get(User, job.user_id)
            if service is None or user is None or service.service_category_id is None:
                plan["action"] = "noop"  # removed meanwhile: its removal job does the work
                return plan
            plan.update(action="push", revision=service.desired_revision,
                        state=user_state(user, service, self.runtime.secret_box),
                        # the PBX names phones by their key there (an adopted phone keeps its own)
                        phone_ids={p.pbx_key or p.id: p.id for p in service.phones})
            return plan

    def _finish(self, job_id: int, plan: dict[str, Any] | None, outcome: PushOutcome | None,
                failure: Exception | None) -> JobResult:
        with self.session_factory() as session:
            job = session.get(SyncJob, job_id, with_for_update=True)
            if job is None or job.claimed_by != self.worker_id or job.state != "running":
                session.rollback()
                return JobResult(job_id, "lost")  # our lease ran out and another worker took over
            now = utcnow()
            status = session.get(SyncStatus, job.user_id) if job.kind == "push_user" else None
            newer_change = job.kind == "push_user" and plan is not None and plan.get("revision") is not None and (
                session.scalar(select(MivbService.desired_revision).where(MivbService.user_id == job.user_id))
                or 0) > plan["revision"]
            result = self._apply(job, plan, outcome, failure, status, now, newer_change)
            job.lease_until = None
            if result.outcome in ("succeeded", "failed"):
                job.state = result.outcome
                job.finished_at = now
            else:
                job.state = "queued"
                job.run_after = now + self.retry.delay(job.attempts)
                job.claimed_by = None
            job.errors = result.errors
            session.commit()
            return result

    def _apply(self, job: SyncJob, plan, outcome: PushOutcome | None, failure: Exception | None,
               status: SyncStatus | None, now, newer_change: bool = False) -> JobResult:
        if plan is not None and plan["action"] == "not_connected":
            errors = [{"code": "pbx_not_connected", "message": NOT_CONNECTED,
                       "source": "switchboard"}]
            self._set_status(status, "failed", errors, None, now)
            return JobResult(job.id, "failed", errors)
        if failure is not None:
            if isinstance(failure, PbxError):
                source = "pbx" if failure.said_by_pbx else "transport"
                errors = [_issue_json(i, source) for i in failure.issues]
                retryable = failure.retryable
            else:
                errors = [{"code": "internal_error", "message": UNEXPECTED % {"kind": type(failure).__name__},
                           "source": "switchboard"}]
                retryable = True
            give_up = not retryable or job.attempts >= self.retry.max_attempts
            # While retries go on the user shows "pending" with the last error, so the
            # admin sees why; once given up it is "failed" until retried or superseded.
            self._set_status(status, "failed" if give_up else "pending", errors, None, now)
            return JobResult(job.id, "failed" if give_up else "retry", errors)
        if plan["action"] in ("remove", "noop"):
            return JobResult(job.id, "succeeded")
        ids = plan.get("phone_ids", {})
        errors = [_issue_json(i, phone_ids=ids) for i in outcome.errors]
        phones = {}
        for result in outcome.phones:
            if result.status == "removed":
                continue
            phones[ids.get(result.phone, result.phone)] = {
                "state": "synced" if result.status == "applied" else "failed",
                "errors": [_issue_json(i, phone_ids=ids) for i in result.errors]}
        # A change saved while this push was under way has its own job queued: the user
        # stays "pending" until that one lands.
        state = "failed" if errors else "pending" if newer_change else "synced"
        self._set_status(status, state, errors, phones, now, applied_revision=plan["revision"])
        return JobResult(job.id, "failed" if errors else "succeeded", errors)

    @staticmethod
    def _set_status(status: SyncStatus | None, state: str, errors: list[dict[str, Any]],
                    phones: dict[str, Any] | None, now, applied_revision: int | None = None) -> None:
        if status is None:
            return
        status.state = state
        status.errors = errors
        if phones is not None:
            # A user-level refusal changes no phone: they keep what they had, marked failed.
            merged = {key: {"state": "failed" if state == "failed" and key not in phones else "synced", "errors": []}
                      for key in (status.phones or {})}
            merged.update(phones)
            status.phones = merged
        else:
            status.phones = {key: {"state": state, "errors": value.get("errors", [])}
                             for key, value in (status.phones or {}).items()}
        if applied_revision is not None and not errors:
            status.applied_revision = applied_revision
        status.updated_at = now
