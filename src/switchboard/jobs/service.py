"""Jobs as admins see them: submit, read with progress and per-row results, list. Jobs are
run by the worker processes (jobs.runner); a job belongs to an account and only its
admins see it (another tenant's job is not found)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import func, select

from switchboard.accounts.tenancy import require_account_admin
from switchboard.core.context import ServiceContext
from switchboard.core.errors import NotFound, invalid
from switchboard.jobs.models import JOB_MODES, ON_ERROR, Job, JobRow
from switchboard.sync.models import SyncStatus


def create(ctx: ServiceContext, account_id: str, *, kind: str, mode: str, on_error: str = "all_or_nothing",
           input_text: str = "", options: dict[str, Any] | None = None, total: int = 0) -> Job:
    require_account_admin(ctx, account_id)
    if mode not in JOB_MODES:
        raise invalid("mode", "invalid_choice", "Must be one of: %(expected)s.", expected=", ".join(JOB_MODES))
    if on_error not in ON_ERROR:
        raise invalid("on_error", "invalid_choice", "Must be one of: %(expected)s.", expected=", ".join(ON_ERROR))
    job = Job(account_id=account_id, kind=kind, mode=mode, on_error=on_error, state="queued",
              created_by=ctx.actor.user_id, created_by_email=ctx.actor.email,
              input_encrypted=ctx.rt.secret_box.encrypt(input_text) if input_text else "",
              options=options or {}, progress_total=total, summary={})
    ctx.session.add(job)
    ctx.session.flush()
    return job


def input_text(ctx: ServiceContext, job: Job) -> str:
    """What the job works on, decrypted (it is stored encrypted: an import may carry pins)."""
    return ctx.rt.secret_box.decrypt(job.input_encrypted) if job.input_encrypted else ""


def get(ctx: ServiceContext, job_id: str) -> Job:
    """The job, if the actor administers its account (else not found)."""
    job = ctx.session.get(Job, job_id) if isinstance(job_id, str) and len(job_id) <= 64 else None
    if job is None:
        raise NotFound("not_found", "Job not found.")
    try:
        require_account_admin(ctx, job.account_id)
    except NotFound:
        raise NotFound("not_found", "Job not found.") from None
    return job


def rows(ctx: ServiceContext, job: Job) -> list[JobRow]:
    return list(ctx.session.scalars(select(JobRow).where(JobRow.job_id == job.id).order_by(JobRow.row)))


def view(ctx: ServiceContext, job: Job, *, with_rows: bool = True) -> dict[str, Any]:
    """The job as the API shows it; an applied job also says where each user's push is."""
    result_rows = rows(ctx, job) if with_rows else []
    counts = Counter(r.status for r in result_rows) if with_rows else Counter(job.summary.get("counts", {}))
    sync_states: dict[str, str] = {}
    applied = [r.user_id for r in result_rows if r.user_id and r.status in ("created", "updated", "adopted")]
    if job.mode == "apply" and job.state == "succeeded" and applied:
        for start in range(0, len(applied), 500):
            chunk = applied[start:start + 500]
            sync_states.update(ctx.session.execute(
                select(SyncStatus.user_id, SyncStatus.state).where(SyncStatus.user_id.in_(chunk))).all())
    result = {name: counts.get(name, 0) for name in ("created", "updated", "unchanged", "adopted", "failed")}
    result["skipped"] = counts.get("skipped", 0)
    result["errors"] = job.summary.get("errors", [])
    if sync_states:
        result["sync"] = dict(Counter(sync_states.values()))
    result["rows"] = [{"row": r.row, "key": r.key, "email": r.key if job.kind == "import" else None,
                       "user_id": r.user_id, "status": r.status, "errors": r.errors,
                       "sync_state": sync_states.get(r.user_id or "")} for r in result_rows]
    return {"id": job.id, "kind": job.kind, "account_id": job.account_id, "state": job.state, "mode": job.mode,
            "on_error": job.on_error, "progress": {"done": job.progress_done, "total": job.progress_total},
            "created_at": job.created_at, "started_at": job.started_at, "finished_at": job.finished_at,
            "created_by": job.created_by_email, "result": result}


def list_for_account(ctx: ServiceContext, account_id: str, *, limit: int = 50,
                     offset: int = 0) -> tuple[int, list[Job]]:
    require_account_admin(ctx, account_id)
    query = select(Job).where(Job.account_id == account_id)
    total = ctx.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    jobs = ctx.session.scalars(query.order_by(Job.created_at.desc(), Job.id.desc()).limit(limit).offset(offset)).all()
    return total, list(jobs)

