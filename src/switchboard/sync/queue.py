"""The sync queue: jobs that push a user's desired state to the account's PBX (or remove
it), and the sync state the console shows.

A job is only ever added inside the caller's unit of work, so a change and its push are
committed together. The MiVB service asks for pushes through its hooks
(mivb.events.push_requested / remove_requested), which this module answers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.orm import Session

from switchboard.accounts.models import Account, User
from switchboard.accounts.tenancy import get_user, require_account_admin
from switchboard.audit import service as audit
from switchboard.core.collation import by_name
from switchboard.core.context import ServiceContext
from switchboard.core.db import utcnow
from switchboard.core.errors import Conflict, NotFound
from switchboard.core.uow import is_new_in_transaction, tx_cache
from switchboard.mivb.models import MivbService
from switchboard.pbx.models import MivbConnection
from switchboard.sync import status as sync_status
from switchboard.sync.models import OPEN_JOB_STATES, SyncJob, SyncStatus, push_key, status_key


def _supersede_queued_pushes(session: Session, account_id: str, user_id: str) -> None:
    session.execute(
        update(SyncJob)
        .where(SyncJob.account_id == account_id, SyncJob.user_id == user_id, SyncJob.kind == "push_user",
               SyncJob.state == "queued")
        .values(state="superseded", finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def status_of(session: Session, service: MivbService) -> SyncStatus:
    """The user's sync state, created when it has none; kept for the rest of the unit of
    work (the answer shows it without reading it again)."""
    cache = tx_cache(session)
    status = cache.get(status_key(service.user_id))
    if status is None and not is_new_in_transaction(session, "user", service.user_id):
        status = session.get(SyncStatus, service.user_id)  # a new user has no other sync state
    if status is None:
        status = SyncStatus(user_id=service.user_id, account_id=service.account_id, state="pending",
                            errors=[], phones={}, updated_at=utcnow())
        session.add(status)
    cache[status_key(service.user_id)] = status
    return status


def enqueue_push(session: Session, service: MivbService) -> SyncJob:
    """Queue a push of the service's current desired state (a newer push supersedes an
    older one still waiting: each carries the whole state). Locks in the workers' order:
    the user's jobs first, then its sync state (else a bulk change and a worker finishing
    a push could wait for each other)."""
    service.desired_revision += 1
    # A push this unit of work already queued carries the whole state too: it takes the
    # new revision instead of a second job (one job per user per unit of work).
    queued = tx_cache(session).get(push_key(service.user_id))
    if queued is not None and queued.state == "queued" and queued.kind == "push_user":
        queued.revision, queued.pbx_key = service.desired_revision, service.pbx_key or service.user_id
        job = queued
    else:
        if not is_new_in_transaction(session, "user", service.user_id):  # a new user has no job waiting
            _supersede_queued_pushes(session, service.account_id, service.user_id)
        job = SyncJob(account_id=service.account_id, user_id=service.user_id, kind="push_user", state="queued",
                      pbx_key=service.pbx_key or service.user_id, revision=service.desired_revision,
                      run_after=utcnow())  # its state known before it is flushed (a batch of rows)
        session.add(job)
        tx_cache(session)[push_key(service.user_id)] = job
    status = status_of(session, service)
    status.state = "pending"
    status.phones = {phone.id: {"state": "pending", "errors": (status.phones or {}).get(phone.id, {}).get("errors", [])}
                     for phone in service.phones}
    status.updated_at = utcnow()
    return job


def enqueue_remove(session: Session, account_id: str, user_id: str, pbx_key: str | None = None) -> SyncJob:
    """Queue the removal of the account's PBX user `pbx_key` (the user's, by default)."""
    _supersede_queued_pushes(session, account_id, user_id)
    tx_cache(session).pop(push_key(user_id), None)
    job = SyncJob(account_id=account_id, user_id=user_id, kind="remove_user", pbx_key=pbx_key or user_id,
                  run_after=utcnow())
    session.add(job)
    return job


def push_now(ctx: ServiceContext, account_id: str, user_id: str) -> SyncJob:
    """An admin's "Retry now": push the user's current state again, at once."""
    account = require_account_admin(ctx, account_id)
    get_user(ctx, account_id, user_id)
    service = _configured(ctx, account_id, user_id)
    if service is None:
        raise Conflict("not_configured", "This user has no MiVoice Business service to push.")
    job = _push_again(ctx, account, service)
    ctx.session.flush()
    return job


def _configured(ctx: ServiceContext, account_id: str, user_id: str) -> MivbService | None:
    service = ctx.session.get(MivbService, user_id)
    if service is None or service.account_id != account_id or service.service_category_id is None:
        return None
    return service


def _push_again(ctx: ServiceContext, account: Account, service: MivbService) -> SyncJob:
    job = enqueue_push(ctx.session, service)
    audit.record(ctx, action="sync", object_type="mivb_service", object_id=service.user_id, object_repr="push",
                 subject_id=service.user_id, account_id=account.id, partner_id=account.partner_id)
    return job


def _remove_again(ctx: ServiceContext, account: Account, failed: SyncJob) -> SyncJob:
    job = enqueue_remove(ctx.session, account.id, failed.user_id, failed.pbx_key)
    audit.record(ctx, action="sync", object_type="mivb_service", object_id=failed.user_id, object_repr="remove",
                 subject_id=failed.user_id, account_id=account.id, partner_id=account.partner_id,
                 after={"pbx_key": job.pbx_key})
    return job


def _failed_jobs(ctx: ServiceContext, account_id: str, job_id: int | None = None) -> list[SyncJob]:
    query = select(SyncJob).where(SyncJob.account_id == account_id, sync_status.in_state("failed"))
    if job_id is not None:
        query = query.where(SyncJob.id == job_id)
    return list(ctx.session.scalars(query.order_by(SyncJob.id)))


def retry_failed(ctx: ServiceContext, account_id: str) -> int:
    """"Retry all failed": every push of the account that gave up is queued again (its
    user's current state), and so is every removal that gave up. Returns how many jobs
    were queued; a failed push whose user no longer has the service is left as it is."""
    account = require_account_admin(ctx, account_id)
    queued = 0
    for failed in _failed_jobs(ctx, account_id):
        if failed.kind == "remove_user":
            _remove_again(ctx, account, failed)
        elif (service := _configured(ctx, account_id, failed.user_id)) is not None:
            _push_again(ctx, account, service)
        else:
            continue
        queued += 1
    ctx.session.flush()
    return queued


def retry_job(ctx: ServiceContext, account_id: str, job_id: str) -> SyncJob:
    """"Retry" of one failed job of the queue: a push goes as "Retry now" does, a removal
    (its user may be gone) is queued again."""
    account = require_account_admin(ctx, account_id)
    number = int(job_id) if job_id.isdigit() and len(job_id) <= 12 else None
    job = ctx.session.scalar(select(SyncJob).where(SyncJob.id == number, SyncJob.account_id == account_id)) \
        if number is not None else None
    if job is None:
        raise NotFound("not_found", "Sync job not found.")
    if not _failed_jobs(ctx, account_id, job.id):
        raise Conflict("not_failed", "This job has not failed, or was retried since: nothing to retry.")
    if job.kind == "remove_user":
        queued = _remove_again(ctx, account, job)
        ctx.session.flush()
        return queued
    return push_now(ctx, account_id, job.user_id)


def account_summary(ctx: ServiceContext, account_id: str, *, limit: int = 100) -> dict[str, Any]:
    require_account_admin(ctx, account_id)
    counts = dict(ctx.session.execute(
        select(SyncStatus.state, func.count()).join(MivbService, MivbService.user_id == SyncStatus.user_id)
        .where(SyncStatus.account_id == account_id, MivbService.service_category_id.is_not(None))
        .group_by(SyncStatus.state)).all())
    failed = ctx.session.execute(
        select(SyncStatus, User).join(User, User.id == SyncStatus.user_id)
        .where(SyncStatus.account_id == account_id, SyncStatus.state == "failed")
        .order_by(by_name(User.last_name), by_name(User.first_name), User.id).limit(limit)).all()
    in_flight = ctx.session.scalar(select(func.count()).select_from(SyncJob).where(
        SyncJob.account_id == account_id, SyncJob.state.in_(OPEN_JOB_STATES))) or 0
    return {
        "counts": {state: counts.get(state, 0) for state in ("pending", "syncing", "synced", "failed")},
        "jobs_in_flight": in_flight,
        "failed": [{"user_id": status.user_id, "name": user.full_name, "errors": status.errors or [],
                    "updated_at": status.updated_at} for status, user in failed],
    }


def pbx_reachability(session: Session) -> dict[str, int]:
    """Connected accounts, and how many of them the sync is retrying because the last push
    failed (readiness report: a customer's PBX being down is news, not unreadiness)."""
    connections = session.scalar(select(func.count()).select_from(MivbConnection)) or 0
    retrying = session.scalar(select(func.count(func.distinct(SyncJob.account_id))).where(
        SyncJob.state == "queued", SyncJob.attempts > 0)) or 0
    return {"connections": connections, "accounts_retrying": retrying}


# ---------------------------------------------------------------- deleted accounts

def _open_jobs_of(account_id: str):
    return exists().where(SyncJob.account_id == account_id, SyncJob.state.in_(OPEN_JOB_STATES))


def on_account_deleted(ctx: ServiceContext, account: Account) -> None:
    """An account marked deleted goes at once when nothing is left to push for it; else
    the worker purges it once its removals have reached the PBX (purge_deleted_accounts)."""
    if not ctx.session.scalar(select(_open_jobs_of(account.id))):
        ctx.session.delete(account)
        ctx.session.flush()


def purge_deleted_accounts(session: Session) -> int:
    """Deletes the accounts marked deleted whose jobs have all ended. Returns how many."""
    purgeable = select(Account.id).where(Account.deleted_at.is_not(None), ~_open_jobs_of(Account.id))
    ids = list(session.scalars(purgeable))
    if ids:
        session.execute(delete(Account).where(Account.id.in_(ids)))
    return len(ids)
