"""Recording and reading the change log. Writes join the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from switchboard.accounts.tenancy import require_account_admin
from switchboard.audit.models import AuditEntry
from switchboard.core.context import ServiceContext
from switchboard.core.db import utcnow
from switchboard.core.uow import insert_at_commit

MASK = "****"


def record(
    ctx: ServiceContext,
    *,
    action: str,
    object_type: str,
    object_id: str,
    object_repr: str = "",
    account_id: str | None = None,
    partner_id: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    subject_id: str | None = None,
) -> None:
    if before is not None and after is not None and before == after:
        return  # nothing changed: keep the log free of noise
    # Inserted with the transaction's other entries in one statement at its commit: nothing
    # reads the log before then.
    insert_at_commit(ctx.session, AuditEntry.__table__, {
        "request_id": ctx.request_id, "at": utcnow(), "actor_id": ctx.actor.user_id,
        "actor_email": ctx.actor.email, "partner_id": partner_id, "account_id": account_id,
        "object_type": object_type, "object_id": object_id, "object_repr": object_repr[:300],
        "subject_id": subject_id or (object_id if object_type == "user" else None), "action": action,
        "before": before, "after": after})


def list_for_account(
    ctx: ServiceContext, account_id: str, *, limit: int, offset: int, object_id: str | None = None,
    subject_id: str | None = None,
) -> tuple[int, list[AuditEntry]]:
    require_account_admin(ctx, account_id)
    query = select(AuditEntry).where(AuditEntry.account_id == account_id)
    if object_id:
        query = query.where(AuditEntry.object_id == object_id)
    if subject_id:
        query = query.where(AuditEntry.subject_id == subject_id)
    total = ctx.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = ctx.session.scalars(
        query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit).offset(offset)
    ).all()
    return total or 0, list(rows)
