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
import time
import uuid
from datetime import timedelta
from functools import partial
from typing import Any, Callable

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import aliased, selectinload, sessionmaker

from switchboard.accounts.models import User
from switchboard.core.db import utcnow
from switchboard.mivb.desired_state import user_state
from switchboard.mivb.models import MivbService
from switchboard.pbx.connector import PbxConnector, PbxError, PushOutcome
from switchboard.pbx.models import MivbConnection
from switchboard.core.runtime import Runtime
from switchboard.sync.dispatch import PushPool
from switchboard.sync.models import SyncJob, SyncStatus
from switchboard.sync.slots import Balancer, Places
from switchboard.sync.outcomes import JobResult, RetryPolicy, apply_result  # noqa: F401 (RetryPolicy: the worker's)
from switchboard.sync.queue import purge_deleted_accounts

log = logging.getLogger("switchboard.sync")


def _call(connector: PbxConnector, plan: dict[str, Any]) -> PushOutcome | None:
    """The PBX call of a job (in a thread of the pool)."""
    if plan["action"] == "push":
        return connector.push_user(plan["pbx_key"], plan["state"])
    connector.remove_user(plan["pbx_key"])
    return None


class Worker:
    """Claims jobs in batches and pushes them through a pool of threads, never more than
    `per_pbx` calls in flight to one PBX (a slow or dead PBX holds back only its own jobs);
    every worker together keeps to that limit, through places held in the database
    (sync.slots).
    Its own thread does every database step: claim, prepare (one short read transaction
    for a batch), record (one transaction for the results that came in together)."""

    def __init__(self, session_factory: sessionmaker, runtime: Runtime, *, worker_id: str | None = None,
                 lease_seconds: int = 60, batch_size: int = 50, retry: RetryPolicy | None = None,
                 on_job: Callable[[JobResult], None] | None = None, threads: int = 4, per_pbx: int = 4) -> None:
        self.session_factory = session_factory
        self.runtime = runtime
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.lease = timedelta(seconds=lease_seconds)
        self.batch_size = batch_size
        self.retry = retry or RetryPolicy()
        self.on_job = on_job
        self.pool = PushPool(threads, per_pbx, shared=True)
        self.places = Places(self.worker_id, per_pbx, timedelta(seconds=min(30, lease_seconds)))
        self.balancer = Balancer(self.places, self.pool)
        # Jobs claimed and not yet recorded, at most: enough to keep every thread busy.
        self.capacity = max(batch_size, threads + batch_size)
        self._connectors: dict[tuple[str, str, str], PbxConnector] = {}
        self._passwords: dict[str, str] = {}  # encrypted -> decrypted, connection passwords
        self._pbx_of_account: dict[str, str] = {}
        self._started: set[int] = set()  # jobs in the pool (in a line or in flight)
        self._queue_drained_until = 0.0

    # ------------------------------------------------------------ claiming

    def claim(self, limit: int | None = None, skip_accounts: set[str] | frozenset = frozenset()) -> list[int]:
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
                .limit(limit or self.batch_size)
                .with_for_update(skip_locked=True)
            )
            if skip_accounts:  # their PBX has enough of this worker's jobs waiting already
                query = query.where(SyncJob.account_id.not_in(sorted(skip_accounts)))
            jobs = session.scalars(query).all()
            statuses = {s.user_id: s for s in session.scalars(select(SyncStatus).where(
                SyncStatus.user_id.in_([j.user_id for j in jobs if j.kind == "push_user"])))} if jobs else {}
            for job in jobs:
                job.state = "running"
                job.claimed_by = self.worker_id
                job.lease_until = now + self.lease
                job.attempts += 1
                status = statuses.get(job.user_id)
                if status is not None and job.kind == "push_user":
                    status.state = "syncing"
                    status.phones = {key: {**value, "state": "syncing"} for key, value in (status.phones or {}).items()}
            session.commit()
            return [job.id for job in jobs]

    # ------------------------------------------------------------ running

    def run_once(self) -> int:
        """Claims one batch and runs it to the end; returns how many jobs it ran."""
        job_ids = self.claim()
        if job_ids:
            self._start(job_ids)
        while self.pool.outstanding:
            self._record(self.pool.collect(timeout=1.0))
            self._balance()
        self._release_places()  # the batch is done: another worker may have the PBXs
        return len(job_ids)

    def run_forever(self, stop: threading.Event, idle_seconds: float = 0.5) -> None:
        """Keeps the threads busy: claims more as places free up, records results as they
        come; idle, purges deleted accounts. On stop, finishes what is in flight and gives
        back what has not started."""
        try:
            while not stop.is_set():
                try:
                    claimed = self._claim_more()
                    self._balance()
                    if self.pool.outstanding:
                        self._record(self._gather(0.02 if claimed else 0.2))
                    elif not claimed:
                        self.purge()
                        stop.wait(idle_seconds)
                except Exception:  # a worker never dies of one bad round; it logs and goes on
                    log.exception("sync worker round failed")
                    stop.wait(idle_seconds)
            self._give_back(self.pool.take_back_waiting())
            while self.pool.outstanding:
                self._record(self.pool.collect(timeout=1.0))
        finally:
            self.close()

    def _gather(self, wait: float, window: float = 0.05) -> list:
        """The results that come in within `window` of the first one (waited for up to
        `wait`), at most a batch: recorded together, in one transaction."""
        finished = self.pool.collect(timeout=wait)
        deadline = time.monotonic() + window
        while finished and len(finished) < self.batch_size and self.pool.outstanding:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            finished += self.pool.collect(timeout=left)
        return finished

    def _claim_more(self) -> int:
        """Claims more jobs when places free up, in batches. A PBX with enough of this
        worker's jobs waiting gets no more, and its jobs take no room from the others."""
        full = {pbx for pbx in set(self._pbx_of_account.values())
                if self.pool.outstanding_for(pbx) >= 4 * self.pool.per_pbx}
        full |= self.balancer.skipped(time.monotonic())  # other workers hold its places
        active = self.pool.outstanding - sum(self.pool.outstanding_for(pbx) for pbx in full)
        room = self.capacity - active
        if room < min(self.batch_size, self.capacity) // 2 and active:
            return 0
        if active and time.monotonic() < self._queue_drained_until:
            return 0  # the last claim found the queue empty: ask again a little later
        skip = {account for account, pbx in self._pbx_of_account.items() if pbx in full}
        limit = min(room, self.batch_size)
        job_ids = self.claim(limit=limit, skip_accounts=skip)
        self._queue_drained_until = time.monotonic() + 0.2 if len(job_ids) < limit else 0.0
        if job_ids:
            self._start(job_ids)
        return len(job_ids)

    def purge(self) -> int:
        """Deletes the accounts marked deleted whose removals have all reached the PBX."""
        with self.session_factory() as session:
            purged = purge_deleted_accounts(session)
            session.commit()
            return purged

    def _balance(self) -> None:
        """Takes, renews and gives back places at the PBXs (sync.slots): the pool pushes
        to a PBX only as many calls at once as this worker holds places there."""
        wanted = self.balancer.due(time.monotonic())
        if wanted is None:
            return
        with self.session_factory() as session:
            held = self.places.adjust(session, wanted, utcnow(),
                                      {pbx: self.pool.in_flight(pbx) for pbx in set(wanted) | set(self.places.held)})
            session.commit()
        for pbx in self.balancer.apply(held, time.monotonic()):
            self._give_back(self.pool.take_back_waiting(pbx))

    def _release_places(self) -> None:
        if not self.places.held and not self.places.asked:
            return
        try:
            with self.session_factory() as session:
                self.places.release_all(session)
                session.commit()
        except Exception:  # their lease runs out
            log.warning("sync worker %s could not give back its places at the PBXs", self.worker_id)
        self.balancer.forget()

    def close(self) -> None:
        self.pool.close()
        self._release_places()
        for connector in self._connectors.values():
            connector.close()
        self._connectors.clear()

    def run_job(self, job_id: int) -> JobResult:
        """One claimed job, start to end (the worker's thread waits for it)."""
        results = self._start([job_id])
        while self.pool.outstanding:
            results += self._record(self.pool.collect(timeout=1.0))
            self._balance()
        self._release_places()
        return next(r for r in results if r.job_id == job_id)

    def _start(self, job_ids: list[int]) -> list[JobResult]:
        """Prepares the jobs: those that need the PBX go to the pool, the others are
        recorded now (their results returned)."""
        try:
            plans = self._prepare(job_ids)
        except Exception as exc:
            log.exception("sync jobs %s could not be prepared", job_ids)
            return self._record([((job_id, None), exc) for job_id in job_ids])
        lost, now = [JobResult(job_id, "lost") for job_id in job_ids if job_id not in plans], []
        for result in lost:
            self._notify(result)
        for job_id, plan in plans.items():
            if job_id in self._started:
                continue  # its lease ran out while it waited in its PBX's line: it is there still
            if plan["action"] in ("push", "remove"):
                self._started.add(job_id)
                url = plan["connection"][0].rstrip("/")
                self._pbx_of_account[plan["account_id"]] = url
                self.pool.submit(url, (job_id, plan), partial(_call, self._connector(plan["connection"]), plan))
            else:
                now.append(((job_id, plan), None))
        self._balance()
        return lost + self._record(now)

    def _record(self, finished: list[tuple[tuple[int, dict[str, Any] | None], Any]]) -> list[JobResult]:
        if not finished:
            return []
        entries = []
        for (job_id, plan), result in finished:
            self._started.discard(job_id)
            if isinstance(result, BaseException):
                if not isinstance(result, PbxError):
                    log.error("sync job %s failed unexpectedly", job_id, exc_info=result)
                entries.append((job_id, None, None, result))
            else:
                entries.append((job_id, plan, result, None))
        try:
            results, busy = self._finish(entries)
            for entry in busy:  # their users' sync state is being changed: one at a time, waiting
                results += self._finish([entry], wait=True)[0]
        except Exception:
            log.exception("sync results of jobs %s could not be recorded", [e[0] for e in entries])
            results = [JobResult(e[0], "lost") for e in entries]  # their leases run out: run again
        for result in results:
            self._notify(result)
        return results

    def _notify(self, result: JobResult) -> None:
        if self.on_job is not None:
            self.on_job(result)

    def _give_back(self, waiting: list[tuple[int, dict[str, Any]]]) -> None:
        """Jobs claimed but never started go back to the queue as they were."""
        self._started.difference_update(job_id for job_id, _ in waiting)
        if not waiting:
            return
        with self.session_factory() as session:
            jobs = session.scalars(select(SyncJob).where(SyncJob.id.in_([job_id for job_id, _ in waiting]),
                                                         SyncJob.claimed_by == self.worker_id,
                                                         SyncJob.state == "running")
                                   .order_by(SyncJob.id).with_for_update()).all()
            for job in jobs:
                job.state, job.claimed_by, job.lease_until = "queued", None, None
                job.attempts = max(0, job.attempts - 1)
            session.commit()

    def _connector(self, connection: tuple[str, str, str]) -> PbxConnector:
        """One keep-alive client per PBX (threads share it), closed with the worker."""
        connector = self._connectors.get(connection)
        if connector is None:
            connector = self._connectors[connection] = self.runtime.connector(*connection)
        return connector

    def _password(self, encrypted: str) -> str:
        if encrypted not in self._passwords:
            self._passwords[encrypted] = self.runtime.secret_box.decrypt(encrypted)
        return self._passwords[encrypted]

    def _prepare(self, job_ids: list[int]) -> dict[int, dict[str, Any]]:
        """Reads what to push for a batch of jobs, in one short transaction."""
        with self.session_factory() as session:
            jobs = [j for j in session.scalars(select(SyncJob).where(SyncJob.id.in_(job_ids)))
                    if j.claimed_by == self.worker_id and j.state == "running"]
            accounts = sorted({j.account_id for j in jobs})
            connections = {c.account_id: c for c in session.scalars(
                select(MivbConnection).where(MivbConnection.account_id.in_(accounts)))} if accounts else {}
            pushed = sorted({j.user_id for j in jobs if j.kind == "push_user" and j.account_id in connections})
            services = {s.user_id: s for s in session.scalars(
                select(MivbService).where(MivbService.user_id.in_(pushed))
                .options(selectinload(MivbService.phones)))} if pushed else {}
            users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(pushed)))} if pushed else {}
            plans: dict[int, dict[str, Any]] = {}
            for job in jobs:
                connection = connections.get(job.account_id)
                plan: dict[str, Any] = {"user_id": job.user_id, "account_id": job.account_id,
                                        "pbx_key": job.pbx_key or job.user_id, "kind": job.kind, "revision": None}
                plans[job.id] = plan
                if connection is None:
                    plan["action"] = "not_connected"
                    continue
                plan["connection"] = (connection.url, connection.username,
                                      self._password(connection.password_encrypted))
                if job.kind == "remove_user":
                    plan["action"] = "remove"
                    continue
                service, user = services.get(job.user_id), users.get(job.user_id)
                if service is None or user is None or service.service_category_id is None:
                    plan["action"] = "noop"  # removed meanwhile: its removal job does the work
                    continue
                plan.update(action="push", revision=service.desired_revision,
                            state=user_state(user, service, self.runtime.secret_box),
                            # the PBX names phones by their key there (an adopted phone keeps its own)
                            phone_ids={p.pbx_key or p.id: p.id for p in service.phones})
            return plans

    def _finish(self, entries: list[tuple[int, dict[str, Any] | None, PushOutcome | None, Exception | None]],
                *, wait: bool = False) -> tuple[list[JobResult], list]:
        """Records results in one transaction: the jobs locked first, then their users' sync
        state (the order every writer of both follows). A sync state another transaction
        holds (a bulk change of many users) is not waited for while others are held: its
        result is returned to be recorded alone (wait=True), as no two writers then wait
        for each other in a circle."""
        with self.session_factory() as session:
            jobs = {j.id: j for j in session.scalars(
                select(SyncJob).where(SyncJob.id.in_([e[0] for e in entries])).order_by(SyncJob.id)
                .with_for_update())}
            ours = {job_id: job for job_id, job in jobs.items()
                    if job.claimed_by == self.worker_id and job.state == "running"}
            pushed = sorted({j.user_id for j in ours.values() if j.kind == "push_user"})
            existing = set(session.scalars(select(SyncStatus.user_id).where(SyncStatus.user_id.in_(pushed))))
            statuses = {s.user_id: s for s in session.scalars(
                select(SyncStatus).where(SyncStatus.user_id.in_(sorted(existing))).order_by(SyncStatus.user_id)
                .with_for_update(skip_locked=not wait))} if existing else {}
            busy = [e for e in entries if e[0] in ours and ours[e[0]].kind == "push_user"
                    and ours[e[0]].user_id in existing and ours[e[0]].user_id not in statuses]
            revisions = dict(session.execute(select(MivbService.user_id, MivbService.desired_revision)
                                             .where(MivbService.user_id.in_(pushed))).all()) if pushed else {}
            now = utcnow()
            results = []
            for job_id, plan, outcome, failure in entries:
                job = ours.get(job_id)
                if any(job_id == e[0] for e in busy):
                    continue
                if job is None:
                    results.append(JobResult(job_id, "lost"))  # our lease ran out and another worker took over
                    continue
                status = statuses.get(job.user_id) if job.kind == "push_user" else None
                newer_change = job.kind == "push_user" and plan is not None and plan.get("revision") is not None and (
                    revisions.get(job.user_id) or 0) > plan["revision"]
                result = apply_result(job, plan, outcome, failure, status, now, newer_change, self.retry.max_attempts)
                job.lease_until = None
                if result.outcome in ("succeeded", "failed"):
                    job.state = result.outcome
                    job.finished_at = now
                else:
                    job.state = "queued"
                    job.run_after = now + self.retry.delay(job.attempts)
                    job.claimed_by = None
                job.errors = result.errors
                results.append(result)
            session.commit()
            return results, busy
