from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from switchboard.core.db import Base, UTCDateTime, utcnow
from switchboard.core.uow import tx_cache

if TYPE_CHECKING:
    from switchboard.mivb.models import MivbService

JOB_STATES = ("queued", "running", "succeeded", "failed", "superseded")
OPEN_JOB_STATES = ("queued", "running")
SYNC_STATES = ("pending", "syncing", "synced", "failed")


_OPEN = text("state IN ('queued', 'running')")


class SyncJob(Base):
    """One push of a user's desired state (or its removal) to the account's PBX.

    Written in the same transaction as the change it pushes. Jobs of one user run in id
    order; a queued push is superseded by a newer one (pushes carry the full state)."""

    __tablename__ = "sync_jobs"
    __table_args__ = (
        Index("ix_sync_jobs_claim", "state", "run_after"),
        Index("ix_sync_jobs_user", "account_id", "user_id", "id"),
        # The claim reads the open jobs in id order, and asks whether a user has an earlier
        # open one: both only among the open jobs, however many finished ones there are.
        Index("ix_sync_jobs_open", "id", postgresql_where=_OPEN, sqlite_where=_OPEN),
        Index("ix_sync_jobs_open_user", "account_id", "user_id", "id", postgresql_where=_OPEN, sqlite_where=_OPEN),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    # No foreign key: a removal outlives the user it removes.
    user_id: Mapped[str] = mapped_column(String(32))
    # The PBX user the job pushes to or removes (the user id, or an adopted user's own key).
    pbx_key: Mapped[str | None] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(12), default="queued")
    revision: Mapped[int] = mapped_column(default=0)
    attempts: Mapped[int] = mapped_column(default=0)
    run_after: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SyncStatus(Base):
    """What the sync last saw for a user and each of its phones. Kept apart from the
    desired state so the worker's writes never bump the version an admin edits against."""

    __tablename__ = "sync_status"

    user_id: Mapped[str] = mapped_column(ForeignKey("mivb_services.user_id", ondelete="CASCADE"), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(10), default="pending")
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # {phone_id: {"state": ..., "errors": [...]}}
    phones: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    applied_revision: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Never read (lazy="raise"): a service is inserted before its sync state when both are
    # flushed at once (a bulk import's batch).
    service: Mapped["MivbService"] = relationship(lazy="raise")


class PbxSlot(Base):
    """One place in a PBX's limit of pushes in flight, shared by every worker process: a
    worker pushes to a PBX only as many calls at once as it holds places there. A place
    whose lease ran out (its worker died) is free again."""

    __tablename__ = "sync_pbx_slots"

    pbx: Mapped[str] = mapped_column(String(500), primary_key=True)  # the PBX's URL, as the worker calls it
    slot: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    holder: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PbxWaiter(Base):
    """A worker that has calls for a PBX and fewer places there than its fair share: the
    workers holding places give back what they hold above theirs."""

    __tablename__ = "sync_pbx_waiters"

    pbx: Mapped[str] = mapped_column(String(500), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100), primary_key=True)
    until: Mapped[datetime] = mapped_column(UTCDateTime())


# What a unit of work wrote of a user's sync (sync.queue keeps it in core.uow.tx_cache):
# the answer to a change shows it without reading it again.

def status_key(user_id: str) -> tuple[str, str]:
    return ("sync_status", user_id)


def push_key(user_id: str) -> tuple[str, str]:
    return ("push", user_id)


def written_this_unit(session, user_id: str) -> tuple[SyncStatus | None, SyncJob | None]:
    """The sync state and the push this unit of work wrote for the user, if it did (the
    newest of the user's jobs is then that push)."""
    cache = tx_cache(session)
    return cache.get(status_key(user_id)), cache.get(push_key(user_id))
