"""Jobs: long work (a bulk import, an adoption) that the worker processes run, with
progress and a result per row."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from switchboard.core.db import Base, IdMixin, UTCDateTime, utcnow

JOB_KINDS = ("import", "adoption")
JOB_MODES = ("dry_run", "apply")
ON_ERROR = ("all_or_nothing", "partial")
JOB_STATES = ("queued", "running", "succeeded", "failed")
ROW_STATUSES = ("created", "updated", "unchanged", "adopted", "failed", "skipped")


class Job(IdMixin, Base):
    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_account_created", "account_id", "created_at"),
        Index("ix_jobs_claim", "state", "lease_until"),
    )

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    mode: Mapped[str] = mapped_column(String(10))
    on_error: Mapped[str] = mapped_column(String(20), default="all_or_nothing")
    state: Mapped[str] = mapped_column(String(10), default="queued")
    created_by: Mapped[str | None] = mapped_column(String(32))
    created_by_email: Mapped[str | None] = mapped_column(String(320))
    # What the job works on: the CSV text of an import, the request of an adoption;
    # encrypted (an import may carry user pins), read with jobs.service.input_text.
    input_encrypted: Mapped[str] = mapped_column(Text, default="")
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    progress_done: Mapped[int] = mapped_column(default=0)
    progress_total: Mapped[int] = mapped_column(default=0)
    # Counts per row status, and the file-level errors (a file that cannot be read).
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    attempts: Mapped[int] = mapped_column(default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class JobRow(Base):
    """The outcome of one row of a job (1 = the first data row)."""

    __tablename__ = "job_rows"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    row: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str | None] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(10))
    user_id: Mapped[str | None] = mapped_column(String(32))
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
