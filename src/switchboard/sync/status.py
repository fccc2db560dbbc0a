"""The account's sync queue as an admin reads it: what is waiting to be pushed, what a
worker is pushing right now, and what the PBX refused for good, each with the PBX's own
words. Read only; retrying lives in sync.queue, beside the other writes of the queue.

The queue's three states are read off the sync jobs (SyncJob.state):

- "pending": queued jobs, a retry waiting for its next attempt included (a job whose
  attempt failed goes back to the queue with attempts > 0 and the PBX's error kept);
- "running": jobs a worker holds;
- "failed": jobs that gave up and are still the last word on their PBX user: no later job
  of the same user and PBX key (a superseded one does not count) exists. A later push that
  succeeded, or one still waiting, makes the failure history rather than news.

"The same user and PBX key" rather than "the same user": a failed removal of an adopted
user's old key stays failed when the user gets a new service with another key, since
nothing will ever take that old key off the PBX but a retry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, or_, select
from sqlalchemy.orm import aliased

from switchboard.accounts.models import User
from switchboard.accounts.tenancy import require_account_admin
from switchboard.core.context import ServiceContext
from switchboard.core.errors import ValidationFailed
from switchboard.sync.models import SyncJob

QUEUE_STATES = ("pending", "running", "failed")
_JOB_STATE = {"pending": "queued", "running": "running", "failed": "failed"}
_QUEUE_STATE = {job_state: state for state, job_state in _JOB_STATE.items()}
ERROR_KEYS = ("code", "message", "field", "phone_id", "source")
CSV_COLUMNS = ("job_id", "state", "kind", "user_id", "user", "email", "pbx_key", "attempts", "next_attempt_at",
               "created_at", "errors")


def _pbx_key(job) -> ColumnElement:
    return func.coalesce(job.pbx_key, job.user_id)


def is_last_word() -> ColumnElement[bool]:
    """No later job of the same account, user and PBX key, superseded ones aside."""
    later = aliased(SyncJob)
    return ~exists().where(later.account_id == SyncJob.account_id, later.user_id == SyncJob.user_id,
                           _pbx_key(later) == _pbx_key(SyncJob), later.id > SyncJob.id,
                           later.state != "superseded")


def in_state(state: str) -> ColumnElement[bool]:
    if state == "failed":
        return and_(SyncJob.state == "failed", is_last_word())
    return SyncJob.state == _JOB_STATE[state]


def _check_state(state: str | None) -> None:
    if state is not None and state not in QUEUE_STATES:
        raise ValidationFailed("invalid_choice", "Must be one of: %(expected)s.", field="state",
                               expected=", ".join(QUEUE_STATES))


def _in_queue(account_id: str, state: str | None) -> ColumnElement[bool]:
    states = [state] if state else list(QUEUE_STATES)
    return and_(SyncJob.account_id == account_id, or_(*(in_state(s) for s in states)))


def counts(ctx: ServiceContext, account_id: str) -> dict[str, int]:
    """How many jobs the account's queue holds in each state."""
    require_account_admin(ctx, account_id)
    found = dict(ctx.session.execute(
        select(SyncJob.state, func.count()).where(_in_queue(account_id, None)).group_by(SyncJob.state)).all())
    return {state: found.get(_JOB_STATE[state], 0) for state in QUEUE_STATES}


def _rows(account_id: str, state: str | None, search: str | None):
    query = (select(SyncJob, User)
             .outerjoin(User, and_(User.id == SyncJob.user_id, User.account_id == SyncJob.account_id))
             .where(_in_queue(account_id, state)))
    if search:
        term = search.strip().lower()
        query = query.where(or_(func.lower(User.first_name + " " + User.last_name).contains(term, autoescape=True),
                                User.email_key.contains(term, autoescape=True),
                                func.lower(_pbx_key(SyncJob)).contains(term, autoescape=True)))
    return query


def list_jobs(ctx: ServiceContext, account_id: str, *, state: str | None = None, search: str | None = None,
              limit: int | None = 50, offset: int = 0) -> tuple[int, list[dict[str, Any]]]:
    """The account's queue, failures first, then what runs, then what waits (oldest first
    in each); `limit=None` for all of it."""
    require_account_admin(ctx, account_id)
    _check_state(state)
    query = _rows(account_id, state, search)
    total = ctx.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rank = case({"failed": 0, "running": 1}, value=SyncJob.state, else_=2)
    query = query.order_by(rank, SyncJob.id).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return total, [item(job, user) for job, user in ctx.session.execute(query).all()]


def item(job: SyncJob, user: User | None) -> dict[str, Any]:
    """One job of the queue. A removal may outlive its user: it shows the PBX key."""
    pbx_key = job.pbx_key or job.user_id
    return {
        "id": str(job.id), "user_id": job.user_id,
        "user": user.full_name if user is not None else f"{pbx_key} (deleted user)",
        "email": user.email if user is not None else None, "deleted_user": user is None,
        "kind": job.kind, "pbx_key": pbx_key, "state": _QUEUE_STATE[job.state], "attempts": job.attempts,
        "next_attempt_at": job.run_after if job.state == "queued" else None,
        "created_at": job.created_at, "finished_at": job.finished_at,
        "errors": [{key: error.get(key) for key in ERROR_KEYS} for error in job.errors or []],
    }


def _cell(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return "" if value is None else str(value)


def _errors_cell(errors: list[dict[str, Any]]) -> str:
    parts = []
    for error in errors:
        where = ", ".join(f"{key} {error[key]}" for key in ("field", "phone_id") if error.get(key))
        parts.append(f"{error.get('code') or ''}: {error.get('message') or ''}"
                     + (f" ({where})" if where else "") + (f" [{error['source']}]" if error.get("source") else ""))
    return " | ".join(parts)


def export_rows(ctx: ServiceContext, account_id: str, *, state: str | None = None) -> list[dict[str, str]]:
    """The whole queue (or one state of it) as rows of CSV_COLUMNS."""
    _, items = list_jobs(ctx, account_id, state=state, limit=None)
    return [{"job_id": i["id"], "state": i["state"], "kind": i["kind"], "user_id": i["user_id"], "user": i["user"],
             "email": _cell(i["email"]), "pbx_key": i["pbx_key"], "attempts": str(i["attempts"]),
             "next_attempt_at": _cell(i["next_attempt_at"]), "created_at": _cell(i["created_at"]),
             "errors": _errors_cell(i["errors"])} for i in items]
