"""Sync jobs and sync state.

A job is only ever added inside the caller's transaction (nothing here commits, except the
entry points an admin calls), so a change and its push are committed together."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from switchboard.accounts import service as accounts
from switchboard.accounts.models import User
from switchboard.audit import service as audit
from switchboard.core.context import ServiceContext
from switchboard.core.db import utcnow
from switchboard.core.errors import Conflict
from switchboard.mivb.models import MivbService
from switchboard.sync.models import SyncJob, SyncStatus


def _supersede_queued_pushes(session: Session, account_id: str, user_id: str) -> None:
    session.execute(
        update(SyncJob)
        .where(SyncJob.account_id == account_id, SyncJob.user_id == user_id, SyncJob.kind == "push_user",
               SyncJob.state == "queued")
        .values(state="superseded", finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def status_of(session: Session, service: MivbService) -> SyncStatus:
    status = session.get(SyncStatus, service.user_id)
    if status is None:
        status = SyncStatus(user_id=service.user_id, account_id=service.account_id, state="pending",
                            errors=[], phones={}, updated_at=utcnow())
        session.add(status)
    return status


def enqueue_push(session: Session, service: MivbService) -> SyncJob:
    """Queue a push of the service's current desired state (a newer push supersedes an
    older one still waiting: each carries the whole state)."""
    service.desired_revision += 1
    status = status_of(session, service)
    status.state = "pending"
    status.phones = {phone.id: {"state": "pending", "errors": (status.phones or {}).get(phone.id, {}).get("errors", [])}
                     for phone in service.phones}
    status.updated_at = utcnow()
    _supersede_queued_pushes(session, service.account_id, service.user_id)
    job = SyncJob(account_id=service.account_id, user_id=service.user_id, kind="push_user",
                  revision=service.desired_revision, run_after=utcnow())
    session.add(job)
    return job


def enqueue_remove(session: Session, account_id: str, user_id: str) -> SyncJob:
    _supersede_queued_pushes(session, account_id, user_id)
    job = SyncJob(account_id=account_id, user_id=user_id, kind="remove_user", run_after=utcnow())
    session.add(job)
    return job


def push_now(ctx: ServiceContext, account_id: str, user_id: str) -> SyncJob:
    """An admin's "Retry now": push the user's current state again, at once."""
    account = accounts.require_account_admin(ctx, account_id)
    accounts.get_user(ctx, account_id, user_id)
    service = ctx.session.get(MivbService, user_id)
    if service is None or service.service_category_id is None:
        raise Conflict("not_configured", "This user has no MiVoice Business service to push.")
    job = enqueue_push(ctx.session, service)
    audit.record(ctx, action="sync", object_type="mivb_service", object_id=user_id, object_repr="push", subject_id=user_id,
                 account_id=account_id, partner_id=account.partner_id)
    ctx.session.commit()
    return job


def _waiting_job(session: Session, account_id: str, user_id: str) -> SyncJob | None:
    return session.scalar(
        select(SyncJob).where(SyncJob.account_id == account_id, SyncJob.user_id == user_id,
                              SyncJob.state.in_(("queued", "running"))).order_by(SyncJob.id.desc()).limit(1))


def user_sync(session: Session, service: MivbService) -> dict[str, Any]:
    """The `sync` part of a user's MiVB configuration."""
    status = session.get(SyncStatus, service.user_id)
    job = _waiting_job(session, service.account_id, service.user_id)
    return {
        "state": status.state if status else "pending",
        "errors": status.errors if status else [],
        "updated_at": status.updated_at if status else None,
        "next_attempt_at": job.run_after if job is not None and job.state == "queued" else None,
        "attempts": job.attempts if job is not None else 0,
    }


def phone_sync(status: SyncStatus | None, phone_id: str) -> dict[str, Any]:
    entry = (status.phones or {}).get(phone_id) if status else None
    return {"state": entry["state"], "errors": entry.get("errors", [])} if entry else {"state": "pending", "errors": []}


def account_summary(ctx: ServiceContext, account_id: str, *, limit: int = 100) -> dict[str, Any]:
    accounts.require_account_admin(ctx, account_id)
    counts = dict(ctx.session.execute(
        select(SyncStatus.state, func.count()).join(MivbService, MivbService.user_id == SyncStatus.user_id)
        .where(SyncStatus.account_id == account_id, MivbService.service_category_id.is_not(None))
        .group_by(SyncStatus.state)).all())
    failed = ctx.session.execute(
        select(SyncStatus, User).join(User, User.id == SyncStatus.user_id)
        .where(SyncStatus.account_id == account_id, SyncStatus.state == "failed")
        .order_by(User.last_name, User.first_name).limit(limit)).all()
    in_flight = ctx.session.scalar(select(func.count()).select_from(SyncJob).where(
        SyncJob.account_id == account_id, SyncJob.state.in_(("queued", "running")))) or 0
    return {
        "counts": {state: counts.get(state, 0) for state in ("pending", "syncing", "synced", "failed")},
        "jobs_in_flight": in_flight,
        "failed": [{"user_id": status.user_id, "name": user.full_name, "errors": status.errors or [],
                    "updated_at": status.updated_at} for status, user in failed],
    }


def pbx_reachability(session: Session) -> dict[str, int]:
    """Connected accounts, and how many of them the sync is retrying because the last push
    failed (readiness report: a customer's PBX being down is news, not unreadiness)."""
    from switchboard.pbx.models import MivbConnection

    connections = session.scalar(select(func.count()).select_from(MivbConnection)) or 0
    retrying = session.scalar(select(func.count(func.distinct(SyncJob.account_id))).where(
        SyncJob.state == "queued", SyncJob.attempts > 0)) or 0
    return {"connections": connections, "accounts_retrying": retrying}
